/**
 * The runner with Redis: one BullMQ queue per subgraph. `request()` adds a job deduplicated by
 * the result's name (one waiting behind one running at most, whichever replica asked); the
 * worker in every replica takes jobs in turn, and the one that computes stores the result
 * under `<prefix>result:<queue>:<name>`, where every replica reads it. A replica that dies
 * mid-run leaves a stalled job, which BullMQ hands to another worker.
 *
 * Redis unreachable: `request()` is logged and dropped (the next one asks again), and
 * `latest()` answers the last result this process read.
 */
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { BackgroundResult, BackgroundResults, BackgroundResultsOptions, Computed } from './index';

export function openBullmqResults({ redisUrl, keyPrefix, queue: queueName, logger }: BackgroundResultsOptions & { redisUrl: string }): BackgroundResults {
  // BullMQ's blocking worker connection must retry forever; reads of results fail fast instead.
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null, lazyConnect: true });
  const reads = new Redis(redisUrl, { maxRetriesPerRequest: 1, commandTimeout: 1000, lazyConnect: true });
  for (const client of [connection, reads]) client.on('error', (error: Error) => logger.debug({ err: error.message }, 'background results: Redis error'));
  const prefix = `${keyPrefix}bull`;
  const queue = new Queue(queueName, { connection, prefix });
  // The same queue on the connection that fails fast, for reads made while answering a request.
  const lookups = new Queue(queueName, { connection: reads, prefix });
  const computations = new Map<string, () => Promise<unknown>>();
  const resultKey = (name: string) => `${keyPrefix}result:${queueName}:${name}`;

  const worker = new Worker(
    queueName,
    async (job) => {
      const compute = computations.get(job.name);
      if (!compute) throw new Error(`no result named ${job.name} is defined in this process`);
      const started = Date.now();
      const computed: Computed<unknown> = { value: await compute(), computedAt: new Date().toISOString() };
      await connection.set(resultKey(job.name), JSON.stringify(computed));
      logger.info({ result: job.name, queue: queueName, ms: Date.now() - started }, 'background result computed');
    },
    { connection, prefix, concurrency: 1 },
  );
  worker.on('failed', (job, error) => logger.warn({ result: job?.name, err: error.message }, 'computing a background result failed; the previous one keeps answering'));
  worker.on('error', (error) => logger.debug({ err: error.message }, 'background results: worker error'));

  const define = <T>(name: string, compute: () => Promise<T>): BackgroundResult<T> => {
    computations.set(name, compute);
    let lastRead: Computed<T> | undefined;
    return {
      request: () => {
        queue
          .add(name, {}, { deduplication: { id: name, keepLastIfActive: true }, removeOnComplete: true, removeOnFail: 20 })
          .catch((error: Error) => logger.warn({ result: name, err: error.message }, 'could not queue a background result; the next request asks again'));
      },
      latest: async () => {
        try {
          const stored = await reads.get(resultKey(name));
          // Stored by this same module's worker, from a value of the same computation.
          if (stored) lastRead = JSON.parse(stored) as Computed<T>;
        } catch (error) {
          logger.debug({ result: name, err: (error as Error).message }, 'reading a background result from Redis failed; answering the last one read');
        }
        return lastRead;
      },
      // A job's deduplication id lives from its request until the job completes or fails.
      pending: async () => {
        try {
          return (await lookups.getDeduplicationJobId(name)) !== null;
        } catch (error) {
          logger.debug({ result: name, err: (error as Error).message }, 'reading whether a background result is queued failed; answering not queued');
          return false;
        }
      },
    };
  };

  return {
    define,
    runner: 'bullmq',
    close: async () => {
      await worker.close();
      await Promise.all([queue.close(), lookups.close()]);
      await Promise.all([connection.quit().catch(() => undefined), reads.quit().catch(() => undefined)]);
    },
  };
}
