import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { renderChart, renderModelCard, writeModelCard } from '..';
import type { ChartData } from '..';
import { registerVersion, validateVersion } from '../../registry';
import type { ModelMetadata } from '../../registry';
import { churnDraft, logisticModel, parityFor, tempModelsDir } from '../../registry/__tests__/fixtures';

function metadata(overrides: Partial<ModelMetadata> = {}): ModelMetadata {
  return {
    ...churnDraft(0.81),
    created: '2024-06-30T12:00:00.000Z',
    version: '1.2.0',
    stage: 'staging',
    parity: { maxAbsError: 3e-8, tolerance: 1e-5, passed: true, rows: 200 },
    sha256: 'ab'.repeat(32),
    files: [],
    ...overrides,
  };
}

const CHARTS: ChartData[] = [
  { kind: 'roc', points: [{ fpr: 0, tpr: 0 }, { fpr: 0.2, tpr: 0.7 }, { fpr: 1, tpr: 1 }], auc: 0.81, baseline: { name: 'days since last loan', points: [{ fpr: 0, tpr: 0 }, { fpr: 1, tpr: 1 }], auc: 0.7 } },
  { kind: 'calibration', bins: [{ predicted: 0.1, observed: 0.12, count: 80 }, { predicted: 0.5, observed: 0.45, count: 60 }] },
  { kind: 'precision-recall-at-k', points: [{ k: 1, precision: 0.3, recall: 0.05 }, { k: 10, precision: 0.12, recall: 0.3 }], baseline: { name: 'most popular', points: [{ k: 1, precision: 0.1, recall: 0.01 }, { k: 10, precision: 0.05, recall: 0.1 }] } },
  { kind: 'forecast', title: 'Weekly loans, all branches', unit: 'loans per week', points: [
    { period: '2024-06-03', actual: 120, forecast: null },
    { period: '2024-06-10', actual: 130, forecast: 128, low: 110, high: 140 },
    { period: '2024-06-17', actual: null, forecast: 135, low: 115, high: 150 },
  ] },
  { kind: 'segment-profiles', measures: ['recency (days)', 'frequency (loans)'], segments: [
    { name: 'Champions', members: 120, values: [5, 40] },
    { name: 'Hibernating', members: 300, values: [200, 2] },
  ] },
];

describe('renderModelCard', () => {
  it('is one self-contained page a librarian can read', () => {
    const html = renderModelCard(metadata(), CHARTS);
    expect(html.startsWith('<!doctype html>')).toBe(true);
    for (const text of [
      'churn model, version 1.2.0',
      'How likely a member is to stop borrowing in the next 90 days.',
      '2022-01-01 to 2024-06-30',
      'The model does better than the baseline.',
      'days since last loan',
      'oracle (truth)',
      'Parity holds.',
      'ROC curve',
      'Calibration',
      'Precision and recall at k',
      'Weekly loans, all branches',
      'Members per segment',
      'Average recency (days)',
      'loans_last_90d',
    ]) {
      expect(html).toContain(text);
    }
    expect(html.match(/<svg /g)).toHaveLength(7);
    // Nothing to fetch: no scripts, stylesheets, images, fonts or links out.
    expect(html).not.toMatch(/<script|<link|<img|<iframe|\bsrc=|href=|url\(|@import|https?:/i);
  });

  it('says so when the baseline wins, and when parity failed', () => {
    const html = renderModelCard(metadata({ headlineMetric: { name: 'auc', value: 0.65, higherIsBetter: true }, parity: { maxAbsError: null, tolerance: 1e-5, passed: false, rows: 10 } }));
    expect(html).toContain('<strong>The baseline does better than the model on this measure.</strong>');
    expect(html).toContain('Parity failed.');
  });

  it('says when the training rows are a sample of their window, and not otherwise', () => {
    const base = metadata();
    const sampled = renderModelCard(metadata({ trainingData: { ...base.trainingData, rows: { train: 1_999_000, test: 600_000, sampledFrom: 3_700_000 } } }));
    expect(sampled).toMatch(/1.999.000 for training \(a seeded, time-stratified sample of the 3.700.000 in its window\), 600.000 held out/);
    expect(renderModelCard(base)).not.toContain('sample of the');
  });

  it('escapes text from metadata', () => {
    const html = renderModelCard(metadata({ predicts: '<b>risk</b> & "more"', notes: '<script>alert(1)</script>' }), [
      { kind: 'segment-profiles', measures: ['<m>'], segments: [{ name: 'A&B', members: 1, values: [1] }] },
    ]);
    expect(html).toContain('&lt;b&gt;risk&lt;/b&gt; &amp; &quot;more&quot;');
    expect(html).not.toContain('<script>');
    expect(html).toContain('A&amp;B');
  });

  it('rejects an unknown chart kind at run time too', () => {
    expect(() => renderChart({ kind: 'pie' } as unknown as ChartData)).toThrow('no renderer for chart kind pie');
  });
});

describe('writeModelCard and registration with charts', () => {
  it('writes card.html and charts.json into the version, hashed like every artefact', async () => {
    const modelsDir = tempModelsDir();
    const scorer = { weights: [0.5, -0.25, 1], bias: 0.1 };
    const { metadata: registered, dir } = await registerVersion(modelsDir, {
      metadata: churnDraft(0.81),
      onnxBytes: logisticModel(scorer),
      parity: parityFor(scorer),
      charts: CHARTS,
      renderCard: (metadata) => renderModelCard(metadata, CHARTS),
      extraFiles: { 'similar.onnx': logisticModel(scorer) },
      stage: 'experiments',
    });
    expect(registered.files.map((f) => f.path)).toEqual(['card.html', 'charts.json', 'parity.json', 'similar.onnx']);
    expect(readFileSync(path.join(dir, 'card.html'), 'utf8')).toBe(renderModelCard(registered, CHARTS));
    expect((await validateVersion(modelsDir, 'churn', '1.0.0')).passed).toBe(true);

    const file = writeModelCard(tempModelsDir(), registered, CHARTS);
    expect(path.basename(file)).toBe('card.html');
    expect(readFileSync(file, 'utf8')).toContain('ROC curve');
  });
});
