/**
 * Where a worker thread's compiled script is. A Worker needs a JavaScript file: beside the
 * calling module when it runs compiled; when it runs from the TypeScript sources (ts-jest), the
 * copy that the build wrote into dist/ at the same place.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { findProjectRoot } from '../config';

/** The compiled `name` (e.g. "monitor-worker.js") beside the module in `dir`, or an error telling to build. */
export function compiledScript(dir: string, name: string, what: string): string {
  const beside = path.join(dir, name);
  if (existsSync(beside)) return beside;
  const root = findProjectRoot(dir);
  const built = path.join(root, 'dist', path.relative(root, dir), name);
  if (existsSync(built)) return built;
  throw new Error(`${what} script is missing (looked for ${beside} and ${built}); run node scripts/build.js`);
}
