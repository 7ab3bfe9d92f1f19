/**
 * The promotion gate on evidence: production and the candidate re-scored on one holdout with the
 * same code, their figures compared on the same rows by a paired test (classifiers: AUC, DeLong;
 * demand: book-week RMSE, recommendations: NDCG@10, segmentation: lapse AUC, paired bootstrap).
 *
 *   refused:  the candidate is worse on the same rows, i.e. the 95% interval of
 *             figure(candidate) − figure(production) lies wholly on the worse side, or the
 *             candidate is worse by more than the relative tolerance;
 *   accepted: otherwise, saying whether the interval shows it clearly better or not distinguishable.
 */
import type { Rescore, RescoredVersion } from '../registry';
import type { Store } from '../store';
import { compareAuc, scoreVersion, type ClassifierVersion } from './classifier-evaluation';
import { CLASSIFIER_HOLDOUTS, type ClassifierHoldout } from './classifier-holdout';
import { bestDemandBaseline, compareBookRmse, compareLevelRmse, demandHoldout, scoreDemandVersion, type DemandHoldout } from './demand-evaluation';
import type { BootstrapOptions, Interval } from './intervals';
import { compareNdcg, recommendationHoldout, versionLists, RECOMMENDATION_K } from './recommendation-evaluation';
import { compareLapseAuc, predictions, segmentationHoldout, segmentVersion } from './segmentation-evaluation';

const fixed = (x: number): string => x.toFixed(4);

function asClassifierVersion(v: RescoredVersion): ClassifierVersion {
  return { version: v.version, dir: v.dir, metadata: v.metadata };
}

/** The gate's verdict for two versions' scores of the same holdout rows. */
export function pairedVerdict(
  holdout: ClassifierHoldout,
  production: { version: string; scores: Float64Array },
  candidate: { version: string; scores: Float64Array },
  tolerance: number,
): { passed: boolean; detail: string } {
  const test = compareAuc(holdout, candidate, production);
  return sameRowsVerdict(
    {
      metric: 'AUC',
      higherIsBetter: true,
      candidate: test.a.value,
      production: { version: production.version, value: test.b.value },
      difference: test.difference,
      pValue: test.pValue,
      rows: `the same ${holdout.rows} rows`,
      test: 'DeLong',
    },
    tolerance,
  );
}

/**
 * A Rescore for `models validate`/`promote` on the library in `store`, or undefined for a model
 * this gate cannot re-score (the registry then compares stored headlines). The holdout is built
 * once per gate.
 */
export function classifierRescore(store: Store, model: string): Rescore | undefined {
  const holdoutOf = CLASSIFIER_HOLDOUTS[model];
  if (!holdoutOf) return undefined;
  return async (production, candidate, tolerance) => {
    const holdout = await holdoutOf(store);
    const [p, c] = [asClassifierVersion(production), asClassifierVersion(candidate)];
    const productionScores = await scoreVersion(p, holdout);
    const candidateScores = await scoreVersion(c, holdout);
    return pairedVerdict(holdout, { version: p.version, scores: productionScores }, { version: c.version, scores: candidateScores }, tolerance);
  };
}

/**
 * The demand gate's verdict: RMSE of candidate and production on the same held-out series, for
 * each level the graph serves (book-weeks and collection-months), paired bootstrap of the
 * difference.
 *   refused:  at either level, the interval of RMSE(candidate) − RMSE(production) lies above 0,
 *             or the candidate's RMSE is higher by more than the relative tolerance;
 *   accepted: otherwise. The best baseline on the same books is named in the detail either way,
 *             and whether the candidate beats it.
 */
export function demandVerdict(
  holdout: DemandHoldout,
  production: { version: string; book: number[][]; collection: number[][] },
  candidate: { version: string; book: number[][]; collection: number[][] },
  tolerance: number,
  options: BootstrapOptions = {},
): { passed: boolean; detail: string } {
  const best = bestDemandBaseline(holdout);
  const vsBest = compareBookRmse(holdout, candidate.book, best.book, options).difference;
  const baseline =
    `; against the best baseline on the same books (${best.method}, RMSE ${fixed(best.rmse)}) the difference is ` +
    `${fixed(vsBest.value)} [${fixed(vsBest.low)}, ${fixed(vsBest.high)}]: ${vsBest.high < 0 ? 'better' : vsBest.low > 0 ? 'worse' : 'not distinguishable'}`;
  const levels = (['book', 'collection'] as const).map((level) => {
    const test = compareLevelRmse(holdout, level, candidate[level], production[level], options);
    const { value, low, high } = test.difference;
    const base = test.b.value;
    const relative = base !== 0 ? value / Math.abs(base) : value;
    const series = level === 'book' ? 'books' : 'collections';
    const figures =
      `${level === 'book' ? 'book-week' : 'collection-month'} RMSE ${fixed(test.a.value)} vs production ${production.version}'s ${fixed(base)} ` +
      `on the same ${holdout[level].history.length} ${series}; difference ${fixed(value)} [${fixed(low)}, ${fixed(high)}] (paired bootstrap, p = ${test.pValue.toPrecision(3)})`;
    if (low > 0) return { passed: false, detail: `${figures}: worse on the same rows` };
    if (relative > tolerance) return { passed: false, detail: `${figures}: ${(relative * 100).toFixed(1)}% higher, beyond the ${(tolerance * 100).toFixed(1)}% tolerance` };
    if (high < 0) return { passed: true, detail: `${figures}: better on the same rows` };
    return { passed: true, detail: `${figures}: not distinguishable from production` };
  });
  return { passed: levels.every((l) => l.passed), detail: `${levels.map((l) => l.detail).join('; ')}${baseline}` };
}

function demandRescore(store: Store): Rescore {
  return async (production, candidate, tolerance) => {
    const holdout = await demandHoldout(store);
    const p = await scoreDemandVersion(production, holdout);
    const c = await scoreDemandVersion(candidate, holdout);
    return demandVerdict(holdout, p, c, tolerance);
  };
}

/** Two versions' figure on the same rows, as a paired test compared them (candidate − production). */
export interface SameRowsComparison {
  /** e.g. "NDCG@10", "lapse AUC". */
  metric: string;
  higherIsBetter: boolean;
  candidate: number;
  production: { version: string; value: number };
  difference: Interval;
  pValue: number;
  /** The rows and the test, for people: "the same 420 members (paired bootstrap". */
  rows: string;
  test: string;
}

/**
 * The gate's verdict on a higher- or lower-is-better figure of candidate and production on the
 * same rows: refused when the interval of the difference lies wholly on the worse side, or the
 * candidate is worse by more than the relative tolerance; accepted otherwise, saying whether the
 * interval shows it better.
 */
export function sameRowsVerdict(c: SameRowsComparison, tolerance: number): { passed: boolean; detail: string } {
  const { value, low, high } = c.difference;
  const base = c.production.value;
  const better = c.higherIsBetter ? value : -value;
  const relative = base !== 0 ? -better / Math.abs(base) : -better;
  const clearlyWorse = c.higherIsBetter ? high < 0 : low > 0;
  const clearlyBetter = c.higherIsBetter ? low > 0 : high < 0;
  const figures =
    `${c.metric} ${fixed(c.candidate)} vs production ${c.production.version}'s ${fixed(base)} on ${c.rows}; ` +
    `difference ${fixed(value)} [${fixed(low)}, ${fixed(high)}] (${c.test}, p = ${c.pValue.toPrecision(3)})`;
  if (clearlyWorse) return { passed: false, detail: `${figures}: worse on the same rows` };
  if (relative > tolerance) return { passed: false, detail: `${figures}: ${(relative * 100).toFixed(1)}% worse, beyond the ${(tolerance * 100).toFixed(1)}% tolerance` };
  if (clearlyBetter) return { passed: true, detail: `${figures}: better on the same rows` };
  return { passed: true, detail: `${figures}: not distinguishable from production` };
}

/**
 * Recommendations: both versions rank the same members' unborrowed books after the window's
 * cut-off (src/evaluation/recommendation-evaluation.ts, in production's book index), NDCG@10
 * compared by a paired bootstrap over members.
 */
function recommendationRescore(store: Store, options: BootstrapOptions = {}): Rescore {
  return async (production, candidate, tolerance) => {
    const holdout = await recommendationHoldout(store, production);
    const p = await versionLists(production, holdout);
    const c = await versionLists(candidate, holdout);
    const test = compareNdcg(holdout, c, p, `production ${production.version}`, RECOMMENDATION_K, options);
    return sameRowsVerdict(
      {
        metric: `NDCG@${RECOMMENDATION_K}`,
        higherIsBetter: true,
        candidate: test.value,
        production: { version: production.version, value: test.otherValue },
        difference: test.difference,
        pValue: test.pValue,
        rows: `the same ${holdout.members.length} members`,
        test: 'paired bootstrap',
      },
      tolerance,
    );
  };
}

/**
 * Segmentation: both versions segment the same members at two cut-offs; each segment's lapse
 * rate is fitted at the first and scored at the second (src/evaluation/segmentation-evaluation.ts),
 * lapse AUC compared by a paired bootstrap over members.
 */
function segmentationRescore(store: Store, options: BootstrapOptions = {}): Rescore {
  return async (production, candidate, tolerance) => {
    const holdout = await segmentationHoldout(store);
    const p = predictions(holdout, await segmentVersion(production, holdout));
    const c = predictions(holdout, await segmentVersion(candidate, holdout));
    const test = compareLapseAuc(holdout, c, p, `production ${production.version}`, options);
    return sameRowsVerdict(
      {
        metric: 'lapse AUC',
        higherIsBetter: true,
        candidate: test.value,
        production: { version: production.version, value: test.otherValue },
        difference: test.difference,
        pValue: test.pValue,
        rows: `the same ${holdout.score.memberIds.length} members`,
        test: 'paired bootstrap',
      },
      tolerance,
    );
  };
}

/**
 * The re-scoring gate of `models validate`/`promote` for `model` on the library in `store`, or
 * undefined for a model no gate here can re-score (the registry then compares stored headlines).
 */
export function rescoreOnEvidence(store: Store, model: string): Rescore | undefined {
  if (model === 'demand') return demandRescore(store);
  if (model === 'recommendations') return recommendationRescore(store);
  if (model === 'segmentation') return segmentationRescore(store);
  return classifierRescore(store, model);
}
