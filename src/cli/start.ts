/**
 * `npm start`: generates the default library on first run, then starts every subgraph and the
 * gateway on this machine. Ctrl-C stops them all.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../config';
import { loadSupergraph, subgraphsIn } from '../../gateway/subgraphs';
import { launchGraph } from '../graph-launcher';
import { sqlitePath } from '../store';
import { parseFlags } from './flags';

const USAGE = `usage: npm start
  Builds the embedded data set on first run (data/shelfmark.db; BENCHMARKS.md gives measured
  start-up times), then starts every subgraph (:4001-:4006) and the gateway (:4000), and prints
  how long it took. Ctrl-C stops everything.
  Environment: DATABASE_URL, REDIS_URL, MODELS_DIR, GATEWAY_PORT, <SUBGRAPH>_PORT, LOG_LEVEL.`;

function runGenerate(root: string, dbPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(root, 'dist', 'src', 'cli', 'generate.js'), '--db', dbPath], { stdio: 'inherit' });
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`generating the library failed (exit code ${code})`))));
  });
}

async function main(): Promise<void> {
  parseFlags(process.argv.slice(2), {}, USAGE);
  const started = Date.now();
  const config = loadConfig();
  const file = sqlitePath(config.databaseUrl);
  if (file && !existsSync(file)) {
    process.stderr.write(`No library at ${file} yet: generating the default simulated library first.\n`);
    await runGenerate(config.projectRoot, file);
  }
  const subgraphs = subgraphsIn(loadSupergraph(config));
  const graph = await launchGraph({ projectRoot: config.projectRoot, subgraphs, ports: config.ports, logs: 'inherit' });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  process.stderr.write(
    [
      '',
      `Shelfmark is ready in ${seconds} s.`,
      ...subgraphs.map((name) => `  ${name.padEnd(16)} ${graph.subgraphUrls[name]}`),
      `  ${'gateway'.padEnd(16)} ${graph.gatewayUrl}   (GraphiQL: http://localhost:${config.ports.gateway}/)`,
      '',
      'Try it:',
      '  TOKEN=$(npm run -s token -- --role staff)',
      `  curl -s ${graph.gatewayUrl} -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \\`,
      `    -d '{"query":"{ members(first: 3) { totalCount nodes { id name churnRisk { probability level } } } }"}'`,
      '',
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    process.stderr.write('Stopping Shelfmark...\n');
    await graph.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
  for (const [name, child] of graph.processes) {
    child.once('exit', (code, signal) => {
      // Ctrl-C in a terminal signals the whole process group: the children may exit before this
      // process has handled its own SIGINT, so an exit by signal, or one followed shortly by our
      // own stop, is not news.
      if (signal === 'SIGINT' || signal === 'SIGTERM') return;
      setTimeout(() => {
        if (!stopping) process.stderr.write(`${name} exited (code ${code}); the graph answers without it until restarted.\n`);
      }, 500).unref();
    });
  }
}

main().catch((error: Error) => {
  process.stderr.write(`start: ${error.message}\n`);
  process.exit(1);
});
