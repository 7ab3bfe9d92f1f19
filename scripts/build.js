#!/usr/bin/env node
/**
 * `npm run build`, and the first step of every `npm run` command: compiles the TypeScript into
 * dist/ and bundles GraphiQL, but only when something they are made from changed since the last
 * successful build. What they are made from is every file under the compiled folders (tests
 * excepted), the compiler settings and the lock file; the build records each file's size and
 * modification time in dist/.build-inputs.json, and any difference (a file edited, added,
 * removed, or restored to an older copy) rebuilds. tsc itself is incremental, so a rebuild
 * compiles what changed.
 *
 * Plain JavaScript on purpose: it runs before anything is compiled.
 * Usage: node scripts/build.js [--force]
 */
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const RECORD = path.join(root, 'dist', '.build-inputs.json');
const SOURCE_DIRS = ['src', 'subgraphs', 'gateway', 'bench'];
const SKIPPED_DIRS = new Set(['__tests__', 'node_modules', 'results', 'baseline']);
const SETTINGS = ['tsconfig.json', 'package-lock.json', 'scripts/build.js'];

function filesUnder(dir, into) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!SKIPPED_DIRS.has(entry.name)) filesUnder(full, into);
    } else if (entry.isFile()) {
      into.push(full);
    }
  }
  return into;
}

/** Every input's path (relative to the root) with its size and modification time. */
function currentInputs() {
  const files = SOURCE_DIRS.flatMap((dir) => (existsSync(path.join(root, dir)) ? filesUnder(path.join(root, dir), []) : []));
  files.push(...SETTINGS.map((file) => path.join(root, file)).filter((file) => existsSync(file)));
  const inputs = {};
  for (const file of files.sort()) {
    const { size, mtimeMs } = statSync(file);
    inputs[path.relative(root, file)] = `${size}:${mtimeMs}`;
  }
  return inputs;
}

function recordedInputs() {
  try {
    return JSON.parse(readFileSync(RECORD, 'utf8'));
  } catch {
    return undefined;
  }
}

function sameInputs(a, b) {
  if (!a || !b) return false;
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}

/**
 * tsc never deletes what it compiled from a source that is gone, and a stale `dist/x.js` would
 * shadow a new `dist/x/index.js` for `require('./x')`: remove the outputs of removed sources.
 */
function removeOutputsOfRemoved(previous, inputs) {
  for (const file of Object.keys(previous ?? {})) {
    if (file in inputs || !file.endsWith('.ts') || file.endsWith('.d.ts')) continue;
    const compiled = path.join(root, 'dist', file.replace(/\.ts$/, ''));
    for (const ending of ['.js', '.js.map', '.d.ts']) rmSync(`${compiled}${ending}`, { force: true });
  }
}

function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

function main() {
  const force = process.argv.includes('--force');
  const inputs = currentInputs();
  const previous = recordedInputs();
  if (!force && sameInputs(inputs, previous) && existsSync(path.join(root, 'dist', 'src'))) return;
  removeOutputsOfRemoved(previous, inputs);
  run(process.execPath, [require.resolve('typescript/bin/tsc', { paths: [root] }), '-p', path.join(root, 'tsconfig.json')]);
  run(process.execPath, [path.join(root, 'dist', 'gateway', 'graphiql', 'bundle.js'), ...(force ? ['--force'] : [])]);
  mkdirSync(path.dirname(RECORD), { recursive: true });
  writeFileSync(RECORD, `${JSON.stringify(inputs)}\n`);
}

main();
