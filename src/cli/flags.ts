/**
 * Command-line flags for Shelfmark's commands, on node:util's parseArgs: `--name value` or
 * `--name=value`, typed as declared ('strings': a flag that may repeat, collected in order),
 * with `--help` printing the usage and unknown flags refused with the usage.
 */
import { parseArgs } from 'node:util';
import { flagsTakenByNpm } from '../config';

export type FlagType = 'string' | 'strings' | 'number' | 'boolean';

export class UsageError extends Error {}

export function parseFlags<T extends Record<string, FlagType>>(
  argv: string[],
  spec: T,
  usage: string,
): { flags: { [K in keyof T]?: T[K] extends 'number' ? number : T[K] extends 'boolean' ? boolean : T[K] extends 'strings' ? string[] : string }; positionals: string[] } {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = { help: { type: 'boolean' } };
  for (const [name, type] of Object.entries(spec)) options[name] = { type: type === 'boolean' ? 'boolean' : 'string', ...(type === 'strings' ? { multiple: true } : {}) };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n${usage}`);
  }
  const missing = Object.keys(spec).filter((name) => parsed.values[name] === undefined);
  const takenByNpm = flagsTakenByNpm(missing);
  if (takenByNpm.length > 0) {
    const given = takenByNpm.map((name) => `--${name}`).join(', ');
    throw new UsageError(`npm took ${given} for itself: put -- between the script and its flags, e.g. npm run <script> -- ${given.split(', ')[0]} <value>\n${usage}`);
  }
  if (parsed.values.help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  const flags: Record<string, unknown> = {};
  for (const [name, type] of Object.entries(spec)) {
    const raw = parsed.values[name];
    if (raw === undefined) continue;
    if (type === 'number') {
      const value = Number(raw);
      if (!Number.isFinite(value)) throw new UsageError(`--${name} must be a number, got "${String(raw)}"\n${usage}`);
      flags[name] = value;
    } else flags[name] = raw;
  }
  return { flags: flags as never, positionals: parsed.positionals };
}
