/**
 * The promotion gate on evidence: production and the candidate re-scored on one holdout with the
 * same code, their AUCs compared on the same rows with DeLong's paired test.
 *
 *   refused:  the candidate is worse on the same rows, i.e. the 95% interval of
 *             AUC(candidate) − AUC(production) lies below 0, or its AUC is lower by more than
 *             the relative tolerance;
 *   accepted: otherwise, saying whether the interval shows it clearly better or not distinguishable.
 */
import type { Rescore, RescoredVersion } from '../registry';
import type { Store } from '../store';
import { compareAuc, scoreVersion, type ClassifierVersion } from './classifier-evaluation';
import { CLASSIFIER_HOLDOUTS, type ClassifierHoldout } from './classifier-holdout';
import { bestDemandBaseline, compareBookRmse, demandHoldout, scoreDemandVersion, type DemandHoldout } from './demand-evaluation';
import type { BootstrapOptions } from './intervals';

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
  const { value, low, high } = test.difference;
  const base = test.b.value;
  const relative = base !== 0 ? -value / Math.abs(base) : -value;
  const figures =
    `AUC ${fixed(test.a.value)} vs production ${production.version}'s ${fixed(base)} on the same ${holdout.rows} rows; ` +
    `difference ${fixed(value)} [${fixed(low)}, ${fixed(high)}] (DeLong, p = ${test.pValue.toPrecision(3)})`;
  if (high < 0) return { passed: false, detail: `${figures}: worse on the same rows` };
  if (relative > tolerance) return { passed: false, detail: `${figures}: ${(relative * 100).toFixed(1)}% lower, beyond the ${(tolerance * 100).toFixed(1)}% tolerance` };
  if (low > 0) return { passed: true, detail: `${figures}: better on the same rows` };
  return { passed: true, detail: `${figures}: not distinguishable from production` };
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
 * The demand gate's verdict: book-week RMSE of candidate and production on the same held-out
 * books, paired bootstrap of the difference.
 *   refused:  the interval of RMSE(candidate) − RMSE(production) lies above 0, or the candidate's
 *             RMSE is higher by more than the relative tolerance;
 *   accepted: otherwise. The best baseline on the same books is named in the detail either way,
 *             and whether the candidate beats it.
 */
export function demandVerdict(
  holdout: DemandHoldout,
  production: { version: string; book: number[][] },
  candidate: { version: string; book: number[][] },
  tolerance: number,
  options: BootstrapOptions = {},
): { passed: boolean; detail: string } {
  const test = compareBookRmse(holdout, candidate.book, production.book, options);
  const { value, low, high } = test.difference;
  const base = test.b.value;
  const relative = base !== 0 ? value / Math.abs(base) : value;
  const best = bestDemandBaseline(holdout);
  const vsBest = compareBookRmse(holdout, candidate.book, best.book, options).difference;
  const baseline =
    `; against the best baseline on the same books (${best.method}, RMSE ${fixed(best.rmse)}) the difference is ` +
    `${fixed(vsBest.value)} [${fixed(vsBest.low)}, ${fixed(vsBest.high)}]: ${vsBest.high < 0 ? 'better' : vsBest.low > 0 ? 'worse' : 'not distinguishable'}`;
  const figures =
    `book-week RMSE ${fixed(test.a.value)} vs production ${production.version}'s ${fixed(base)} on the same ${holdout.book.history.length} books; ` +
    `difference ${fixed(value)} [${fixed(low)}, ${fixed(high)}] (paired bootstrap, p = ${test.pValue.toPrecision(3)})`;
  if (low > 0) return { passed: false, detail: `${figures}: worse on the same rows${baseline}` };
  if (relative > tolerance) return { passed: false, detail: `${figures}: ${(relative * 100).toFixed(1)}% higher, beyond the ${(tolerance * 100).toFixed(1)}% tolerance${baseline}` };
  if (high < 0) return { passed: true, detail: `${figures}: better on the same rows${baseline}` };
  return { passed: true, detail: `${figures}: not distinguishable from production${baseline}` };
}

function demandRescore(store: Store): Rescore {
  return async (production, candidate, tolerance) => {
    const holdout = await demandHoldout(store);
    const p = await scoreDemandVersion(production, holdout);
    const c = await scoreDemandVersion(candidate, holdout);
    return demandVerdict(holdout, p, c, tolerance);
  };
}

/**
 * The re-scoring gate of `models validate`/`promote` for `model` on the library in `store`, or
 * undefined for a model no gate here can re-score (the registry then compares stored headlines).
 */
export function rescoreOnEvidence(store: Store, model: string): Rescore | undefined {
  if (model === 'demand') return demandRescore(store);
  return classifierRescore(store, model);
}
