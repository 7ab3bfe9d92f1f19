/**
 * The compose layout without a Docker engine: docker-compose.yml's services run as local
 * processes (see test/compose/layout.ts), in the order their depends_on conditions give, the
 * one-shot init services to a successful exit; then the graph answers a member query through
 * the compose gateway's command, with a token from the compose token service. Prometheus'
 * configuration is checked with promtool, Grafana's dashboard against the code's metric names.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { SUBGRAPH_NAMES } from '../src/config';
import { ownSchema, postgresUnreachableReason } from './fixtures/postgres';
import { closedPort } from './gateway/helpers';
import {
  dependencies,
  exited,
  imageEnvironment,
  localProcess,
  projectServices,
  readCompose,
  readEnvFile,
  run,
  type ComposeFile,
  type Running,
} from './compose/layout';

const ROOT = path.join(__dirname, '..');
/** A small library keeps the load short; everything else is .env.example as shipped. */
const VARIABLES: Record<string, string> = { ...readEnvFile(path.join(ROOT, '.env.example')), LIBRARY_MEMBERS: '400' };
const compose: ComposeFile = readCompose(ROOT, VARIABLES);

describe('docker-compose.yml', () => {
  it('runs every subgraph and the gateway from the project image, after the schema and the library are loaded', () => {
    for (const name of [...SUBGRAPH_NAMES, 'gateway']) {
      expect(compose.services[name]?.build).toBe('.');
      expect(compose.services[name]?.environment?.REDIS_URL).toBe('redis://redis:6379');
      expect(dependencies(compose.services[name]!).load).toBe('service_completed_successfully');
    }
    expect(dependencies(compose.services.load!).migrate).toBe('service_completed_successfully');
    expect(compose.services.load?.command).toEqual(['node', 'dist/src/cli/generate.js', '--if-empty', '--members', '400']);
    expect(compose.services.redis?.command).toEqual(expect.arrayContaining(['--appendonly', 'yes']));
    expect(compose.services.postgres?.ports).toEqual(['127.0.0.1:5433:5432']);
  });

  it('can run several replicas of each subgraph (`--scale`): none publishes a port or fixes its container name', () => {
    for (const name of SUBGRAPH_NAMES) {
      const service = compose.services[name] as Record<string, unknown>;
      expect(service.ports).toBeUndefined();
      expect(service.container_name).toBeUndefined();
    }
  });

  it('points the gateway at every subgraph by service name', () => {
    const env = compose.services.gateway!.environment!;
    for (const name of SUBGRAPH_NAMES) expect(env[`${name.toUpperCase()}_URL`]).toMatch(new RegExp(`^http://${name}:\\d+/graphql$`));
  });

  it('names in Grafana\'s dashboard only metrics the code exports', () => {
    const dashboard = JSON.parse(readFileSync(path.join(ROOT, 'monitoring/grafana/dashboards/shelfmark.json'), 'utf8')) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    const sources = ['src/metrics/index.ts', 'gateway/metrics.ts'].map((f) => readFileSync(path.join(ROOT, f), 'utf8')).join('\n');
    const exported = new Set([...sources.matchAll(/name: '([a-z_]+)'/g)].map((m) => m[1]!));
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(6);
    for (const panel of dashboard.panels) {
      expect(panel.targets.length).toBeGreaterThan(0);
      for (const { expr } of panel.targets) {
        // What is left of the expression without label sets, ranges, groupings and functions: metric names.
        const bare = expr.replace(/\{[^}]*\}|\[[^\]]*\]|\b(by|without) \([^)]*\)|\b[a-z_]+\(/g, ' ');
        const names = [...bare.matchAll(/\b[a-z]+(?:_[a-z]+)+\b/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ''));
        expect(names.length).toBeGreaterThan(0);
        for (const name of names) expect({ panel: panel.title, name, exported: exported.has(name) }).toEqual({ panel: panel.title, name, exported: true });
      }
    }
    for (const file of readdirSync(path.join(ROOT, 'monitoring/grafana/provisioning/datasources'))) {
      const provisioned = parse(readFileSync(path.join(ROOT, 'monitoring/grafana/provisioning/datasources', file), 'utf8')) as { datasources: { uid: string; url: string }[] };
      expect(provisioned.datasources[0]).toMatchObject({ uid: 'prometheus', url: 'http://prometheus:9090' });
    }
  });

  it('gives Prometheus a configuration promtool accepts, the alert rules and every compose service as a target', () => {
    const prometheus = compose.services.prometheus!;
    const targets = parse(readFileSync(path.join(ROOT, 'monitoring/targets/compose.yml'), 'utf8')) as { targets: string[] }[];
    const expected = ['gateway', ...SUBGRAPH_NAMES].map((name) => {
      const port = compose.services[name]!.command!.at(-1);
      return `${name}:${port}`;
    });
    expect(targets[0]?.targets.sort()).toEqual(expected.sort());
    const configs = (parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8')) as { configs: Record<string, { content: string }> }).configs;
    expect(configs.metrics_token?.content).toBe('${METRICS_TOKEN:?set METRICS_TOKEN}');
    expect((prometheus as { configs?: unknown }).configs).toEqual([{ source: 'metrics_token', target: '/etc/prometheus/metrics-token' }]);
    expect(prometheus.volumes).toEqual(expect.arrayContaining(['./monitoring/targets/compose.yml:/etc/prometheus/targets/graph.yml:ro', './monitoring/alerts.yml:/etc/prometheus/alerts.yml:ro']));
    if (spawnSync('promtool', ['--version']).error) {
      console.warn('skipping promtool check config: promtool is not installed (Debian package prometheus)');
      return;
    }
    const checked = execFileSync('promtool', ['check', 'config', path.join(ROOT, 'monitoring/prometheus.yml')], { encoding: 'utf8' });
    expect(checked).toContain('SUCCESS');
  });
});

const postgresMissing = postgresUnreachableReason('the compose stack as local processes');

(postgresMissing ? describe.skip : describe)('docker compose up, as local processes', () => {
  const schema = `compose_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const running: Running[] = [];
  const ports = new Map<string, number>();
  let database: Awaited<ReturnType<typeof ownSchema>>;
  let base: Record<string, string>;
  let mapUrl: (value: string) => string;

  function start(name: string): Running {
    const { argv, env } = localProcess(compose.services[name]!, base, mapUrl, ROOT, ports);
    const process = run(argv, env, ROOT);
    running.push(process);
    return process;
  }

  async function ready(name: string, url: string, process: Running): Promise<void> {
    for (let attempt = 0; attempt < 600; attempt += 1) {
      if (process.child.exitCode !== null) throw new Error(`${name} exited ${process.child.exitCode}:\n${process.output()}`);
      const status = await fetch(url).then((r) => r.status, () => 0);
      if (status === 200) return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`${name} not ready at ${url}:\n${process.output()}`);
  }

  beforeAll(async () => {
    database = await ownSchema(schema);
    for (const name of ['gateway', ...SUBGRAPH_NAMES]) ports.set(compose.services[name]!.command!.at(-1)!, await closedPort());
    const prefix = `shelfmark-test:compose:${randomUUID()}:`;
    mapUrl = (value) => {
      if (value.startsWith('postgres://')) return database.url;
      if (value.startsWith('redis://redis:')) return 'redis://127.0.0.1:6379';
      return value.replace(/\/\/([a-z]+):(\d+)/g, (whole, host: string, port: string) => (compose.services[host] ? `//127.0.0.1:${ports.get(port) ?? port}` : whole));
    };
    base = { ...imageEnvironment(ROOT), HOST: '127.0.0.1', REDIS_KEY_PREFIX: prefix, LOG_LEVEL: 'warn' };
  }, 30_000);

  afterAll(async () => {
    for (const process of running) if (process.child.exitCode === null) process.child.kill('SIGTERM');
    await Promise.all(running.map(exited));
    await database?.drop();
  }, 30_000);

  it('loads the library with the one-shot services, serves it, and answers a member query through the gateway', async () => {
    const services = projectServices(compose).filter((name) => !compose.services[name]!.profiles);
    const oneShots = services.filter((name) => compose.services[name]!.restart === 'no');
    expect(oneShots).toEqual(['migrate', 'load']);
    // An empty store: a subgraph refuses in one line instead of crash-looping on SQL errors.
    const early = start('churn');
    expect(await exited(early)).toBe(1);
    expect(early.output().trim().split('\n')).toEqual([expect.stringMatching(/^subgraph: .* holds no library yet: load it first/)]);
    for (const name of oneShots) {
      for (const [dependency, condition] of Object.entries(dependencies(compose.services[name]!))) {
        if (condition === 'service_completed_successfully') expect(oneShots.indexOf(dependency)).toBeLessThan(oneShots.indexOf(name));
      }
      const process = start(name);
      const code = await exited(process);
      expect({ name, code, output: code === 0 ? '' : process.output() }).toEqual({ name, code: 0, output: '' });
    }
    // Run again, as every `up` does: the load leaves the loaded library alone.
    const again = start('load');
    expect(await exited(again)).toBe(0);
    expect(again.output()).toContain('a library is loaded already');

    const servers = services.filter((name) => !oneShots.includes(name));
    const gateway = servers.find((name) => name === 'gateway')!;
    const subgraphs = servers.filter((name) => name !== gateway);
    expect(subgraphs.sort()).toEqual([...SUBGRAPH_NAMES].sort());
    await Promise.all(subgraphs.map((name) => ready(name, `http://127.0.0.1:${ports.get(compose.services[name]!.command!.at(-1)!)}/health/ready`, start(name))));
    const gatewayPort = ports.get(compose.services.gateway!.command!.at(-1)!)!;
    await ready('gateway', `http://127.0.0.1:${gatewayPort}/health/ready`, start('gateway'));

    const tokenService = compose.services.token!;
    expect(tokenService.profiles).toEqual(['tools']);
    const token = start('token');
    expect(await exited(token)).toBe(0);
    const response = await fetch(`http://127.0.0.1:${gatewayPort}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token.output().trim()}` },
      // The README's compose example, verbatim.
      body: JSON.stringify({ query: '{ members(first: 3) { totalCount nodes { id churnRisk { probability } } } }' }),
    });
    const body = (await response.json()) as { data?: { members: { totalCount: number; nodes: { id: string; churnRisk: { probability: number } }[] } }; errors?: unknown };
    expect(body.errors).toBeUndefined();
    expect(response.status).toBe(200);
    expect(body.data?.members.totalCount).toBe(400);
    expect(body.data?.members.nodes).toHaveLength(3);
    for (const node of body.data?.members.nodes ?? []) expect(node.churnRisk.probability).toBeGreaterThanOrEqual(0);

    // What Prometheus scrapes: every process's /metrics, with the stack's METRICS_TOKEN only.
    for (const name of ['gateway', ...subgraphs]) {
      const metrics = `http://127.0.0.1:${ports.get(compose.services[name]!.command!.at(-1)!)}/metrics`;
      expect((await fetch(metrics)).status).toBe(401);
      const scraped = await fetch(metrics, { headers: { authorization: `Bearer ${VARIABLES.METRICS_TOKEN}` } });
      expect({ name, status: scraped.status }).toEqual({ name, status: 200 });
      expect(await scraped.text()).toContain('http_request_duration_seconds');
    }
  }, 600_000);
});
