/**
 * GraphiQL as an analyst meets it: headless Chromium (Debian's, driven by playwright-core)
 * opens GET / on a real gateway, puts a token in the header editor, runs the preloaded example
 * and sees the answer, and no request goes anywhere but the gateway on this machine.
 * Skipped, with the reason printed, on a machine without /usr/bin/chromium.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { startTestGraph, token, type TestGraph } from './helpers';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) process.stderr.write(`graphiql browser test skipped: ${CHROMIUM} is not installed (apt-get install chromium; .ci/run installs it)\n`);

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

describe('GraphiQL at GET /', () => {
  let graph: TestGraph;
  let origin: string;
  let browser: Browser | undefined;

  beforeAll(async () => {
    graph = await startTestGraph();
    origin = new URL(graph.graph.gatewayUrl).origin;
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await graph?.stop();
  });

  it('serves the page from the gateway with a policy that allows only the gateway itself', async () => {
    const response = await fetch(`${origin}/`, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toContain('<script src="/graphiql/graphiql.js"></script>');
    expect(html).not.toMatch(/https?:\/\//);
    expect(response.headers.get('content-security-policy')).toMatch(/default-src 'none'.*script-src 'self'.*connect-src 'self'/);
    const bundle = await fetch(`${origin}/graphiql/graphiql.js`);
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get('content-type')).toMatch(/javascript/);
    expect((await fetch(`${origin}/graphiql/nothing-here.js`)).status).toBe(404);
  });

  (hasChromium ? it : it.skip)('runs a query with a token from the header editor, and nothing leaves the machine', async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const context = await browser.newContext();
    const requested: string[] = [];
    context.on('request', (request) => requested.push(request.url()));
    const page = await context.newPage();
    const consoleErrors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });

    await page.goto(`${origin}/`);
    await page.locator('.graphiql-container').waitFor({ timeout: 30_000 });
    // The first tab is the first registered operation, BookDetails, with its example variables.
    await page.locator('.graphiql-query-editor').filter({ hasText: 'query BookDetails' }).waitFor({ timeout: 10_000 });

    const headerEditor = page.locator('.graphiql-editor-tool .graphiql-editor').filter({ hasText: 'Authorization' });
    await headerEditor.locator('.CodeMirror').click();
    await page.keyboard.press('Control+A');
    await page.keyboard.insertText(JSON.stringify({ Authorization: `Bearer ${token('analyst', { sub: 'graphiql-analyst' })}` }));
    await page.locator('.graphiql-execute-button').click();

    const result = page.locator('.result-window');
    await result.filter({ hasText: '"title": "Book 1"' }).waitFor({ timeout: 20_000 });
    expect(await result.innerText()).toContain('"authors"');

    const elsewhere = requested.filter((url) => {
      const { protocol, hostname } = new URL(url);
      if (protocol === 'data:' || protocol === 'blob:') return false;
      return !LOCAL_HOSTS.has(hostname);
    });
    expect(elsewhere).toEqual([]);
    expect(requested.some((url) => url.endsWith('/graphql'))).toBe(true);
    expect(consoleErrors.filter((text) => /Content Security Policy/i.test(text))).toEqual([]);
  }, 90_000);
});
