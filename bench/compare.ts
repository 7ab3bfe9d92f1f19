/**
 * `node dist/bench/compare.js A.json B.json [...]`: benchmark results side by side, one row per
 * scenario and level, so two runs (before and after a change) can be compared. Each cell shows
 * p50 / p99 ms, requests/s, the graph's CPU ms per request, and the CPU other processes of the
 * machine used meanwhile (a busy neighbour explains a slow run).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface RunRow {
  scenario: string;
  mode: 'closed' | 'rate';
  level: number;
  load?: { requestsPerSecond: number; errors: number; latency: { p50: number; p95: number; p99: number } };
  cpuMsPerRequest?: { [process: string]: number };
  processes?: { name: string; cpuPercent: number }[];
}

interface Results {
  label: string | null;
  runs?: { records: RunRow[] };
}

export function rowsOf(results: Results): Map<string, RunRow> {
  const rows = new Map<string, RunRow>();
  for (const record of results.runs?.records ?? []) {
    if (!record.load) continue;
    rows.set(`${record.scenario} ${record.mode === 'closed' ? `c=${record.level}` : `${record.level}/s`}`, record);
  }
  return rows;
}

function cell(record: RunRow | undefined): string {
  if (!record?.load) return '-';
  const others = record.processes?.find((p) => p.name === 'other processes')?.cpuPercent;
  const { p50, p99 } = record.load.latency;
  const graph = (record.cpuMsPerRequest as { graph?: number } | undefined)?.graph;
  return `${p50.toFixed(1)}/${p99.toFixed(0)} ms ${record.load.requestsPerSecond.toFixed(0)}/s cpu ${graph?.toFixed(1) ?? '-'}${record.load.errors ? ` ERR ${record.load.errors}` : ''} (others ${others?.toFixed(0) ?? '-'}%)`;
}

function main(): void {
  const files = process.argv.slice(2);
  if (files.length === 0 || files.includes('--help')) {
    process.stdout.write('usage: node dist/bench/compare.js A.json B.json [...]\n');
    process.exit(files.length === 0 ? 2 : 0);
  }
  const runs = files.map((file) => ({ name: (JSON.parse(readFileSync(file, 'utf8')) as Results).label ?? path.basename(file, '.json'), rows: rowsOf(JSON.parse(readFileSync(file, 'utf8')) as Results) }));
  const keys = [...new Set(runs.flatMap((r) => [...r.rows.keys()]))];
  process.stdout.write(`| scenario | ${runs.map((r) => r.name).join(' | ')} |\n|---|${runs.map(() => '---').join('|')}|\n`);
  for (const key of keys) process.stdout.write(`| ${key} | ${runs.map((r) => cell(r.rows.get(key))).join(' | ')} |\n`);
}

if (require.main === module) main();
