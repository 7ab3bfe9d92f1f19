/**
 * Generations of the counts in Redis: how gateways notice that Redis lost its rate-limit windows
 * (a restart without persistence, a flush, an eviction) and agree on when counting there is safe
 * again.
 *
 * Contract: a generation is an id Redis holds under `<prefix>rate:generation`, with the time it
 * was created and, once it is open, `open = 1`. A gateway counts in Redis only in a generation it
 * has merged into (written back every request it admitted that is still in its window) and found
 * open; the take script checks the id on every count, so a Redis that lost the generation counts
 * nothing more until gateways merge into a new one. A generation opens once `instances` gateways
 * have merged into it, or once `waitMs` have passed since it was created (a gateway that is gone
 * for good must not hold the others back forever). Until then every gateway keeps counting its
 * degraded share in process. So no gateway admits from a window that is missing another live
 * gateway's requests.
 */
import { luaScript, evalScript } from '../redis';
import type { RedisRun } from './counter';

/** The hash that holds the current generation. */
export function generationKey(keyPrefix: string): string {
  return `${keyPrefix}rate:generation`;
}

/** The set of gateways that merged into `generation`. */
function mergedKey(keyPrefix: string, generation: string): string {
  return `${keyPrefix}rate:merged:${generation}`;
}

const NOW_MS = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** KEYS[1] the generation hash; ARGV a new id. Answers the current generation, creating it (with ARGV[1]) when Redis holds none. */
const JOIN = luaScript(`
local id = redis.call('HGET', KEYS[1], 'id')
if id then return id end
${NOW_MS}
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'created', now)
return ARGV[1]
`);

/** How long a merged set outlives its generation's opening; only the opening reads it. */
const MERGED_TTL_MS = 24 * 3600 * 1000;

/**
 * KEYS[1] the generation hash, KEYS[2] its merged set; ARGV generation, gateway id, instances,
 * waitMs. Records the gateway as merged and answers 1 when the generation is open, 0 while it
 * waits for more gateways, -1 when Redis no longer holds it.
 */
const MERGED = luaScript(`
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return -1 end
redis.call('SADD', KEYS[2], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ${MERGED_TTL_MS})
if redis.call('HGET', KEYS[1], 'open') == '1' then return 1 end
${NOW_MS}
local created = tonumber(redis.call('HGET', KEYS[1], 'created')) or 0
if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[3]) or now - created >= tonumber(ARGV[4]) then
  redis.call('HSET', KEYS[1], 'open', '1')
  return 1
end
return 0
`);

export type MergeState = 'open' | 'waiting' | 'lost';

export interface OpeningRule {
  /** Gateways that must merge before a new generation opens. */
  instances: number;
  /** Longest a new generation waits for them. */
  waitMs: number;
}

export class CountGenerations {
  constructor(
    private readonly run: RedisRun,
    private readonly keyPrefix: string,
    private readonly opening: OpeningRule,
  ) {}

  /** The generation Redis holds, a new one (`candidate`) when it holds none. */
  async join(candidate: string): Promise<string> {
    const id = await this.run((client) => evalScript(client, JOIN, [generationKey(this.keyPrefix)], [candidate]));
    if (typeof id !== 'string') throw new Error(`rate-limit generation script answered ${JSON.stringify(id)}, expected an id`);
    return id;
  }

  /** Records that `gateway` merged into `generation`; call it only after its requests are back in Redis. */
  async merged(generation: string, gateway: string): Promise<MergeState> {
    const keys = [generationKey(this.keyPrefix), mergedKey(this.keyPrefix, generation)];
    const state = Number(await this.run((client) => evalScript(client, MERGED, keys, [generation, gateway, this.opening.instances, this.opening.waitMs])));
    if (state === 1) return 'open';
    if (state === 0) return 'waiting';
    if (state === -1) return 'lost';
    throw new Error(`rate-limit merge script answered ${state}, expected 1, 0 or -1`);
  }
}
