/**
 * The arms of the prediction log's graph bench (prediction-log-graph.ts), by name: `off`, `on`,
 * or `on:NAME=VALUE:...` (the log on with those settings), each optionally ending in `@DIR`, the
 * build that arm runs instead of the bench's --root.
 */
import path from 'node:path';
import { UsageError } from '../src/cli/flags';

/** An arm's name, as given in --arms. */
export type ArmName = string;

/** Splits a name into its settings part and its build directory (undefined without `@DIR`). */
function parts(name: ArmName): { settings: string; dir: string | undefined } {
  const at = name.indexOf('@');
  return at < 0 ? { settings: name, dir: undefined } : { settings: name.slice(0, at), dir: name.slice(at + 1) };
}

/** An arm's build: the DIR of a name ending in `@DIR`, else `root`. */
export function armRoot(name: ArmName, root: string): string {
  const { dir } = parts(name);
  return dir === undefined ? root : path.resolve(dir);
}

/** The environment of an arm; a name of another shape is a UsageError that ends with `usage`. */
export function armSettings(name: ArmName, usage = ''): Record<string, string> {
  const { settings, dir } = parts(name);
  const [state, ...pairs] = settings.split(':');
  if ((state !== 'on' && state !== 'off') || dir === '') throw new UsageError(`an arm is off, on or on:NAME=VALUE..., optionally followed by @DIR, got "${name}"\n${usage}`);
  const env: Record<string, string> = { PREDICTION_LOG: state };
  for (const pair of pairs) {
    const [key, value] = pair.split('=');
    if (!key || value === undefined) throw new UsageError(`an arm's setting is NAME=VALUE, got "${pair}"\n${usage}`);
    env[key] = value;
  }
  return env;
}
