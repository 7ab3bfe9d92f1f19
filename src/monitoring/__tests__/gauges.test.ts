import { describe, expect, it } from '@jest/globals';
import { createProcessMetrics } from '../../metrics';
import { buildReference, ClassifierQualityWindows, compareFeature, publishDrift, publishLiveQuality, publishLosses } from '..';

describe('monitoring gauges on /metrics', () => {
  it('shows drift, live quality with intervals and log losses under their fixed names', async () => {
    const metrics = createProcessMetrics('churn-test');
    const reference = buildReference(Array.from({ length: 2_000 }, (_, i) => i % 100));
    publishDrift(metrics, 'churn', '1.0.0', [compareFeature('loans_last_90d', reference, Array.from({ length: 200 }, (_, i) => 50 + (i % 50)))]);
    const quality = new ClassifierQualityWindows(0.5);
    quality.add('2026-11-20', { probability: 0.8, label: 1 });
    quality.add('2026-11-20', { probability: 0.3, label: 0 });
    quality.add('2026-11-20', { probability: 0.6, label: 0 });
    publishLiveQuality(metrics, { model: 'churn', version: '1.0.0', window: 'week' }, quality.quality('2026-11-20', 'week'));
    publishLosses(metrics, [{ processId: 'p-1', stored: 10, firstSequence: 1, lastSequence: 10, acceptedThrough: 25, missing: 15 }]);
    metrics.predictionLogDropped.inc({ model: 'churn' }, 2);
    const text = await metrics.registry.metrics();
    expect(text).toContain('model_feature_drift{model="churn",version="1.0.0",feature="loans_last_90d",statistic="drifted",service="churn-test"} 1');
    expect(text).toMatch(/model_feature_drift\{model="churn",version="1\.0\.0",feature="loans_last_90d",statistic="ks_p_value",service="churn-test"\} [0-9.e-]+/);
    expect(text).toContain('model_live_metric{model="churn",version="1.0.0",window="week",metric="precision",service="churn-test"} 0.5');
    expect(text).toMatch(/model_live_metric\{model="churn",version="1\.0\.0",window="week",metric="auc_high",service="churn-test"\} /);
    expect(text).toContain('prediction_log_missing_records{process="p-1",service="churn-test"} 15');
    expect(text).toContain('prediction_log_dropped_total{model="churn",service="churn-test"} 2');
  });
});
