/**
 * A Redis server of the test's own, on a free loopback port, for tests that kill, hang or restart
 * Redis: the machine's shared Redis is never touched. No persistence, so a restart comes back
 * empty (as a Redis without AOF does).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { Redis } from 'ioredis';
import { closedPort } from './helpers';

export interface OwnRedis {
  url: string;
  port: number;
  /** `kill -9`. */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty. */
  restart(): Promise<void>;
  /** SIGSTOP: the server keeps its connections open and answers nothing. */
  hang(): void;
  /** SIGCONT. */
  resume(): void;
  client(): Redis;
  stop(): Promise<void>;
}

async function waitForPing(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      await probe.connect();
      await probe.ping();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer within 10 s: ${(error as Error).message}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      probe.disconnect();
    }
  }
}

/** On SHELFMARK_TEST_REDIS_PORT when set (a machine shared by several runs gives each its own range), else a free port. */
export async function startOwnRedis(): Promise<OwnRedis> {
  const port = Number(process.env.SHELFMARK_TEST_REDIS_PORT) || (await closedPort());
  let child: ChildProcess | undefined;
  const clients: Redis[] = [];
  const launch = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await waitForPing(port);
  };
  const kill = () =>
    new Promise<void>((resolve) => {
      const running = child;
      if (!running || running.exitCode !== null || running.signalCode !== null) return resolve();
      running.once('exit', () => resolve());
      running.kill('SIGCONT');
      running.kill('SIGKILL');
    });
  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill,
    restart: launch,
    hang: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    client: () => {
      const client = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
      clients.push(client);
      return client;
    },
    stop: async () => {
      for (const client of clients) client.disconnect();
      await kill();
    },
  };
}

/** A door in front of a Redis: a loopback port that forwards to it while open, and cuts every connection while shut. */
export interface RedisDoor {
  url: string;
  /** Cuts the connections through the door and refuses new ones: its users cannot reach Redis, others still can. */
  shut(): void;
  open(): void;
  close(): Promise<void>;
}

export async function redisDoor(target: number): Promise<RedisDoor> {
  let shut = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (shut) {
      client.destroy();
      return;
    }
    const pair = [client, net.connect(target, '127.0.0.1')] as const;
    for (const socket of pair) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        sockets.delete(socket);
        for (const end of pair) end.destroy();
      });
    }
    pair[0].pipe(pair[1]);
    pair[1].pipe(pair[0]);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`,
    shut: () => {
      shut = true;
      for (const socket of sockets) socket.destroy();
    },
    open: () => {
      shut = false;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
