/**
 * The real graph for the gateway's integration tests: the library and churn subgraphs as
 * processes over a tiny store, gateways as processes (dist/, so build first), and HTTP helpers.
 * Every other subgraph the supergraph names is pointed at a closed port, so a test never talks
 * to a graph someone else left running on the default ports.
 */
import { afterAll, beforeAll } from '@jest/globals';
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import { DEVELOPMENT_JWT_SECRET, findProjectRoot, SUBGRAPH_NAMES, type Role } from '../../src/config';
import { launchGraph, type LaunchedGraph } from '../../src/graph-launcher';
import { freeLoopbackPort } from '../../src/util/ports';
import { tinyLibrary } from '../fixtures/tiny-library';

export const PROJECT_ROOT = findProjectRoot(__dirname);
export const ISSUER = 'shelfmark';
export const AUDIENCE = 'shelfmark-graph';
export const REDIS_URL = 'redis://127.0.0.1:6379';

/** A key prefix no other test run shares, so counters start at zero. */
export function uniquePrefix(label: string): string {
  return `shelfmark-test:${label}:${randomUUID()}:`;
}

/** A port nothing listens on (bound, then released). */
export const closedPort = freeLoopbackPort;

export interface TestGraph {
  graph: LaunchedGraph;
  /** Environment that points a gateway at this graph's subgraphs. */
  gatewayEnv: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

export async function startTestGraph(env: NodeJS.ProcessEnv = {}): Promise<TestGraph> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shelfmark-gateway-'));
  const db = path.join(dir, 'library.db');
  const { store } = await tinyLibrary(60, 30, db);
  await store.close();
  const closed = await closedPort();
  const elsewhere = Object.fromEntries(SUBGRAPH_NAMES.map((name) => [`${name.toUpperCase()}_URL`, `http://127.0.0.1:${closed}/graphql`]));
  const baseEnv: NodeJS.ProcessEnv = {
    ...elsewhere,
    DATABASE_URL: `sqlite:${db}`,
    MODELS_DIR: path.join(dir, 'models'),
    LOG_LEVEL: 'error',
    NODE_ENV: 'test',
    REDIS_URL: '',
    ...env,
  };
  const graph = await launchGraph({ projectRoot: PROJECT_ROOT, subgraphs: ['library', 'churn'], env: baseEnv, logs: 'ignore' });
  // Measured as a graph at rest: churn's warm-up (its first watchlist ranking) has finished.
  await graph.warmed();
  const gatewayEnv: NodeJS.ProcessEnv = { ...baseEnv };
  for (const [name, url] of Object.entries(graph.subgraphUrls)) gatewayEnv[`${name.toUpperCase()}_URL`] = url;
  return {
    graph,
    gatewayEnv,
    stop: async () => {
      await graph.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface GatewayFleet {
  graph(): TestGraph;
  /** One more gateway process over the graph, stopped with the graph after the block. */
  startGateway(env?: NodeJS.ProcessEnv): Promise<GatewayProcess>;
}

/** For a describe block: a test graph before its tests, and every gateway it starts stopped after them. */
export function gatewayFleet(): GatewayFleet {
  let graph: TestGraph | undefined;
  const gateways: GatewayProcess[] = [];
  beforeAll(async () => {
    graph = await startTestGraph();
  }, 120_000);
  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    await graph?.stop();
  });
  const started = () => {
    if (!graph) throw new Error('the test graph has not started');
    return graph;
  };
  return {
    graph: started,
    startGateway: async (env = {}) => {
      const gateway = await startGatewayProcess({ ...started().gatewayEnv, ...env });
      gateways.push(gateway);
      return gateway;
    },
  };
}

export interface GatewayProcess {
  url: string;
  origin: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** One more gateway process (beside the launcher's), with its own environment. */
export function startGatewayProcess(env: NodeJS.ProcessEnv): Promise<GatewayProcess> {
  const child = fork(path.join(PROJECT_ROOT, 'dist', 'src', 'cli', 'gateway.js'), ['--port', '0'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const force = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(force);
        resolve();
      });
      child.kill('SIGTERM');
    });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start within 30 s: ${stderr}`)), 30_000);
    child.on('message', (message: { type?: string; url?: string }) => {
      if (message?.type !== 'listening' || !message.url) return;
      clearTimeout(timer);
      resolve({ url: message.url, origin: new URL(message.url).origin, child, stop });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with code ${code} before listening: ${stderr}`));
    });
  });
}

export interface TokenOptions {
  sub?: string;
  key?: jwt.Secret;
  algorithm?: jwt.Algorithm;
  issuer?: string;
  audience?: string;
  expiresIn?: jwt.SignOptions['expiresIn'];
}

export function token(role: Role, { sub = `test-${role}`, key = DEVELOPMENT_JWT_SECRET, algorithm = 'HS256', issuer = ISSUER, audience = AUDIENCE, expiresIn = '5m' }: TokenOptions = {}): string {
  return jwt.sign({ role }, key, { algorithm, subject: sub, issuer, audience, expiresIn });
}

export interface GraphQLAnswer {
  status: number;
  headers: Headers;
  /** Parsed JSON (or the raw text when not JSON); assertions read it field by field. */
  body: any;
}

export async function post(url: string, body: unknown, bearer?: string, headers: Record<string, string> = {}): Promise<GraphQLAnswer> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON: the test sees the text.
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

/** The value of one Prometheus sample line, or 0 when it is absent. */
export async function metric(origin: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${origin}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}
