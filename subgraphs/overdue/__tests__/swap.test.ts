/**
 * A hot swap in the middle of a batch: the batch that was scoring on the old version is bucketed
 * with the old version's thresholds, and the next batch with the new version's, each answer
 * naming the version that produced it.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import { RiskLevel } from '../../../src/graphql/prediction-types';
import { createLogger } from '../../../src/logging';
import { createProcessMetrics } from '../../../src/metrics';
import { ModelSlot, type ProductionPointer } from '../../../src/model-runtime/model-slot';
import type { ModelSubgraphDeps } from '../../../src/model-runtime/model-subgraph';
import { riskLevel, type RiskThresholds } from '../../../src/model-runtime/risk';
import { OVERDUE_SLOT, type OverdueServing } from '../../../src/models/overdue';
import { readProductionPointer } from '../../../src/registry';
import { openStore, readAsOf, type Store } from '../../../src/store';
import { smallLibrary } from '../../../test/fixtures/small-library';
import { createOverdueServices, predictOverdue, type OverdueKey } from '..';

/** Nearly every risk is HIGH under the first, nearly every risk LOW under the second. */
const THRESHOLDS: Record<string, RiskThresholds> = {
  '7.0.0': { medium: 0.001, high: 0.002 },
  '7.1.0': { medium: 0.998, high: 0.999 },
};

let store: Store;
let slot: ModelSlot<OverdueServing>;
let served: ProductionPointer;
const versions: Record<string, ProductionPointer> = {};
const scratch: string[] = [];

/** The production overdue version copied under another version number, with other thresholds. */
function copyWithThresholds(from: ProductionPointer, version: string, thresholds: RiskThresholds): ProductionPointer {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shelfmark-overdue-swap-'));
  scratch.push(dir);
  cpSync(from.dir, dir, { recursive: true });
  const file = path.join(dir, 'metadata.json');
  const metadata = JSON.parse(readFileSync(file, 'utf8')) as { version: string; serving: { riskThresholds: RiskThresholds } };
  metadata.version = version;
  metadata.serving.riskThresholds = thresholds;
  writeFileSync(file, JSON.stringify(metadata));
  return { version, dir };
}

beforeAll(async () => {
  const library = await smallLibrary();
  store = openStore(library.databaseUrl, { readonly: true });
  const production = readProductionPointer(library.modelsDir, 'overdue');
  if (!production) throw new Error('the small library has no production overdue version');
  for (const [version, thresholds] of Object.entries(THRESHOLDS)) versions[version] = copyWithThresholds(production, version, thresholds);
  served = versions['7.0.0']!;
  slot = new ModelSlot({ ...OVERDUE_SLOT, locate: async () => served, logger: createLogger('test', 'silent'), metrics: createProcessMetrics('overdue-swap-test'), reloadIntervalMs: 3_600_000 });
  await slot.start();
}, 300_000);

afterAll(async () => {
  await slot?.stop();
  await store?.close();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

describe('a version swap during a batch', () => {
  it("buckets every answer with its own version's thresholds", async () => {
    expect(slot.current().version).toBe('7.0.0');
    const deps = { store, asOf: await readAsOf(store), memos: new Set(), inputs: 0, slots: { overdue: slot }, metrics: createProcessMetrics('overdue-swap-deps'), logger: createLogger('test', 'silent') } as unknown as ModelSubgraphDeps;
    const services = createOverdueServices(deps);
    const open = await store.db.selectFrom('loans').select(['id', 'member_id']).where('returned_at', 'is', null).limit(60).execute();
    const keys: OverdueKey[] = [...open.map((l) => `L:${l.id}` as const), ...open.slice(0, 20).map((l) => `M:${l.member_id}` as const)];

    // The swap lands while 7.0.0 computes this batch: its session finishes only after 7.1.0 is in.
    const session = slot.current().sessions.model as InferenceSession;
    const run = session.run.bind(session);
    let swapped = false;
    session.run = (async (feeds: InferenceSession.FeedsType) => {
      const outputs = await run(feeds);
      if (!swapped) {
        swapped = true;
        served = versions['7.1.0']!;
        await slot.refresh();
      }
      return outputs;
    });

    const during = await predictOverdue(services, keys);
    expect(swapped).toBe(true);
    expect(slot.current().version).toBe('7.1.0');
    const after = await predictOverdue(services, keys);

    for (const [answers, version] of [[during, '7.0.0'], [after, '7.1.0']] as const) {
      const scored = answers.filter((a) => a !== null);
      expect(scored.length).toBeGreaterThan(40);
      for (const answer of scored) {
        expect(answer.model.version).toBe(version);
        expect(answer.level).toBe(riskLevel(answer.probability, THRESHOLDS[version]!));
      }
    }
    // The two versions' thresholds disagree on these answers, so a batch bucketed with the other version's would fail above.
    const levels = (answers: typeof during) => answers.flatMap((a) => (a && a.probability > 0.002 && a.probability < 0.998 ? [a.level] : []));
    expect(levels(during).length).toBeGreaterThan(10);
    expect(levels(during).every((l) => l === RiskLevel.HIGH)).toBe(true);
    expect(levels(after).every((l) => l === RiskLevel.LOW)).toBe(true);
  });
});
