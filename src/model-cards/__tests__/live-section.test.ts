/** The model card's live section: figures per window with intervals, estimates marked, the live calibration chart, drift or "no reference", alerts. */
import { describe, expect, it } from '@jest/globals';
import { renderLiveSection } from '..';
import type { ModelHealth } from '../../monitoring/monitor';

function health(window: ModelHealth['window'], extra: Partial<ModelHealth> = {}): ModelHealth {
  return {
    model: 'churn', version: '1.0.0', window, asOf: '2025-07-01', computedAt: '2025-07-01T10:00:00.000Z',
    metrics: [
      { name: 'auc', value: 0.81, low: 0.74, high: 0.88, estimated: false, rows: 240 },
      { name: 'auc', value: 0.79, low: 0.77, high: 0.82, estimated: true, rows: 1200 },
    ],
    driftReference: true,
    drift: [{ feature: 'days_since_last_loan', kind: 'numeric', count: 300, test: 'ks', statistic: 0.31, pValue: 0.0001, threshold: 0.05, psi: 0.4, psiThreshold: 0.25, drifted: true, psiDrifted: true }],
    alerts: [{ name: 'ModelFeatureDrift', severity: 'warning', summary: 'churn 1.0.0: feature days_since_last_loan has drifted' }],
    knownOutcomes: 240, pendingOutcomes: 10,
    calibration: [{ low: 0.1, high: 0.2, rows: 120, meanPredicted: 0.15, observed: { value: 0.17, low: 0.11, high: 0.25 } }, { low: 0.7, high: 0.8, rows: 120, meanPredicted: 0.75, observed: { value: 0.7, low: 0.61, high: 0.78 } }],
    ...extra,
  };
}

describe('the live section of a model card', () => {
  it('shows each window\'s figures with their intervals, estimates apart, a calibration chart, drift and alerts', () => {
    const html = renderLiveSection({ windows: [health('day'), health('week'), health('30d')] });
    expect(html).toContain('How it does live');
    expect(html).toMatch(/<th scope="row">auc<\/th><td>0\.810 <small>\[0\.740, 0\.880\]<\/small>/);
    expect(html).toMatch(/<th scope="row">estimated auc<\/th><td>0\.790/);
    expect(html).toContain('Live calibration, last 30 days');
    expect(html).toMatch(/<svg[^>]*>/);
    expect(html).toContain('<code>days_since_last_loan</code>');
    expect(html).toContain('ModelFeatureDrift (warning)');
  });

  it('says "no reference" when the version carries no drift references, and when nothing was monitored yet', () => {
    expect(renderLiveSection({ windows: [health('week', { driftReference: false, drift: [], alerts: [] })] })).toContain('No reference');
    expect(renderLiveSection({ windows: [] })).toContain('has not seen a prediction of this version yet');
  });
});
