/** Starts the gateway alone: `node dist/src/cli/gateway.js [--port N]` (subgraph URLs from config). */
import { loadConfig } from '../config';
import { startGateway } from '../../gateway';
import { parseFlags } from './flags';
import { serveUntilSignal } from './serve';

const USAGE = `usage: node dist/src/cli/gateway.js [--port N]
  Starts the gateway on :4000 (GATEWAY_PORT) in front of the subgraphs named in schema/supergraph.graphql,
  at LIBRARY_URL, CHURN_URL, ... (default http://127.0.0.1:<port>/graphql).`;

async function main(): Promise<void> {
  const { flags } = parseFlags(process.argv.slice(2), { port: 'number' }, USAGE);
  const config = loadConfig();
  const running = await startGateway(config, flags.port);
  serveUntilSignal('gateway', running);
}

main().catch((error: Error) => {
  process.stderr.write(`gateway: ${error.message}\n`);
  process.exit(1);
});
