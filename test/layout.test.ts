/**
 * The layering of the code, read from its import statements: serving code never reaches the
 * trainers or the commands, the registry never reaches the model cards, the shared model runtime
 * names no model, and a model's own module sits below both its trainer and its subgraph.
 */
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');

interface Rule {
  /** Files under this folder (tests included)... */
  from: string;
  /** ...import nothing under these. */
  never: string[];
}

const RULES: Rule[] = [
  { from: 'subgraphs', never: ['src/training', 'src/cli'] },
  { from: 'src/registry', never: ['src/model-cards', 'src/training', 'src/cli'] },
  { from: 'src/model-runtime', never: ['src/models', 'src/features', 'src/training', 'src/cli', 'subgraphs'] },
  { from: 'src/models', never: ['src/training', 'src/cli', 'subgraphs'] },
  { from: 'src/training', never: ['src/cli', 'subgraphs'] },
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** The project-relative targets of a file's relative imports (static, dynamic and re-exports). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:from\s+|import\s*\(\s*|require\s*\(\s*|^import\s+)['"](\.[^'"]*)['"]/gm)].map((m) => m[1] ?? '');
  return specifiers.map((s) => path.relative(ROOT, path.resolve(path.dirname(file), s)).split(path.sep).join('/'));
}

const under = (target: string, folder: string): boolean => target === folder || target.startsWith(`${folder}/`);

describe('the layout', () => {
  it.each(RULES)('no file under $from imports from $never', ({ from, never }) => {
    const files = sourceFiles(path.join(ROOT, from));
    expect(files.length).toBeGreaterThan(0);
    const crossings = files.flatMap((file) =>
      importsOf(file)
        .filter((target) => never.some((folder) => under(target, folder)))
        .map((target) => `${path.relative(ROOT, file)} -> ${target}`),
    );
    expect(crossings).toEqual([]);
  });

  it('reads every kind of relative import it is meant to police', () => {
    const file = path.join(ROOT, 'subgraphs', 'churn', 'index.ts');
    expect(importsOf(file)).toEqual(expect.arrayContaining(['src/models/churn', 'src/model-runtime/model-subgraph', 'subgraphs/churn/schema']));
  });
});
