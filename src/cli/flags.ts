/**
 * Command-line flags for Shelfmark's commands, on node:util's parseArgs: `--name value` or
 * `--name=value`, typed as declared ('strings': a flag that may repeat, collected in order),
 * with `--help` printing the usage and unknown flags refused with the usage.
 */
import { parseArgs } from 'node:util';
import { flagsTakenByNpm } from '../config';

export type FlagType = 'string' | 'strings' | 'number' | 'boolean';

export class UsageError extends Error {}

type FlagValues<T extends Record<string, FlagType>> = { [K in keyof T]?: T[K] extends 'number' ? number : T[K] extends 'boolean' ? boolean : T[K] extends 'strings' ? string[] : string };

/** node:util's parse errors, said the way every command says them. */
function usageMessage(error: Error & { code?: string }, argv: readonly string[]): string {
  const flag = /'(-{1,2}[^' ]+)/.exec(error.message)?.[1];
  if (error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && flag) return `unknown option ${flag}`;
  if (error.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && flag) return `${flag} needs a value`;
  if (error.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') return `unexpected argument "${argv.find((arg) => !arg.startsWith('-')) ?? ''}"`;
  return error.message.split('\n')[0] ?? error.message;
}

/**
 * The flags of `argv` as `spec` declares them, for commands that print their own help and errors
 * (they return an exit code instead of exiting). Throws UsageError with a one-line message.
 */
export function readFlags<T extends Record<string, FlagType>>(
  argv: readonly string[],
  spec: T,
  { positionals = true }: { positionals?: boolean } = {},
): { flags: FlagValues<T>; positionals: string[]; help: boolean } {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const [name, type] of Object.entries(spec)) options[name] = { type: type === 'boolean' ? 'boolean' : 'string', ...(type === 'strings' ? { multiple: true } : {}) };
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: positionals, strict: true });
  } catch (error) {
    throw new UsageError(usageMessage(error as Error, argv));
  }
  const missing = Object.keys(spec).filter((name) => parsed.values[name] === undefined);
  const takenByNpm = flagsTakenByNpm(missing);
  if (takenByNpm.length > 0) {
    const given = takenByNpm.map((name) => `--${name}`).join(', ');
    throw new UsageError(`npm took ${given} for itself: put -- between the script and its flags, e.g. npm run <script> -- ${given.split(', ')[0]} <value>`);
  }
  const flags: Record<string, unknown> = {};
  for (const [name, type] of Object.entries(spec)) {
    const raw = parsed.values[name];
    if (raw === undefined) continue;
    if (type === 'number') {
      const value = Number(raw);
      if (!Number.isFinite(value)) throw new UsageError(`--${name} must be a number, got "${String(raw)}"`);
      flags[name] = value;
    } else flags[name] = raw;
  }
  return { flags: flags as FlagValues<T>, positionals: parsed.positionals, help: parsed.values.help === true };
}

/** readFlags for commands that exit: `--help` prints `usage` and exits 0; errors carry the usage. */
export function parseFlags<T extends Record<string, FlagType>>(argv: string[], spec: T, usage: string): { flags: FlagValues<T>; positionals: string[] } {
  let read;
  try {
    read = readFlags(argv, spec);
  } catch (error) {
    if (error instanceof UsageError) throw new UsageError(`${error.message}\n${usage}`);
    throw error;
  }
  if (read.help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  return { flags: read.flags, positionals: read.positionals };
}
