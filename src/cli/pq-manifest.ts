/**
 * `npm run pq:manifest [-- --check]`: writes schema/persisted-queries.json from the operations in
 * schema/operations/ (Apollo's manifest format). With --check it writes nothing and fails when
 * the committed manifest is stale.
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../config';
import { loadSupergraph } from '../../gateway/subgraphs';
import { buildManifest, manifestPath, operationsDir, serializeManifest } from '../../gateway/persisted-queries/manifest';
import { parseFlags } from './flags';

const USAGE = `usage: npm run pq:manifest [-- --check]
  Writes schema/persisted-queries.json from schema/operations/*.graphql (one named operation per file,
  validated against schema/supergraph.graphql). --check: fail if the committed file is stale.`;

function main(): void {
  const { flags } = parseFlags(process.argv.slice(2), { check: 'boolean' }, USAGE);
  const config = loadConfig();
  const manifest = buildManifest(operationsDir(config.projectRoot), loadSupergraph(config));
  const file = manifestPath(config.projectRoot);
  const text = serializeManifest(manifest);
  const relative = path.relative(process.cwd(), file);
  if (flags.check) {
    if (!existsSync(file) || readFileSync(file, 'utf8') !== text) throw new Error(`${relative} is stale: run \`npm run pq:manifest\``);
    process.stdout.write(`${relative} is up to date (${manifest.operations.length} operations)\n`);
    return;
  }
  writeFileSync(file, text);
  process.stdout.write(`wrote ${relative}: ${manifest.operations.map((o) => o.name).join(', ')}\n`);
}

try {
  main();
} catch (error) {
  process.stderr.write(`pq:manifest: ${(error as Error).message}\n`);
  process.exit(1);
}
