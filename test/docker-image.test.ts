/**
 * The image builds from exactly what the Dockerfile copies. No Docker engine runs here, so the
 * build stage's file set is rebuilt in a temporary folder from the Dockerfile's COPY lines (and
 * `.dockerignore`), and its build command runs there. What this proves: the sources the image
 * copies compile and bundle on their own, and the runtime stage's files start every command the
 * compose file runs. What it does not: `npm ci` itself (the repository's node_modules stands in
 * for it, development dependencies included as `npm ci` installs them) and `npm prune`.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { copyFromContext, parseDockerfile } from './compose/dockerfile';

const ROOT = path.join(__dirname, '..');
const stages = parseDockerfile(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
const work = mkdtempSync(path.join(tmpdir(), 'shelfmark-image-'));

afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs one stage into `<work>/<index>`; returns the stage's WORKDIR on disk. */
function buildStage(index: number): string {
  const stage = stages[index]!;
  const root = path.join(work, String(index));
  const app = path.join(root, stage.workdir);
  mkdirSync(app, { recursive: true });
  for (const step of stage.steps) {
    if (step.kind === 'copy') {
      if (step.from === undefined) {
        copyFromContext(ROOT, step.sources, step.destination, root, stage.workdir);
        continue;
      }
      const fromIndex = stages.findIndex((s) => s.name === step.from);
      expect(fromIndex).toBeGreaterThanOrEqual(0);
      const fromApp = path.join(work, String(fromIndex), stages[fromIndex]!.workdir);
      for (const source of step.sources) {
        const relative = path.posix.relative(stages[fromIndex]!.workdir, source);
        const into = path.join(app, step.destination);
        if (relative === 'node_modules') symlinkSync(path.join(ROOT, 'node_modules'), into);
        else cpSync(path.join(fromApp, relative), into, { recursive: true });
      }
    } else if (/^npm ci\b/.test(step.command)) {
      symlinkSync(path.join(ROOT, 'node_modules'), path.join(app, 'node_modules'));
    } else if (/^npm run build\b/.test(step.command)) {
      // `npm prune` would change the shared node_modules: only the build half runs.
      try {
        execFileSync('npm', ['run', '-s', 'build'], { cwd: app, stdio: 'pipe', env: { ...process.env, ...stage.env } });
      } catch (error) {
        const { stdout, stderr } = error as { stdout: Buffer; stderr: Buffer };
        throw new Error(`the image's build step failed:\n${stdout.toString()}${stderr.toString()}`);
      }
    } else {
      expect(step.command).toMatch(/^apt-get /);
    }
  }
  return app;
}

describe('Dockerfile', () => {
  it('builds from only the files it copies, and its runtime stage starts every compose command', () => {
    expect(stages).toHaveLength(2);
    buildStage(0);
    const app = buildStage(1);
    const runtime = stages[1]!;
    expect(runtime.cmd?.[0]).toBe('node');
    const compose = parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
      services: Record<string, { build?: string; command?: string[] }>;
    };
    const scripts = new Set([runtime.cmd![1]!]);
    for (const service of Object.values(compose.services)) {
      if (service.build === '.' && service.command?.[0] === 'node') scripts.add(service.command[1]!);
    }
    for (const script of scripts) {
      expect(existsSync(path.join(app, script))).toBe(true);
      const help = execFileSync('node', [script, '--help'], { cwd: app, env: { ...process.env, ...runtime.env, DATABASE_URL: 'sqlite::memory:' }, encoding: 'utf8' });
      expect(help).toMatch(/usage/i);
    }
  }, 300_000);
});
