/** Starts one subgraph alone: `node dist/src/cli/subgraph.js <name> [--port N]`. */
import 'reflect-metadata';
import { loadConfig, SUBGRAPH_NAMES } from '../config';
import { requireLibrary } from '../store';
import { subgraphEntry } from '../../subgraphs';
import { parseFlags } from './flags';
import { serveUntilSignal } from './serve';

const USAGE = `usage: node dist/src/cli/subgraph.js <${SUBGRAPH_NAMES.join('|')}> [--port N]
  Starts one subgraph on its port (default from config: LIBRARY_PORT, CHURN_PORT, ...).
  Stops cleanly on SIGINT/SIGTERM.`;

async function main(): Promise<void> {
  const { positionals, flags } = parseFlags(process.argv.slice(2), { port: 'number' }, USAGE);
  const name = positionals[0];
  if (!name) throw new Error(`which subgraph?\n${USAGE}`);
  const config = loadConfig();
  await requireLibrary(config.databaseUrl);
  const running = await subgraphEntry(name).start(config, flags.port);
  serveUntilSignal(name, running);
}

main().catch((error: Error) => {
  process.stderr.write(`subgraph: ${error.message}\n`);
  process.exit(1);
});
