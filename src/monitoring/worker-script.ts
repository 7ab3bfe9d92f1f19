/**
 * Where a worker thread's compiled script is, for the monitoring threads (the prediction log's
 * writer, the live monitor). A Worker needs a JavaScript file: beside the calling module when it
 * runs compiled; when it runs from the TypeScript sources (ts-jest), the copy that the build
 * wrote into dist/.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

/** The compiled `name` (e.g. "monitor-worker.js") of src/monitoring, or an error telling to build. */
export function monitoringScript(name: string, what: string): string {
  const beside = path.join(__dirname, name);
  if (existsSync(beside)) return beside;
  const built = path.resolve(__dirname, '..', '..', 'dist', 'src', 'monitoring', name);
  if (existsSync(built)) return built;
  throw new Error(`${what} script is missing (looked for ${beside} and ${built}); run node scripts/build.js`);
}
