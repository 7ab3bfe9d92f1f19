/**
 * The recommendations trainer on the small simulated library: its shelf-taste settings are
 * chosen on rolling-origin folds before the test cut-off, each candidate's mean and spread over
 * the folds is in the metadata, and the served version was fitted with the chosen one.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { getProduction, type ModelMetadata } from '../../registry';
import { openStore, readAsOf, type Store } from '../../store';
import { addDays } from '../../util/dates';
import { HOLDOUT_DAYS, RECOMMENDATIONS_CANDIDATES, RECOMMENDATIONS_VALIDATION_FOLDS } from '../recommendations';
import { smallLibrary } from '../../../test/fixtures/small-library';

let store: Store;
let metadata: ModelMetadata;

beforeAll(async () => {
  const library = await smallLibrary();
  store = openStore(library.databaseUrl, { readonly: true });
  const production = getProduction(library.modelsDir, 'recommendations');
  if (!production) throw new Error('the small library has no production recommendations model');
  metadata = production.metadata;
}, 900_000);
afterAll(async () => {
  await store.close();
});

describe('the recommendations trainer', () => {
  it('chooses the shelf-taste settings on validation folds before the test cut-off, with each candidate’s mean and spread', async () => {
    type Candidate = { catalogueExponent: number | null; authorWeight: number; coBorrowingWeight: number; meanNdcgAt10: number; sdNdcgAt10: number; folds: number };
    const candidates = JSON.parse(String(metadata.hyperparameters.candidates)) as Candidate[];
    expect(candidates.map(({ catalogueExponent, authorWeight, coBorrowingWeight }) => ({ catalogueExponent, authorWeight, coBorrowingWeight }))).toEqual(RECOMMENDATIONS_CANDIDATES);
    for (const c of candidates) {
      expect(c.folds).toBe(RECOMMENDATIONS_VALIDATION_FOLDS);
      expect(c.meanNdcgAt10).toBeGreaterThan(0);
      expect(c.sdNdcgAt10).toBeGreaterThanOrEqual(0);
    }
    // The first of the best means wins, and the served version was fitted with it.
    const best = candidates.reduce((a, b) => (b.meanNdcgAt10 > a.meanNdcgAt10 ? b : a));
    expect(metadata.hyperparameters).toMatchObject({
      catalogueExponent: best.catalogueExponent ?? 'borrowers',
      authorWeight: best.authorWeight,
      coBorrowingWeight: best.coBorrowingWeight,
      validationFolds: RECOMMENDATIONS_VALIDATION_FOLDS,
      validationMeanNdcgAt10: best.meanNdcgAt10,
      validationSdNdcgAt10: best.sdNdcgAt10,
    });
    // The folds end where the test window starts, and the notes name their cut-offs.
    const cutoff = addDays(await readAsOf(store), -HOLDOUT_DAYS);
    expect(metadata.notes).toContain(`rolling-origin folds before ${cutoff}`);
    expect(metadata.notes).toContain('ranked from their history');
    expect(metadata.notes).toContain(`Evaluated once on a fit to loans up to ${cutoff}`);
  });
});
