import { describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildSchema, parse, validate } from 'graphql';
import { findProjectRoot, loadConfig } from '../../../src/config';
import { operationsDir } from '../../persisted-queries/manifest';
import { loadSupergraph } from '../../subgraphs';
import { exampleTabs, examplesDir } from '..';
import { bundleDir, bundleInputs, bundleIsFresh } from '../bundle';

describe('exampleTabs', () => {
  it('opens one tab per registered operation, with the variables its file suggests', () => {
    const tabs = exampleTabs(operationsDir(findProjectRoot(__dirname)));
    expect(tabs.length).toBeGreaterThan(0);
    const book = tabs.find((t) => t.query.includes('query BookDetails'))!;
    expect(JSON.parse(book.variables!)).toEqual({ id: '1' });
    expect(book.query).not.toMatch(/# variables:/);
  });
});

describe("the analysts' example tabs", () => {
  it('are the questions of schema/examples/, each valid against the supergraph', () => {
    const tabs = exampleTabs(examplesDir(findProjectRoot(__dirname)));
    expect(tabs.map((tab) => /query (\w+)/.exec(tab.query)?.[1])).toEqual(['ChurnWatchlist', 'ModelsOverview', 'OverdueWatchlist', 'PredictionCalibration', 'Segments']);
    const schema = buildSchema(loadSupergraph(loadConfig({ NODE_ENV: 'test' })), { assumeValidSDL: true });
    for (const tab of tabs) expect(validate(schema, parse(tab.query)).map((error) => error.message)).toEqual([]);
  });
});

describe('bundleIsFresh', () => {
  it('is fresh only when both outputs exist and are newer than every input', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'shelfmark-bundle-'));
    const inputs = bundleInputs(root);
    for (const input of inputs) {
      mkdirSync(path.dirname(input), { recursive: true });
      writeFileSync(input, '{}');
    }
    expect(bundleIsFresh(root)).toBe(false);
    mkdirSync(bundleDir(root), { recursive: true });
    for (const output of ['graphiql.js', 'graphiql.css']) writeFileSync(path.join(bundleDir(root), output), '');
    const past = new Date(Date.now() - 60_000);
    for (const input of inputs) utimesSync(input, past, past);
    expect(bundleIsFresh(root)).toBe(true);
    writeFileSync(inputs[0]!, '// edited');
    const future = new Date(Date.now() + 60_000);
    utimesSync(inputs[0]!, future, future);
    expect(bundleIsFresh(root)).toBe(false);
  });
});
