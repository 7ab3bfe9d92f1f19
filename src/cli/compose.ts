/** `npm run compose`: writes schema/supergraph.graphql from the subgraphs' schemas. */
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { findProjectRoot } from '../config';
import { composeSupergraph } from '../composition';

async function main(): Promise<void> {
  if (process.argv.includes('--help')) {
    process.stdout.write('usage: npm run compose\n  Composes every subgraph schema into schema/supergraph.graphql (Apollo Federation 2).\n');
    return;
  }
  const target = path.join(findProjectRoot(), 'schema', 'supergraph.graphql');
  writeFileSync(target, await composeSupergraph());
  process.stderr.write(`wrote ${target}\n`);
}

main().catch((error: Error) => {
  process.stderr.write(`compose: ${error.message}\n`);
  process.exit(1);
});
