import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { graphMemory, sampleProcess, sharedPssBytes, UsageWindow } from '../../bench/processes';

const linux = process.platform === 'linux';
(linux ? describe : describe.skip)('graph memory from /proc', () => {
  let child: ChildProcess;

  beforeAll(async () => {
    // A second Node process: it maps the same binary and libraries as this one.
    child = spawn(process.execPath, ['-e', 'process.stdout.write("up\\n"); setInterval(() => {}, 1000)'], { stdio: ['ignore', 'pipe', 'inherit'] });
    await once(child.stdout!, 'data');
  });

  afterAll(() => {
    child.kill();
  });

  it('splits a process into its anonymous pages and its share of file-backed pages', () => {
    const sample = sampleProcess(process.pid)!;
    expect(sample.anonBytes).toBeGreaterThan(0);
    expect(sample.anonBytes).toBeLessThan(sample.rssBytes);
    const shared = sharedPssBytes(process.pid)!;
    expect(shared).toBeGreaterThan(0);
    expect(sample.anonBytes + shared).toBeLessThanOrEqual(sample.rssBytes + 2 ** 20);
  });

  it('counts pages two processes share once, where summed RSS counts them twice', () => {
    const memory = graphMemory([process.pid, child.pid!]);
    expect(memory.residentMb).toBeCloseTo(memory.privateMb + memory.sharedMb, 6);
    // Both map the Node binary: its pages are in each RSS, but split between the two in the shared share.
    const fileRssMb = memory.rssSumMb - memory.privateMb;
    expect(memory.sharedMb).toBeLessThan(fileRssMb * 0.8);
    expect(memory.residentMb).toBeLessThan(memory.rssSumMb);
  });

  it('reports the peak of the graph sum over a window, leaving out processes not in the graph', async () => {
    const window = new UsageWindow(
      new Map([
        ['graph', child.pid!],
        ['load generator', process.pid],
      ]),
      new Set(['graph']),
      20,
    );
    await new Promise((resolve) => setTimeout(resolve, 60));
    window.finish();
    const peak = window.graphPeak(10);
    const childRssMb = sampleProcess(child.pid!)!.rssBytes / 2 ** 20;
    expect(peak.rssSumMb).toBeGreaterThan(0);
    expect(peak.rssSumMb).toBeLessThan(childRssMb * 1.5);
    expect(peak.residentMb).toBeCloseTo(peak.privateMb + 10, 6);
  });
});
