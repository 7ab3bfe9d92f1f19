import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.join(__dirname, '..', '..', '..');

/** Runs the built module in a fresh process, so the module cache shows what tracing loaded. */
function probe(endpoint: string | undefined): { sdkLoaded: boolean; headers: Record<string, string>; ran: boolean } {
  const script = `
    const tracing = require('./dist/src/tracing');
    const started = tracing.startTracing(process.argv[1] || undefined, 'probe');
    const headers = {};
    tracing.injectTraceContext(headers);
    tracing.inSpan('x', {}, async () => true).then(async (ran) => {
      const sdkLoaded = Object.keys(require.cache).some((file) => file.includes('@opentelemetry/sdk-trace'));
      await started.shutdown();
      process.stdout.write(JSON.stringify({ sdkLoaded, headers, ran }));
    });`;
  return JSON.parse(execFileSync(process.execPath, ['-e', script, endpoint ?? ''], { cwd: ROOT, encoding: 'utf8' })) as ReturnType<typeof probe>;
}

describe('tracing', () => {
  it('without an endpoint loads no SDK and adds no headers', () => {
    expect(probe(undefined)).toEqual({ sdkLoaded: false, headers: {}, ran: true });
  });

  it('with an endpoint loads the SDK', () => {
    // A closed loopback port: nothing is exported, and shutdown does not wait for an answer.
    expect(probe('http://127.0.0.1:9').sdkLoaded).toBe(true);
  });
});
