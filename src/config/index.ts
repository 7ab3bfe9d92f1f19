/**
 * Shelfmark's configuration: read from the environment once, in this module only, typed, and
 * passed down. Development defaults exist so `npm start` needs nothing set; with
 * NODE_ENV=production every secret must be given and the defaults refuse to run.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

export const SUBGRAPH_NAMES = ['library', 'overdue', 'churn', 'recommendations', 'segmentation', 'demand'] as const;
export type SubgraphName = (typeof SUBGRAPH_NAMES)[number];
export const MODEL_NAMES = ['overdue', 'churn', 'recommendations', 'segmentation', 'demand'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

export const DEFAULT_PORTS: Record<SubgraphName | 'gateway', number> = {
  gateway: 4000,
  library: 4001,
  overdue: 4002,
  churn: 4003,
  recommendations: 4004,
  segmentation: 4005,
  demand: 4006,
};

export const DEVELOPMENT_JWT_SECRET = 'shelfmark-development-secret-not-for-production';
export const DEVELOPMENT_INTERNAL_SECRET = 'shelfmark-development-internal-secret-not-for-production';

/** `circulation` is the library's circulation system: it may send circulation mutations and read nothing else. */
export type Role = 'staff' | 'analyst' | 'partner' | 'circulation';
export const ROLES: readonly Role[] = ['staff', 'analyst', 'partner', 'circulation'];

/** 'stored': the library clock is the stored date, moved by events; 'wall': never behind the real date. */
export type ClockMode = 'stored' | 'wall';

export interface RateLimit {
  max: number;
  windowSeconds: number;
}

export interface GatewayConfig {
  /** Prefix of every Redis key the gateway writes (rate-limit counters, APQ cache). */
  redisKeyPrefix: string;
  /** A Redis command slower than this counts as Redis being down: the gateway never waits longer. */
  redisCommandTimeoutMs: number;
  apqTtlSeconds: number;
  maxDepth: number;
  maxAliases: number;
  maxTokens: number;
  maxDocumentBytes: number;
  maxBodyBytes: number;
  maxBatchOperations: number;
  /** Largest `first` a client may ask for on any list field. */
  maxListSize: number;
  /** Largest estimated number of response nodes (list sizes multiplied along each path). */
  maxEstimatedNodes: number;
  /** How often readiness asks every subgraph; `/health/ready` only reads the last answer. */
  readinessIntervalMs: number;
  /** Gateways sharing the limits: while Redis is unusable each one admits its share of the degraded allowance. */
  instances: number;
  /** Percent of each rate limit that all gateways together may admit while Redis is unusable. */
  degradedPercent: number;
  /** After Redis lost its counts, longest the gateways count in process waiting for all `instances` to write theirs back. */
  rateLimitMergeWaitMs: number;
  /** Consecutive Redis failures or timeouts that open the circuit breaker. */
  redisBreakerFailures: number;
  /** How long an open breaker skips Redis before one probe tries it again. */
  redisBreakerCooldownMs: number;
  /** Largest document APQ registers (larger ones still run, they are only not cached). */
  apqMaxDocumentBytes: number;
  /** Documents one subject may hold in the APQ cache; its least recently used go first. */
  apqMaxPerSubject: number;
  /** Total bytes of documents in the APQ cache; the least recently used go first. */
  apqMaxBytes: number;
  /** `enforce` refuses operations above `maxOperationCost`; `measure` only reports their cost. */
  demandControl: 'enforce' | 'measure';
  /** Largest estimated cost of one operation (objects 1, leaves 0, lists multiplied by their size). */
  maxOperationCost: number;
  /** Each started block of this much cost counts as one request against the rate limit. */
  costPerRequest: number;
  /** Cost points per second each subject's budget refills by, per role (see gateway/cost-rate). */
  costRatePerSecond: Record<Role, number>;
  /** Cost points each subject may spend at once (the bucket's capacity); at least `maxOperationCost`. */
  costBurst: number;
  /** Requests one subject may have in flight on one gateway. */
  maxConcurrentPerSubject: number;
  /** Largest answer the gateway reads from a subgraph. */
  maxSubgraphResponseBytes: number;
  /** On SIGTERM, how long the gateway answers unready (and 503 with `Connection: close`) before it stops. */
  shutdownDelayMs: number;
}

export interface Config {
  nodeEnv: string;
  isProduction: boolean;
  projectRoot: string;
  /** `sqlite:<path>` (embedded default) or `postgres://...`. */
  databaseUrl: string;
  redisUrl: string | undefined;
  modelsDir: string;
  host: string;
  ports: Record<SubgraphName | 'gateway', number>;
  /**
   * <NAME>_URL: each subgraph's GraphQL URL, or a comma-separated list of its replicas' URLs,
   * which the gateway balances over (gateway/replicas).
   */
  subgraphUrls: Record<SubgraphName, readonly string[]>;
  jwt: {
    algorithm: 'HS256' | 'RS256';
    /** HS256 secret or RS256 public key (PEM). */
    verifyKey: string;
    /** Only in development: the key the `token` command signs with. */
    signingKey: string | undefined;
    issuer: string;
    audience: string;
    clockToleranceSeconds: number;
    /** Tokens whose `exp` lies further ahead than this are refused. */
    maxLifetimeSeconds: number;
    usesDevelopmentSecret: boolean;
  };
  /** The gateway signs a short-lived token per request that subgraphs verify. */
  internalSecret: string;
  /** Bearer token `/metrics` asks for; without one, /metrics is open in development and closed in production. */
  metricsToken: string | undefined;
  rateLimits: Record<Role, RateLimit>;
  /** What the gateway accepts from clients, and how it uses Redis. */
  gateway: GatewayConfig;
  /** How long the gateway waits for a subgraph before answering without its fields. */
  subgraphTimeoutMs: number;
  /** How often a model subgraph looks for a newly promoted version. */
  modelReloadIntervalMs: number;
  /** How a model subgraph follows the change records (src/model-runtime/follow). */
  follow: {
    /** How often it reads new change records; on PostgreSQL a NOTIFY also wakes it sooner. */
    intervalMs: number;
    /** The shortest time between two recomputations of a watchlist or the segment overview. */
    rankingRefreshMs: number;
    /**
     * FEATURES_ROLL (on|off, default on): whether the features roll forward when the clock moves.
     * Off holds them at the date the process started on (changes still refresh them): a control for
     * measuring what the daily roll costs, not a setting to serve with.
     */
    roll: boolean;
  };
  /** How the segment overview and the watchlists are served from their background job (src/jobs). */
  aggregates: {
    /** AGGREGATE_FIRST_WAIT_MS: how long a request waits for the first result before AGGREGATE_PENDING; by default 500 ms less than SUBGRAPH_TIMEOUT_MS. */
    firstResultWaitMs: number;
    /** AGGREGATE_CHECK_INTERVAL_MS: how often a subgraph checks whether a result is stale. */
    checkIntervalMs: number;
  };
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** CLOCK: how the library clock moves (see src/circulation/clock). */
  clock: ClockMode;
  /** OTEL_EXPORTER_OTLP_ENDPOINT: OTLP/HTTP base URL spans are exported to; unset or empty, tracing is off. */
  otlpEndpoint: string | undefined;
  /** What the model subgraphs record of every prediction they serve (src/monitoring/prediction-log). */
  predictionLog: PredictionLogConfig;
  /** The live monitor in the library subgraph (src/monitoring/monitor). */
  monitor: MonitorConfig;
  /** Where a model subgraph keeps its features (src/model-runtime/as-of-memo, feature-store). */
  features: FeatureStoreConfig;
}

export interface FeatureStoreConfig {
  /**
   * FEATURE_CACHE_ENTRIES: entities each memo of a model subgraph keeps in process per as-of date
   * (a least-recently-used cache). Memory per process is flat in the library's size: about this
   * many entities' features, not every member's.
   */
  cacheEntries: number;
  /**
   * FEATURE_STORE: `memory` (default; each process computes what its cache misses from the store)
   * or `redis` (a shared online store in REDIS_URL behind the cache, so replicas compute each
   * value once; needs REDIS_URL).
   */
  store: 'memory' | 'redis';
  /** FEATURE_STORE_TTL_SECONDS: how long a value is kept in the shared store. */
  ttlSeconds: number;
  /** FEATURE_STORE_TIMEOUT_MS: a shared-store command slower than this counts as Redis down (computed from the store instead). */
  commandTimeoutMs: number;
}

export interface MonitorConfig {
  /** MONITOR_INTERVAL_MS: how often live quality, drift and outcomes are brought up to date; 0 turns the monitor off. */
  intervalMs: number;
}

export interface PredictionLogConfig {
  /** PREDICTION_LOG=off turns recording off (default on). */
  enabled: boolean;
  /** Most records a process holds in memory before it drops and counts them. */
  capacity: number;
  /** Most records per write to the store. */
  batchSize: number;
  flushIntervalMs: number;
  /** Records older than this many days (wall time) are deleted. */
  retentionDays: number;
  /** How often the retention delete runs. */
  retentionIntervalMs: number;
}

export function findProjectRoot(start: string = __dirname): string {
  let dir = start;
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'schema'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no Shelfmark project (package.json and schema/) above ${start}`);
    dir = parent;
  }
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return value;
}

class ConfigError extends Error {}

/** A comma-separated list of http(s) URLs; undefined when the variable is unset or empty. */
function urlList(env: NodeJS.ProcessEnv, name: string): string[] | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const urls = raw.split(',').map((u) => u.trim()).filter((u) => u !== '');
  for (const url of urls) {
    let protocol: string;
    try {
      protocol = new URL(url).protocol;
    } catch {
      throw new ConfigError(`${name} must be a URL or a comma-separated list of URLs, got "${url}"`);
    }
    if (protocol !== 'http:' && protocol !== 'https:') throw new ConfigError(`${name}: only http and https URLs, got "${url}"`);
  }
  if (new Set(urls).size !== urls.length) throw new ConfigError(`${name} lists the same URL twice: "${raw}"`);
  return urls;
}

/**
 * Flags that npm kept for itself: `npm run token --role staff` (no `--` before the command's
 * flags) hands `--role` to npm, which passes it on only as npm_config_role. Returns those of
 * `names` that npm received, for a hint.
 */
export function flagsTakenByNpm(names: readonly string[], env: NodeJS.ProcessEnv = process.env): string[] {
  return names.filter((name) => env[`npm_config_${name.replace(/-/g, '_')}`] !== undefined);
}

function onOff(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'on') return true;
  if (raw === 'off') return false;
  throw new ConfigError(`${name} must be on or off, got "${raw}"`);
}

/** Most FEATURE_CACHE_ENTRIES: the cache sizes its index arrays for its bound up front (8 bytes an entry per date). */
export const MAX_FEATURE_CACHE_ENTRIES = 5_000_000;

function featureCacheEntries(env: NodeJS.ProcessEnv): number {
  const entries = integer(env, 'FEATURE_CACHE_ENTRIES', 20_000);
  if (entries < 1 || entries > MAX_FEATURE_CACHE_ENTRIES) throw new ConfigError(`FEATURE_CACHE_ENTRIES must be between 1 and ${MAX_FEATURE_CACHE_ENTRIES}, got ${entries}`);
  return entries;
}

function featureStoreKind(raw: string | undefined, redisUrl: string | undefined): FeatureStoreConfig['store'] {
  if (raw === undefined || raw === '' || raw === 'memory') return 'memory';
  if (raw !== 'redis') throw new ConfigError(`FEATURE_STORE must be memory or redis, got "${raw}"`);
  if (!redisUrl) throw new ConfigError('FEATURE_STORE=redis needs REDIS_URL');
  return 'redis';
}

function demandControlMode(raw: string | undefined): GatewayConfig['demandControl'] {
  if (raw === undefined || raw === '' || raw === 'enforce') return 'enforce';
  if (raw === 'measure') return 'measure';
  throw new ConfigError(`GATEWAY_DEMAND_CONTROL must be enforce or measure, got "${raw}"`);
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const nodeEnv = env.NODE_ENV ?? 'development';
  const isProduction = nodeEnv === 'production';
  const projectRoot = env.SHELFMARK_ROOT ?? findProjectRoot();
  const host = env.HOST ?? '127.0.0.1';

  const ports = { ...DEFAULT_PORTS };
  for (const name of Object.keys(ports) as (keyof typeof ports)[]) {
    ports[name] = integer(env, `${name.toUpperCase()}_PORT`, ports[name]);
  }
  const subgraphUrls = Object.fromEntries(
    SUBGRAPH_NAMES.map((name): [SubgraphName, readonly string[]] => [name, urlList(env, `${name.toUpperCase()}_URL`) ?? [`http://${host}:${ports[name]}/graphql`]]),
  ) as Record<SubgraphName, readonly string[]>;

  const publicKey = env.JWT_PUBLIC_KEY;
  const secret = env.JWT_SECRET;
  if (isProduction && !publicKey && !secret) {
    throw new ConfigError('NODE_ENV=production needs JWT_SECRET or JWT_PUBLIC_KEY; the development secret is refused');
  }
  if (isProduction && !env.INTERNAL_JWT_SECRET) {
    throw new ConfigError('NODE_ENV=production needs INTERNAL_JWT_SECRET for gateway-to-subgraph identity');
  }
  const usesDevelopmentSecret = !publicKey && !secret;
  const jwt: Config['jwt'] = {
    algorithm: publicKey ? 'RS256' : 'HS256',
    verifyKey: publicKey ?? secret ?? DEVELOPMENT_JWT_SECRET,
    signingKey: publicKey ? env.JWT_PRIVATE_KEY : (secret ?? DEVELOPMENT_JWT_SECRET),
    issuer: env.JWT_ISSUER ?? 'shelfmark',
    audience: env.JWT_AUDIENCE ?? 'shelfmark-graph',
    clockToleranceSeconds: integer(env, 'JWT_CLOCK_TOLERANCE_SECONDS', 5),
    maxLifetimeSeconds: integer(env, 'JWT_MAX_LIFETIME_SECONDS', 24 * 3600),
    usesDevelopmentSecret,
  };

  const rateLimits: Record<Role, RateLimit> = {
    staff: { max: integer(env, 'RATE_LIMIT_STAFF_MAX', 100_000), windowSeconds: integer(env, 'RATE_LIMIT_STAFF_WINDOW_SECONDS', 3600) },
    analyst: { max: integer(env, 'RATE_LIMIT_ANALYST_MAX', 20_000), windowSeconds: integer(env, 'RATE_LIMIT_ANALYST_WINDOW_SECONDS', 3600) },
    partner: { max: integer(env, 'RATE_LIMIT_PARTNER_MAX', 1000), windowSeconds: integer(env, 'RATE_LIMIT_PARTNER_WINDOW_SECONDS', 3600) },
    // A busy circulation system sends hundreds of events a second.
    circulation: { max: integer(env, 'RATE_LIMIT_CIRCULATION_MAX', 2_000_000), windowSeconds: integer(env, 'RATE_LIMIT_CIRCULATION_WINDOW_SECONDS', 3600) },
  };

  const logLevel = (env.LOG_LEVEL ?? 'info') as Config['logLevel'];
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) throw new ConfigError(`LOG_LEVEL must be debug, info, warn or error, got "${logLevel}"`);
  const clock = (env.CLOCK || 'stored') as ClockMode;
  if (clock !== 'stored' && clock !== 'wall') throw new ConfigError(`CLOCK must be stored or wall, got "${clock}"`);

  return {
    nodeEnv,
    isProduction,
    projectRoot,
    databaseUrl: env.DATABASE_URL ?? `sqlite:${path.join(projectRoot, 'data', 'shelfmark.db')}`,
    redisUrl: env.REDIS_URL || undefined,
    modelsDir: env.MODELS_DIR ?? path.join(projectRoot, 'models'),
    host,
    ports,
    subgraphUrls,
    jwt,
    internalSecret: env.INTERNAL_JWT_SECRET ?? DEVELOPMENT_INTERNAL_SECRET,
    metricsToken: env.METRICS_TOKEN || undefined,
    rateLimits,
    gateway: {
      redisKeyPrefix: env.REDIS_KEY_PREFIX ?? 'shelfmark:',
      redisCommandTimeoutMs: integer(env, 'REDIS_COMMAND_TIMEOUT_MS', 500),
      apqTtlSeconds: integer(env, 'APQ_TTL_SECONDS', 86_400),
      maxDepth: integer(env, 'GATEWAY_MAX_DEPTH', 12),
      maxAliases: integer(env, 'GATEWAY_MAX_ALIASES', 30),
      maxTokens: integer(env, 'GATEWAY_MAX_TOKENS', 10_000),
      maxDocumentBytes: integer(env, 'GATEWAY_MAX_DOCUMENT_BYTES', 64 * 1024),
      maxBodyBytes: integer(env, 'GATEWAY_MAX_BODY_BYTES', 256 * 1024),
      maxBatchOperations: integer(env, 'GATEWAY_MAX_BATCH_OPERATIONS', 10),
      maxListSize: integer(env, 'GATEWAY_MAX_LIST_SIZE', 500),
      maxEstimatedNodes: integer(env, 'GATEWAY_MAX_ESTIMATED_NODES', 50_000),
      readinessIntervalMs: Math.max(100, integer(env, 'GATEWAY_READINESS_INTERVAL_MS', 2000)),
      instances: Math.max(1, integer(env, 'GATEWAY_INSTANCES', 1)),
      degradedPercent: Math.min(100, integer(env, 'RATE_LIMIT_DEGRADED_PERCENT', 10)),
      rateLimitMergeWaitMs: integer(env, 'RATE_LIMIT_MERGE_WAIT_MS', 10_000),
      redisBreakerFailures: Math.max(1, integer(env, 'REDIS_BREAKER_FAILURES', 3)),
      redisBreakerCooldownMs: integer(env, 'REDIS_BREAKER_COOLDOWN_MS', 5000),
      apqMaxDocumentBytes: integer(env, 'APQ_MAX_DOCUMENT_BYTES', 16 * 1024),
      apqMaxPerSubject: integer(env, 'APQ_MAX_PER_SUBJECT', 100),
      apqMaxBytes: integer(env, 'APQ_MAX_BYTES', 8 * 1024 * 1024),
      demandControl: demandControlMode(env.GATEWAY_DEMAND_CONTROL),
      maxOperationCost: integer(env, 'GATEWAY_MAX_OPERATION_COST', 10_000),
      costPerRequest: Math.max(1, integer(env, 'GATEWAY_COST_PER_REQUEST', 1000)),
      costRatePerSecond: {
        // Staff run the dashboards: a 100-member page (cost 2,000) as fast as one subject's 4 requests in flight go.
        staff: Math.max(1, integer(env, 'GATEWAY_COST_RATE_STAFF_PER_SECOND', 200_000)),
        // An analyst: scenario 1's query (cost 19) at 100/s, or one 100-member page a second.
        analyst: Math.max(1, integer(env, 'GATEWAY_COST_RATE_ANALYST_PER_SECOND', 2000)),
        partner: Math.max(1, integer(env, 'GATEWAY_COST_RATE_PARTNER_PER_SECOND', 1000)),
        circulation: Math.max(1, integer(env, 'GATEWAY_COST_RATE_CIRCULATION_PER_SECOND', 20_000)),
      },
      costBurst: integer(env, 'GATEWAY_COST_BURST', integer(env, 'GATEWAY_MAX_OPERATION_COST', 10_000)),
      maxConcurrentPerSubject: Math.max(1, integer(env, 'GATEWAY_MAX_CONCURRENT_PER_SUBJECT', 4)),
      maxSubgraphResponseBytes: integer(env, 'GATEWAY_MAX_SUBGRAPH_RESPONSE_BYTES', 16 * 1024 * 1024),
      shutdownDelayMs: integer(env, 'GATEWAY_SHUTDOWN_DELAY_MS', isProduction ? 5000 : 0),
    },
    subgraphTimeoutMs: integer(env, 'SUBGRAPH_TIMEOUT_MS', 3000),
    modelReloadIntervalMs: integer(env, 'MODEL_RELOAD_INTERVAL_MS', 1000),
    follow: {
      intervalMs: Math.max(10, integer(env, 'FOLLOW_INTERVAL_MS', 200)),
      rankingRefreshMs: Math.max(0, integer(env, 'RANKING_REFRESH_INTERVAL_MS', 30_000)),
      roll: onOff(env, 'FEATURES_ROLL', true),
    },
    aggregates: {
      // Just inside the gateway's deadline, so the client meets AGGREGATE_PENDING, not a timeout.
      firstResultWaitMs: integer(env, 'AGGREGATE_FIRST_WAIT_MS', Math.max(0, integer(env, 'SUBGRAPH_TIMEOUT_MS', 3000) - 500)),
      checkIntervalMs: Math.max(10, integer(env, 'AGGREGATE_CHECK_INTERVAL_MS', 1000)),
    },
    logLevel,
    clock,
    otlpEndpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT || undefined,
    predictionLog: {
      enabled: onOff(env, 'PREDICTION_LOG', true),
      capacity: Math.max(1, integer(env, 'PREDICTION_LOG_CAPACITY', 10_000)),
      batchSize: Math.max(1, integer(env, 'PREDICTION_LOG_BATCH_SIZE', 500)),
      flushIntervalMs: Math.max(1, integer(env, 'PREDICTION_LOG_FLUSH_INTERVAL_MS', 1000)),
      retentionDays: Math.max(1, integer(env, 'PREDICTION_LOG_RETENTION_DAYS', 90)),
      retentionIntervalMs: Math.max(1000, integer(env, 'PREDICTION_LOG_RETENTION_INTERVAL_MS', 3_600_000)),
    },
    monitor: { intervalMs: Math.max(0, integer(env, 'MONITOR_INTERVAL_MS', 60_000)) },
    features: {
      cacheEntries: featureCacheEntries(env),
      store: featureStoreKind(env.FEATURE_STORE, env.REDIS_URL || undefined),
      ttlSeconds: Math.max(1, integer(env, 'FEATURE_STORE_TTL_SECONDS', 2 * 86_400)),
      commandTimeoutMs: Math.max(1, integer(env, 'FEATURE_STORE_TIMEOUT_MS', 200)),
    },
  };
}
