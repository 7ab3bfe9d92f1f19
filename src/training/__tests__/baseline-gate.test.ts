/** The registration gate: a version must beat the best baseline that reports its headline. */
import { describe, expect, it } from '@jest/globals';
import type { BaselineMetrics, ModelMetadataDraft } from '../../registry';
import { baselineVerdict, beatsBaseline } from '..';

function trained(headline: { name: string; value: number; higherIsBetter: boolean }, baseline: BaselineMetrics, otherBaselines?: BaselineMetrics[]) {
  return { metadata: { headlineMetric: headline, metrics: { heldOut: { [headline.name]: headline.value }, baseline, otherBaselines } } as unknown as ModelMetadataDraft };
}

describe('beatsBaseline', () => {
  const rmse = (value: number) => ({ name: 'rmse', value, higherIsBetter: false });
  const naive: BaselineMetrics = { name: 'seasonal naive', metrics: { rmse: 0.77 } };
  const yearMean: BaselineMetrics = { name: '52-week mean', metrics: { rmse: 0.562 } };

  it('compares with the best baseline, not the main one', () => {
    expect(beatsBaseline(trained(rmse(0.564), naive, [yearMean]))).toBe(false);
    expect(baselineVerdict(trained(rmse(0.564), naive, [yearMean])).reason).toContain('52-week mean');
    expect(beatsBaseline(trained(rmse(0.55), naive, [yearMean]))).toBe(true);
  });

  it('refuses a headline that no baseline reports', () => {
    const rfm: BaselineMetrics = { name: 'RFM grid', metrics: { segmentRetention90d: 0.78 } };
    const verdict = baselineVerdict(trained({ name: 'stabilityAri', value: 0.99, higherIsBetter: true }, rfm));
    expect(verdict.passed).toBe(false);
    expect(verdict.reason).toMatch(/no baseline reports stabilityAri/);
  });

  it('reads the direction of the headline', () => {
    const popularity: BaselineMetrics = { name: 'popularity', metrics: { ndcg: 0.014 } };
    const knn: BaselineMetrics = { name: 'item-kNN', metrics: { ndcg: 0.05 } };
    expect(beatsBaseline(trained({ name: 'ndcg', value: 0.043, higherIsBetter: true }, popularity))).toBe(true);
    expect(beatsBaseline(trained({ name: 'ndcg', value: 0.043, higherIsBetter: true }, popularity, [knn]))).toBe(false);
  });
});
