/**
 * `npm run pq:manifest [-- --check]`: writes schema/persisted-queries.json from the operations in
 * schema/operations/ with Apollo's manifest generator (ids as Apollo Client computes them). With --check it writes nothing and fails when
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
  validated against schema/supergraph.graphql) with Apollo's generator
  (@apollo/generate-persisted-query-manifest), so every id is the one Apollo Client 4 sends.
  --check: fail if the committed file is stale.`;

async function main(): Promise<void> {
  const { flags } = parseFlags(process.argv.slice(2), { check: 'boolean' }, USAGE);
  const config = loadConfig();
  const manifest = await buildManifest(operationsDir(config.projectRoot), loadSupergraph(config));
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

main().catch((error: Error) => {
  process.stderr.write(`pq:manifest: ${error.message}\n`);
  process.exit(1);
});
