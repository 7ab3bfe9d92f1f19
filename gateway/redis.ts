/**
 * The gateway's one Redis connection (rate-limit counters, APQ cache), set up so that Redis
 * being slow or gone never holds a request: no offline queue (a command fails at once while
 * disconnected), no retries per command, a command timeout, and reconnection in the background.
 */
import { Redis } from 'ioredis';
import type { Logger } from '../src/logging';

export interface GatewayRedis {
  client: Redis;
  /** True while commands can be sent; callers skip Redis (and fall back) otherwise. */
  isReady(): boolean;
  close(): Promise<void>;
}

export interface GatewayRedisOptions {
  url: string;
  commandTimeoutMs: number;
  logger: Logger;
  /** How long start-up waits for a first connection before serving with the fallbacks. */
  connectWaitMs?: number;
}

export async function connectGatewayRedis({ url, commandTimeoutMs, logger, connectWaitMs = 2000 }: GatewayRedisOptions): Promise<GatewayRedis> {
  const client = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: commandTimeoutMs,
    connectTimeout: Math.max(commandTimeoutMs, 1000),
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  });
  let reportedDown = false;
  client.on('error', (error: Error) => {
    // ioredis emits an error per failed reconnect; one line per outage is enough.
    if (!reportedDown) logger.warn({ err: error.message }, 'Redis unreachable; rate limits and APQ use in-process fallbacks until it is back');
    reportedDown = true;
  });
  client.on('ready', () => {
    if (reportedDown) logger.info('Redis reachable again');
    reportedDown = false;
  });

  await new Promise<void>((resolve) => {
    if (client.status === 'ready') return resolve();
    const timer = setTimeout(resolve, connectWaitMs);
    client.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });

  return {
    client,
    isReady: () => client.status === 'ready',
    close: async () => {
      client.disconnect();
    },
  };
}
