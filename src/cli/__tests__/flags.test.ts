/**
 * The one flag parser every command uses: typed values, one-line errors that name the flag, and
 * help as a value (commands that return exit codes) or printed (commands that exit).
 */
import { readFlags, UsageError } from '../flags';

const spec = { db: 'string', seed: 'number', shift: 'strings', json: 'boolean' } as const;

describe('readFlags', () => {
  it('types each flag as declared, in both spellings, and keeps positionals', () => {
    const { flags, positionals, help } = readFlags(['list', '--db', 'x.db', '--seed=7', '--shift', 'a@1', '--shift', 'b@2', '--json'], spec);
    expect(flags).toEqual({ db: 'x.db', seed: 7, shift: ['a@1', 'b@2'], json: true });
    expect(positionals).toEqual(['list']);
    expect(help).toBe(false);
  });

  it('reports --help and -h as a value instead of exiting', () => {
    expect(readFlags(['--help'], spec).help).toBe(true);
    expect(readFlags(['-h'], spec).help).toBe(true);
  });

  it.each([
    [['--colour', 'blue'], 'unknown option --colour'],
    [['--db'], '--db needs a value'],
    [['--db', '--json'], '--db needs a value'],
    [['--seed', 'soon'], '--seed must be a number, got "soon"'],
  ])('refuses %j with one line: %s', (argv, message) => {
    expect(() => readFlags(argv, spec)).toThrow(new UsageError(message));
  });

  it('refuses positionals where a command takes none', () => {
    expect(() => readFlags(['stray'], spec, { positionals: false })).toThrow(new UsageError('unexpected argument "stray"'));
  });
});
