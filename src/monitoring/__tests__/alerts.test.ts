/**
 * monitoring/alerts.yml: valid for Prometheus (`promtool check rules`), its unit tests pass
 * (`promtool test rules`), and every alert has a test where it fires and one where it does not.
 * The promtool runs are skipped, with the reason printed, only when promtool is not installed
 * (Debian's `prometheus` package; .ci/run installs it).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';

const ROOT = path.resolve(__dirname, '../../..');
const RULES = path.join(ROOT, 'monitoring/alerts.yml');
const TESTS = path.join(ROOT, 'monitoring/alerts.test.yml');

interface RuleFile {
  groups: Array<{ rules: Array<{ alert?: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }> }>;
}
interface TestFile {
  tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }> }>;
}

const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
const promtoolMissing = promtool.error ? `promtool is not installed (${promtool.error.message}); install Debian's prometheus package` : undefined;
if (promtoolMissing) console.warn(`skipping the promtool checks of monitoring/alerts.yml: ${promtoolMissing}`);

function runPromtool(args: string[]): { status: number | null; output: string } {
  const result = spawnSync('promtool', args, { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('monitoring/alerts.yml', () => {
  const rules = parse(readFileSync(RULES, 'utf8')) as RuleFile;
  const tests = parse(readFileSync(TESTS, 'utf8')) as TestFile;
  const alerts = rules.groups.flatMap((g) => g.rules).filter((r) => r.alert !== undefined);

  it('gives every alert a for:, a severity and summary and description annotations', () => {
    expect(alerts.length).toBeGreaterThanOrEqual(12);
    for (const rule of alerts) {
      expect({ alert: rule.alert, for: typeof rule.for, severity: rule.labels?.severity !== undefined, summary: typeof rule.annotations?.summary, description: typeof rule.annotations?.description }).toEqual({
        alert: rule.alert,
        for: 'string',
        severity: true,
        summary: 'string',
        description: 'string',
      });
    }
  });

  it('tests every alert both firing and not firing', () => {
    const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
    const coverage = alerts.map((rule) => {
      const own = cases.filter((c) => c.alertname === rule.alert);
      return { alert: rule.alert, fires: own.some((c) => (c.exp_alerts ?? []).length > 0), silent: own.some((c) => (c.exp_alerts ?? []).length === 0) };
    });
    expect(coverage).toEqual(alerts.map((rule) => ({ alert: rule.alert, fires: true, silent: true })));
    const known = new Set(alerts.map((rule) => rule.alert));
    expect(cases.map((c) => c.alertname).filter((name) => !known.has(name))).toEqual([]);
  });

  (promtoolMissing ? it.skip : it)('passes promtool check rules', () => {
    const { status, output } = runPromtool(['check', 'rules', RULES]);
    expect({ status, output }).toEqual({ status: 0, output: expect.stringContaining('SUCCESS') });
  });

  (promtoolMissing ? it.skip : it)('passes promtool test rules', () => {
    const { status, output } = runPromtool(['test', 'rules', TESTS]);
    expect({ status, output }).toEqual({ status: 0, output: expect.stringContaining('SUCCESS') });
  });
});
