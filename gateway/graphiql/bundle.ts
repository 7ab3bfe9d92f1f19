/**
 * Build step: bundles GraphiQL (React, the editor, its CSS with fonts inlined) into
 * dist/graphiql/ with esbuild, so the gateway serves the IDE from its own files. Skipped when
 * the bundle is newer than everything it is made from, so `npm run build` stays fast.
 * Run as `node dist/gateway/graphiql/bundle.js [--force]`.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { findProjectRoot } from '../../src/config';

export function bundleDir(projectRoot: string): string {
  return path.join(projectRoot, 'dist', 'graphiql');
}

export const BUNDLE_FILES = ['graphiql.js', 'graphiql.css'] as const;

/** What the bundle is made from: the client entry and the installed versions of what it imports. */
export function bundleInputs(projectRoot: string): string[] {
  return [
    path.join(projectRoot, 'gateway', 'graphiql', 'client', 'main.mjs'),
    ...['graphiql', '@graphiql/react', 'react', 'react-dom', 'esbuild'].map((pkg) => path.join(projectRoot, 'node_modules', pkg, 'package.json')),
  ];
}

export function bundleIsFresh(projectRoot: string): boolean {
  const outputs = BUNDLE_FILES.map((f) => path.join(bundleDir(projectRoot), f));
  if (!outputs.every((f) => existsSync(f))) return false;
  const builtAt = Math.min(...outputs.map((f) => statSync(f).mtimeMs));
  return bundleInputs(projectRoot).every((input) => existsSync(input) && statSync(input).mtimeMs <= builtAt);
}

export async function bundleGraphiql(projectRoot: string, { force = false } = {}): Promise<'built' | 'fresh'> {
  if (!force && bundleIsFresh(projectRoot)) return 'fresh';
  // Loaded only when a bundle is built: esbuild is a development dependency.
  const esbuild = await import('esbuild');
  await esbuild.build({
    entryPoints: { graphiql: bundleInputs(projectRoot)[0]! },
    outdir: bundleDir(projectRoot),
    bundle: true,
    minify: true,
    format: 'iife',
    platform: 'browser',
    target: ['es2020'],
    define: { 'process.env.NODE_ENV': '"production"' },
    legalComments: 'eof',
    logLevel: 'warning',
  });
  return 'built';
}

if (require.main === module) {
  bundleGraphiql(findProjectRoot(), { force: process.argv.includes('--force') })
    .then((result) => {
      if (result === 'built') process.stdout.write(`graphiql: bundled into ${path.relative(process.cwd(), bundleDir(findProjectRoot()))}\n`);
    })
    .catch((error: Error) => {
      process.stderr.write(`graphiql: bundling failed: ${error.message}\n`);
      process.exit(1);
    });
}
