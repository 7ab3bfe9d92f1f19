/**
 * `node dist/bench/profile-summary.js <file.cpuprofile> [--top N] [--skip SECONDS] [--window FROM_US,TO_US]`: where a process's CPU went,
 * from a V8 profile written by `node --cpu-prof` (see `npm run bench -- --profile DIR`): self
 * time by package (node_modules/<name>, node: internals, the project's own folders) and by
 * function, as shares of the samples.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  /** Monotonic microseconds (the clock of `process.hrtime`) of the first sample's base. */
  startTime?: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** Which package or part of the project a script URL belongs to. */
export function bucketOf(url: string): string {
  if (url === '') return '(native/idle/gc)';
  if (url.startsWith('node:')) return 'node internals';
  const modules = url.lastIndexOf('node_modules/');
  if (modules >= 0) {
    const rest = url.slice(modules + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return `shelfmark ${url.slice(dist + 6).split('/').slice(0, 2).join('/')}`;
  return url;
}

/**
 * `skipSeconds` leaves out the start (module loading, warming memos) to see the steady state;
 * `window` keeps only the samples between two instants of the monotonic clock (microseconds, as
 * `process.hrtime.bigint() / 1000n` reads it in any process of the machine), e.g. a run of
 * requests a benchmark timed.
 */
export function summariseProfile(profile: CpuProfile, top = 25, skipSeconds = 0, window?: { fromUs: number; toUs: number }) {
  const self = new Map<number, number>();
  if (profile.samples && profile.timeDeltas) {
    let elapsed = 0;
    const start = profile.startTime ?? 0;
    profile.samples.forEach((id, i) => {
      const delta = Math.max(0, profile.timeDeltas![i] ?? 0);
      elapsed += delta;
      const inWindow = !window || (start + elapsed >= window.fromUs && start + elapsed <= window.toUs);
      if (elapsed >= skipSeconds * 1e6 && inWindow) self.set(id, (self.get(id) ?? 0) + delta);
    });
  } else {
    for (const node of profile.nodes) self.set(node.id, node.hitCount ?? 0);
  }
  let total = 0;
  const byBucket = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const node of profile.nodes) {
    const t = self.get(node.id) ?? 0;
    if (t === 0) continue;
    total += t;
    const { functionName, url, lineNumber } = node.callFrame;
    const bucket = functionName === '(idle)' ? '(idle)' : functionName === '(garbage collector)' ? '(garbage collector)' : bucketOf(url);
    byBucket.set(bucket, (byBucket.get(bucket) ?? 0) + t);
    const name = `${functionName || '(anonymous)'} ${url ? `${url.replace(/^.*\/(node_modules|dist)\//, '$1/')}:${lineNumber + 1}` : ''}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + t);
  }
  const share = (entries: Map<string, number>) =>
    [...entries].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, t]) => ({ name, percent: (t / total) * 100 }));
  return { totalMs: total / 1000, byBucket: share(byBucket), byFunction: share(byFunction) };
}

function main(): void {
  const [file, ...rest] = process.argv.slice(2);
  if (!file || file === '--help') {
    process.stdout.write('usage: node dist/bench/profile-summary.js <file.cpuprofile> [--top N] [--skip SECONDS] [--window FROM_US,TO_US]\n');
    process.exit(file ? 0 : 2);
  }
  const topIndex = rest.indexOf('--top');
  const top = topIndex >= 0 ? Number(rest[topIndex + 1]) : 25;
  const skipIndex = rest.indexOf('--skip');
  const skip = skipIndex >= 0 ? Number(rest[skipIndex + 1]) : 0;
  const windowIndex = rest.indexOf('--window');
  const [fromUs, toUs] = windowIndex >= 0 ? (rest[windowIndex + 1] ?? '').split(',').map(Number) : [];
  const window = fromUs !== undefined && toUs !== undefined ? { fromUs, toUs } : undefined;
  const summary = summariseProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, top, skip, window);
  process.stdout.write(`${file}: ${summary.totalMs.toFixed(0)} ms sampled\n\nself time by package:\n`);
  for (const b of summary.byBucket) process.stdout.write(`  ${b.percent.toFixed(1).padStart(5)}%  ${b.name}\n`);
  process.stdout.write('\nself time by function:\n');
  for (const f of summary.byFunction) process.stdout.write(`  ${f.percent.toFixed(1).padStart(5)}%  ${f.name}\n`);
}

if (require.main === module) main();
