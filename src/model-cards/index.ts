/**
 * Model cards: one self-contained HTML page per model version that a librarian can read
 * without help — what the model predicts, what it learned from, how it does next to a simple
 * baseline (and, on simulated data, next to the truth), and whether the served ONNX file
 * answers like the trained model. Charts are inline SVG; the page fetches nothing.
 *
 * The card says nothing about the version's stage: stages change as versions move, the card
 * is written once and stays true.
 */
import path from 'node:path';
import { writeFileAtomic } from '../registry/files';
import { CARD_FILE } from '../registry';
import type { BaselineMetrics, ModelMetadata, TensorSpec } from '../registry/types';
import type { ModelHealth } from '../monitoring/monitor';
import { barChart, escapeXml, formatNumber, lineChart } from './svg';

export { CARD_FILE };

/** How often the model was right at each threshold; points ordered by threshold. */
export interface RocChart {
  kind: 'roc';
  points: { fpr: number; tpr: number }[];
  auc?: number;
  baseline?: { name: string; points: { fpr: number; tpr: number }[]; auc?: number };
}

/** Predictions grouped into bins of predicted probability, with what actually happened. */
export interface CalibrationChart {
  kind: 'calibration';
  bins: { predicted: number; observed: number; count: number }[];
}

export interface PrecisionRecallAtKChart {
  kind: 'precision-recall-at-k';
  points: { k: number; precision: number; recall: number }[];
  baseline?: { name: string; points: { k: number; precision: number; recall: number }[] };
}

export interface ForecastChart {
  kind: 'forecast';
  /** What is forecast, e.g. "Weekly loans, all branches" or a book's title. */
  title: string;
  /** Unit of the values, e.g. "loans per week". */
  unit: string;
  points: { period: string; actual: number | null; forecast: number | null; low?: number; high?: number }[];
}

export interface SegmentProfilesChart {
  kind: 'segment-profiles';
  /** e.g. ["recency (days)", "frequency (loans)", "monetary (loan days)"]. */
  measures: string[];
  /** `values` follow `measures`: the segment's average of each. */
  segments: { name: string; members: number; values: number[] }[];
}

export type ChartData = RocChart | CalibrationChart | PrecisionRecallAtKChart | ForecastChart | SegmentProfilesChart;

function figure(svgs: string[], caption: string): string {
  return `<figure>${svgs.join('')}<figcaption>${escapeXml(caption)}</figcaption></figure>`;
}

/** Observed rate against predicted probability, beside the diagonal of perfect calibration. */
function calibrationLines(title: string, label: string, points: [number, number][]): string {
  return lineChart({
    title,
    xLabel: 'predicted probability',
    yLabel: 'observed rate',
    xDomain: [0, 1],
    yDomain: [0, 1],
    series: [
      { label, points, markers: true },
      { label: 'perfectly calibrated', points: [[0, 0], [1, 1]], dashed: true },
    ],
  });
}

function present<T>(points: (T | null)[]): T[] {
  return points.filter((p): p is T => p !== null);
}

export function renderChart(chart: ChartData): string {
  switch (chart.kind) {
    case 'roc': {
      const label = (name: string, auc?: number): string => (auc === undefined ? name : `${name} (AUC ${formatNumber(auc)})`);
      const series = [{ label: label('this model', chart.auc), points: chart.points.map((p): [number, number] => [p.fpr, p.tpr]) }];
      if (chart.baseline) series.push({ label: label(chart.baseline.name, chart.baseline.auc), points: chart.baseline.points.map((p): [number, number] => [p.fpr, p.tpr]) });
      return figure(
        [lineChart({ title: 'ROC curve', xLabel: 'false alarms (false positive rate)', yLabel: 'cases caught (true positive rate)', xDomain: [0, 1], yDomain: [0, 1], series: [...series, { label: 'guessing', points: [[0, 0], [1, 1]], dashed: true }] })],
        'Each point is one alarm threshold: how many of the cases that happened the model flags, against how many it flags by mistake. The higher and further left the curve, the better; the dashed diagonal is guessing.',
      );
    }
    case 'calibration':
      return figure(
        [
          calibrationLines('Calibration', 'this model', chart.bins.map((b): [number, number] => [b.predicted, b.observed])),
        ],
        `Held-out predictions grouped by predicted probability (${chart.bins.map((b) => formatNumber(b.count)).join(', ')} rows per bin), against how often the event then happened. Points on the diagonal mean "a 30% risk" really happens about 30% of the time.`,
      );
    case 'precision-recall-at-k': {
      const series = [
        { label: 'precision', points: chart.points.map((p): [number, number] => [p.k, p.precision]), markers: true },
        { label: 'recall', points: chart.points.map((p): [number, number] => [p.k, p.recall]), markers: true },
      ];
      if (chart.baseline) {
        series.push(
          { label: `precision, ${chart.baseline.name}`, points: chart.baseline.points.map((p): [number, number] => [p.k, p.precision]), markers: true },
          { label: `recall, ${chart.baseline.name}`, points: chart.baseline.points.map((p): [number, number] => [p.k, p.recall]), markers: true },
        );
      }
      return figure(
        [lineChart({ title: 'Precision and recall at k', xLabel: 'number of recommendations shown (k)', yLabel: 'share', yDomain: [0, 1], series: series.map((s, i) => ({ ...s, dashed: i >= 2 })) })],
        'Precision: of the k books recommended, the share the member went on to borrow. Recall: of the books the member went on to borrow, the share that were among the k recommended.',
      );
    }
    case 'forecast': {
      const indexed = (value: (p: ForecastChart['points'][number]) => number | null | undefined): [number, number][] =>
        present(chart.points.map((p, i): [number, number] | null => {
          const v = value(p);
          return v === null || v === undefined ? null : [i, v];
        }));
      const lower = indexed((p) => p.low);
      const upper = indexed((p) => p.high);
      return figure(
        [
          lineChart({
            title: chart.title,
            xLabel: 'period',
            yLabel: chart.unit,
            xCategories: chart.points.map((p) => p.period),
            series: [
              { label: 'actual', points: indexed((p) => p.actual) },
              { label: 'forecast', points: indexed((p) => p.forecast), dashed: true },
            ],
            band: lower.length > 0 && lower.length === upper.length ? { label: 'forecast range', lower, upper } : undefined,
            width: 560,
          }),
        ],
        'Solid: what happened. Dashed: what the model forecast for the same periods without seeing them; the shaded range is where it expects the value to fall.',
      );
    }
    case 'segment-profiles': {
      const names = chart.segments.map((s) => s.name);
      const charts = [barChart({ title: 'Members per segment', yLabel: 'members', categories: names, values: chart.segments.map((s) => s.members) })];
      chart.measures.forEach((measure, m) => {
        charts.push(barChart({ title: `Average ${measure}`, yLabel: measure, categories: names, values: chart.segments.map((s) => s.values[m] ?? 0) }));
      });
      return figure(charts, 'How the segments differ: their size, then the average of each measure the segmentation uses.');
    }
    default: {
      const unhandled: never = chart;
      throw new Error(`no renderer for chart kind ${(unhandled as { kind: string }).kind}`);
    }
  }
}

/** Plain-language glosses for metrics the trainers commonly report; other names are shown as given. */
const METRIC_GLOSSARY: Record<string, string> = {
  auc: 'how well the model ranks cases that happened above those that did not (0.5 is guessing, 1 is perfect)',
  rocauc: 'how well the model ranks cases that happened above those that did not (0.5 is guessing, 1 is perfect)',
  prauc: 'precision averaged over recall; rewards finding rare cases without false alarms',
  brier: 'mean squared gap between predicted probability and outcome (lower is better)',
  brierscore: 'mean squared gap between predicted probability and outcome (lower is better)',
  logloss: 'penalty for confident wrong predictions (lower is better)',
  accuracy: 'share of predictions that were right',
  mae: 'average size of the forecast error, in the forecast unit (lower is better)',
  rmse: 'typical size of the forecast error, weighting large misses more (lower is better)',
  mape: 'average forecast error as a percentage of the actual value (lower is better)',
  smape: 'average forecast error as a percentage, symmetric in over- and under-forecasts (lower is better)',
  silhouette: 'how well separated the segments are (-1 to 1, higher is better)',
  precisionat10: 'share of the 10 recommended books the member went on to borrow',
  recallat10: 'share of the books the member went on to borrow that were among the 10 recommended',
  ndcgat10: 'recommendation quality that rewards putting the right books first (0 to 1)',
  hitrateat10: 'share of members who borrowed at least one of their 10 recommendations',
};

function gloss(metric: string): string {
  return METRIC_GLOSSARY[metric.toLowerCase().replace(/[^a-z0-9]/g, '')] ?? '';
}

function value(metrics: Record<string, number> | undefined, name: string): string {
  const v = metrics?.[name];
  return v === undefined ? '—' : escapeXml(formatNumber(v));
}

function headlineSummary(metadata: ModelMetadata): string {
  const { name, value: modelValue, higherIsBetter } = metadata.headlineMetric;
  const baseline = metadata.metrics.baseline;
  const baselineValue = baseline.metrics[name];
  const oracleValue = metadata.metrics.oracle?.metrics[name];
  const parts = [`On held-out data the model's <strong>${escapeXml(name)}</strong> is <strong>${escapeXml(formatNumber(modelValue))}</strong>`];
  if (baselineValue !== undefined) {
    parts.push(`; the baseline (${escapeXml(baseline.name)}) scores ${escapeXml(formatNumber(baselineValue))}`);
  }
  if (oracleValue !== undefined) parts.push(`, and the true probabilities behind the simulated data score ${escapeXml(formatNumber(oracleValue))}`);
  parts.push('. ');
  if (baselineValue !== undefined) {
    const better = higherIsBetter ? modelValue > baselineValue : modelValue < baselineValue;
    parts.push(
      better
        ? 'The model does better than the baseline.'
        : modelValue === baselineValue
          ? 'The model does no better than the baseline.'
          : '<strong>The baseline does better than the model on this measure.</strong>',
    );
  }
  const glossText = gloss(name);
  if (glossText) parts.push(` (${escapeXml(name)}: ${escapeXml(glossText)}.)`);
  return `<p class="headline">${parts.join('')}</p>`;
}

function metricsTable(metadata: ModelMetadata): string {
  const { heldOut, baseline, otherBaselines = [], oracle } = metadata.metrics;
  const baselines: BaselineMetrics[] = [baseline, ...otherBaselines];
  const names = [...new Set([...Object.keys(heldOut), ...baselines.flatMap((b) => Object.keys(b.metrics)), ...Object.keys(oracle?.metrics ?? {})])];
  const header = ['metric', 'this model', ...baselines.map((b) => `baseline: ${b.name}`), ...(oracle ? ['oracle (truth)'] : [])];
  const rows = names.map((name) => {
    const cells = [value(heldOut, name), ...baselines.map((b) => value(b.metrics, name)), ...(oracle ? [value(oracle.metrics, name)] : [])];
    const isHeadline = name === metadata.headlineMetric.name;
    const label = `${escapeXml(name)}${isHeadline ? ' ★' : ''}${gloss(name) ? `<br><small>${escapeXml(gloss(name))}</small>` : ''}`;
    return `<tr${isHeadline ? ' class="headline-row"' : ''}><th scope="row">${label}</th>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`;
  });
  return `<table><thead><tr>${header.map((h) => `<th scope="col">${escapeXml(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

const orDash = (x: number | null): string => (x === null ? '—' : formatNumber(x));

/** What each served risk level does on the held-out rows, next to flagging the same share at random. */
function thresholdsSection(metadata: ModelMetadata): string[] {
  const thresholds = metadata.metrics.thresholds ?? [];
  if (thresholds.length === 0) return [];
  const header = ['level', 'at probability', 'chosen by', 'flags', 'precision', 'at random', 'lift', 'recall', 'TP / FP / FN / TN'];
  const rows = thresholds.map((t) => {
    const c = t.confusion;
    const cells = [
      t.level,
      `≥ ${formatNumber(t.value)}`,
      t.rule,
      `${formatNumber(t.share * 100)}%`,
      orDash(t.precision),
      formatNumber(t.baseRate),
      orDash(t.lift),
      formatNumber(t.recall),
      `${c.truePositives} / ${c.falsePositives} / ${c.falseNegatives} / ${c.trueNegatives}`,
    ];
    return `<tr>${cells.map((cell) => `<td>${escapeXml(cell)}</td>`).join('')}</tr>`;
  });
  return [
    '<h2>What the served levels do</h2>',
    '<p>A prediction is at a level when its probability reaches the level\'s value, chosen on validation data by the rule shown and ' +
      'measured here on the held-out rows. Precision: of those flagged, the share it happened to. At random: the precision of flagging ' +
      'as many rows blindly (the base rate). Recall: of all it happened to, the share flagged.</p>',
    `<table><thead><tr>${header.map((h) => `<th scope="col">${escapeXml(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`,
  ];
}

/** AUC on parts of the held-out rows, next to the simulator's truth on the same rows. */
function slicesSection(metadata: ModelMetadata): string[] {
  const slices = metadata.metrics.slices ?? [];
  if (slices.length === 0) return [];
  const rows = slices.map((s) => {
    const ratio = s.auc !== null && s.oracleAuc !== null ? formatNumber(s.auc / s.oracleAuc) : '—';
    return `<tr>${[s.name, formatNumber(s.rows), formatNumber(s.positiveRate), orDash(s.auc), orDash(s.oracleAuc), ratio].map((c) => `<td>${escapeXml(c)}</td>`).join('')}</tr>`;
  });
  const header = ['slice', 'rows', 'positive rate', 'AUC', 'oracle AUC', 'of the oracle'];
  return [
    '<h2>By slice</h2>',
    `<table><thead><tr>${header.map((h) => `<th scope="col">${escapeXml(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`,
  ];
}

/** Choices made on validation folds inside the training window: each candidate's score per fold. */
function backtestsSection(metadata: ModelMetadata): string[] {
  return (metadata.metrics.backtests ?? []).flatMap((b) => {
    const header = ['candidate', ...b.folds.map((f, i) => `fold ${i + 1}: ${f}`), 'mean ± sd'];
    const rows = b.candidates.map((c) => {
      const cells = [`${c.name === b.chosen ? '* ' : ''}${c.name}`, ...c.scores.map((x) => formatNumber(x)), `${formatNumber(c.mean)} ± ${formatNumber(c.sd)}`];
      return `<tr>${cells.map((cell) => `<td>${escapeXml(cell)}</td>`).join('')}</tr>`;
    });
    return [
      `<h2>Chosen by backtest: ${escapeXml(b.name)}</h2>`,
      `<p>${escapeXml(`${b.criterion} on each validation fold inside the training window (lower is better); served: ${b.chosen} (*).`)}</p>`,
      `<table><thead><tr>${header.map((h) => `<th scope="col">${escapeXml(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`,
    ];
  });
}

function paritySection(metadata: ModelMetadata): string {
  const { passed, rows, maxAbsError, tolerance } = metadata.parity;
  const error = maxAbsError === null ? 'could not be measured' : `was at most ${formatNumber(maxAbsError)}`;
  return (
    `<p class="${passed ? 'pass' : 'fail'}">${passed ? '✔ Parity holds.' : '✘ Parity failed.'} ` +
    `${escapeXml(formatNumber(rows))} rows scored by the trained model were scored again by the exported ONNX file that the library's servers run; the difference ${escapeXml(error)} (allowed: ${escapeXml(formatNumber(tolerance))}, ids and labels must match exactly).</p>`
  );
}

function tensorList(tensors: TensorSpec[]): string {
  return tensors.map((t) => `<code>${escapeXml(t.name)}</code> ${escapeXml(t.elementType)} [${escapeXml(t.shape.join(', '))}]${t.description ? ` — ${escapeXml(t.description)}` : ''}`).join('<br>');
}

/** " (a seeded sample of the N in its window)" when the training rows are a sample, else nothing. */
function sampledFrom(rows: ModelMetadata['trainingData']['rows']): string {
  return rows.sampledFrom === undefined ? '' : ` (a seeded, time-stratified sample of the ${escapeXml(formatNumber(rows.sampledFrom))} in its window)`;
}

function definitionList(items: [string, string][]): string {
  return `<dl>${items.map(([term, detail]) => `<dt>${escapeXml(term)}</dt><dd>${detail}</dd>`).join('')}</dl>`;
}

const TASK_WORDS: Record<ModelMetadata['task'], string> = {
  classification: 'a risk score between 0 and 1',
  recommendation: 'a ranked list of books',
  segmentation: 'a named group of members',
  forecast: 'a forecast with a likely range',
};

const STYLE = `
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem;color:#222;line-height:1.5}
h1{margin-bottom:.2rem}h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
.lede{font-size:1.15rem;color:#444}.headline{font-size:1.05rem}
table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #ddd;padding:.3rem .6rem;text-align:left;vertical-align:top}
td{font-variant-numeric:tabular-nums}thead th{background:#f3f5f8}.headline-row{background:#fff8e1}small{color:#666}
figure{margin:1rem 0;display:flex;flex-wrap:wrap;gap:1rem}figcaption{flex-basis:100%;color:#555;font-size:.9rem}
svg{max-width:100%;height:auto;background:#fff}dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{font-weight:600}dd{margin:0}
.pass{color:#1e6b2e}.fail{color:#a4161a;font-weight:600}code{font-size:.9em}
`;

/** What the live monitor knows of a version now: one health per window (day, week, 30 days). */
export interface LiveCardSection {
  windows: ModelHealth[];
}

const WINDOW_WORDS: Record<string, string> = { day: 'last day', week: 'last 7 days', '30d': 'last 30 days' };

function intervalText(m: { value: number; low: number; high: number }): string {
  if (!Number.isFinite(m.value)) return '–';
  const range = Number.isFinite(m.low) && Number.isFinite(m.high) ? ` <small>[${escapeXml(formatNumber(m.low))}, ${escapeXml(formatNumber(m.high))}]</small>` : '';
  return `${escapeXml(formatNumber(m.value))}${range}`;
}

/**
 * "How it does live": the monitor's figures per window with 95% intervals (estimates marked),
 * the calibration of the last 30 days' known outcomes beside the held-out figure, drift per
 * feature over the last 7 days and the alert conditions that hold.
 */
export function renderLiveSection({ windows }: LiveCardSection): string {
  if (windows.length === 0) return '<h2>How it does live</h2><p>The live monitor has not seen a prediction of this version yet.</p>';
  const first = windows[0];
  const names = [...new Set(windows.flatMap((w) => w.metrics.map((m) => `${m.estimated ? 'estimated ' : ''}${m.name}`)))];
  const header = ['figure', ...windows.map((w) => WINDOW_WORDS[w.window] ?? w.window)];
  const rows = names.map((name) => {
    const cells = windows.map((w) => {
      const m = w.metrics.find((x) => `${x.estimated ? 'estimated ' : ''}${x.name}` === name);
      return m ? `${intervalText(m)}<br><small>${escapeXml(formatNumber(m.rows))} rows</small>` : '–';
    });
    return `<tr><th scope="row">${escapeXml(name)}</th>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`;
  });
  const parts = [
    '<h2>How it does live</h2>',
    `<p>As of library day ${escapeXml(first?.asOf ?? '')} (computed ${escapeXml(first?.computedAt ?? '')}), from the predictions it served and what circulation says happened since. Ranges are 95% intervals. "Estimated" figures come from the served probabilities before outcomes are known (CBPE) and hold only as far as the probabilities are calibrated.</p>`,
    names.length > 0 ? `<table><thead><tr>${header.map((h) => `<th scope="col">${escapeXml(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>` : '<p>No outcome is known yet.</p>',
  ];
  const month = windows.find((w) => w.window === '30d');
  if (month && month.calibration.length > 0) {
    parts.push(
      figure(
        [
          calibrationLines('Live calibration, last 30 days', 'live outcomes', month.calibration.map((b): [number, number] => [b.meanPredicted, b.observed.value])),
        ],
        `Predictions whose outcome became known in the last 30 library days, grouped by predicted probability (${month.calibration.map((b) => formatNumber(b.rows)).join(', ')} rows per bin), against how often the event happened.`,
      ),
    );
  }
  const week = windows.find((w) => w.window === 'week');
  if (week) {
    parts.push('<h3>Drift, last 7 days</h3>');
    if (!week.driftReference) parts.push('<p>No reference: this version carries no training distributions to compare with.</p>');
    else if (week.drift.length === 0) parts.push('<p>No live values to compare yet.</p>');
    else {
      parts.push(
        `<table><thead><tr><th scope="col">feature</th><th scope="col">test</th><th scope="col">statistic</th><th scope="col">threshold</th><th scope="col">PSI</th><th scope="col">values</th><th scope="col">drifted</th></tr></thead><tbody>${week.drift
          .map((d) => `<tr><td><code>${escapeXml(d.feature === '__score__' ? 'score' : d.feature)}</code></td><td>${escapeXml(d.test)}</td><td>${escapeXml(formatNumber(d.statistic))}${d.pValue === null ? '' : ` <small>p ${escapeXml(formatNumber(d.pValue))}</small>`}</td><td>${escapeXml(formatNumber(d.threshold))}</td><td>${escapeXml(formatNumber(d.psi))}</td><td>${escapeXml(formatNumber(d.count))}</td><td class="${d.drifted ? 'fail' : 'pass'}">${d.drifted ? 'yes' : 'no'}</td></tr>`)
          .join('')}</tbody></table>`,
      );
    }
    parts.push(week.alerts.length === 0 ? '<p class="pass">No alert condition holds.</p>' : `<ul>${week.alerts.map((a) => `<li class="fail">${escapeXml(a.name)} (${escapeXml(a.severity)}): ${escapeXml(a.summary)}</li>`).join('')}</ul>`);
  }
  return parts.join('\n');
}

export function renderModelCard(metadata: ModelMetadata, charts: ChartData[] = [], live?: LiveCardSection): string {
  const title = `${metadata.name} model, version ${metadata.version}`;
  const { trainingData } = metadata;
  const hyperparameters = Object.entries(metadata.hyperparameters)
    .map(([key, v]) => `<tr><th scope="row">${escapeXml(key)}</th><td>${escapeXml(Array.isArray(v) ? v.join(', ') : String(v))}</td></tr>`)
    .join('');
  const sections = [
    `<h1>${escapeXml(title)}</h1>`,
    `<p class="lede">${escapeXml(metadata.predicts)}</p>`,
    definitionList([
      ['Answers with', escapeXml(TASK_WORDS[metadata.task])],
      ['Method', escapeXml(metadata.algorithm)],
      ['Trained', escapeXml(metadata.created)],
    ]),
    '<h2>How well it does</h2>',
    headlineSummary(metadata),
    metricsTable(metadata),
    ...thresholdsSection(metadata),
    ...slicesSection(metadata),
    ...backtestsSection(metadata),
    ...(charts.length > 0 ? ['<h2>Pictures</h2>', ...charts.map(renderChart)] : []),
    ...(live ? [renderLiveSection(live)] : []),
    '<h2>What it learned from</h2>',
    definitionList([
      ['Period', `${escapeXml(trainingData.window.from)} to ${escapeXml(trainingData.window.to)}`],
      ['"Today" for the features', escapeXml(trainingData.asOf)],
      ['Rows', `${escapeXml(formatNumber(trainingData.rows.train))} for training${sampledFrom(trainingData.rows)}, ${escapeXml(formatNumber(trainingData.rows.test))} held out for testing`],
      ...(trainingData.source ? ([['Source', escapeXml(trainingData.source)]] as [string, string][]) : []),
      ['Random seed', escapeXml(String(trainingData.seed))],
    ]),
    '<h2>Does the served model answer like the trained one?</h2>',
    paritySection(metadata),
    '<h2>What it looks at</h2>',
    `<table><thead><tr><th scope="col">#</th><th scope="col">feature</th><th scope="col">kind</th><th scope="col">meaning</th></tr></thead><tbody>${metadata.featureSpec
      .map((f, i) => `<tr><td>${i + 1}</td><td><code>${escapeXml(f.name)}</code></td><td>${escapeXml(f.type)}</td><td>${escapeXml(f.description)}</td></tr>`)
      .join('')}</tbody></table>`,
    ...(metadata.notes ? ['<h2>Notes</h2>', `<p>${escapeXml(metadata.notes)}</p>`] : []),
    '<h2>Technical details</h2>',
    definitionList([
      ['Inputs', tensorList(metadata.inputs)],
      ['Outputs', tensorList(metadata.outputs)],
      ['model.onnx sha256', `<code>${escapeXml(metadata.sha256)}</code>`],
    ]),
    ...(hyperparameters ? [`<table><thead><tr><th scope="col">hyperparameter</th><th scope="col">value</th></tr></thead><tbody>${hyperparameters}</tbody></table>`] : []),
  ];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeXml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
${sections.join('\n')}
</body>
</html>
`;
}

/** Writes card.html into a version directory (atomically: a reader never sees half a card). */
export function writeModelCard(dir: string, metadata: ModelMetadata, charts: ChartData[] = []): string {
  const file = path.join(dir, CARD_FILE);
  writeFileAtomic(file, renderModelCard(metadata, charts));
  return file;
}
