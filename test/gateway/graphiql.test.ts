/**
 * GraphiQL as an analyst meets it: headless Chromium (Debian's, driven by playwright-core, with a
 * fresh profile) opens GET / on a real gateway. With the token from `#token=`, and with one pasted
 * into the header editor, the Docs panel shows the schema without a manual re-fetch, and its
 * search finds Member.churnRisk; an analyst's example tab and a partner operation's tab each run
 * and show their answer; no request goes anywhere but the gateway on this machine.
 * Skipped, with the reason printed, on a machine without /usr/bin/chromium.
 *
 * With SCREENSHOT_DIR set, it saves what it sees there (docs/graphiql/ holds the committed ones).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { PROJECT_ROOT, startTestGraph, token, type TestGraph } from './helpers';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) process.stderr.write(`graphiql browser test skipped: ${CHROMIUM} is not installed (apt-get install chromium; .ci/run installs it)\n`);

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR;

interface Browsing {
  page: Page;
  /** Every URL the page asked for. */
  requested: string[];
  /** Status of every answer from the GraphQL endpoint. */
  graphqlStatuses: number[];
  consoleErrors: string[];
}

async function screenshot(page: Page, name: string): Promise<void> {
  if (!SCREENSHOT_DIR) return;
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, name) });
}

async function openDocs(page: Page): Promise<void> {
  await page.locator('button[aria-label="Show Documentation Explorer"]').click();
  await page.locator('.graphiql-doc-explorer').waitFor({ timeout: 10_000 });
}

/** Searches the Docs panel for Member.churnRisk, opens it and waits for its page. */
async function findChurnRisk(page: Page): Promise<void> {
  const search = page.locator('.graphiql-doc-explorer-search-input input, .graphiql-doc-explorer-search input').first();
  await search.click();
  await search.fill('churnRisk');
  await page.locator('.graphiql-doc-explorer-search [role="option"], .graphiql-doc-explorer-search li').filter({ hasText: 'Member' }).filter({ hasText: 'churnRisk' }).first().click();
  await page.locator('.graphiql-doc-explorer-title').filter({ hasText: 'churnRisk' }).waitFor({ timeout: 10_000 });
}

async function runTab(page: Page, title: string, expected: string): Promise<string> {
  await page.locator('.graphiql-tab').filter({ hasText: title }).first().click();
  await page.locator('.graphiql-query-editor').filter({ hasText: `query ${title}` }).waitFor({ timeout: 10_000 });
  await page.locator('.graphiql-execute-button').click();
  const result = page.locator('.result-window');
  await result.filter({ hasText: expected }).waitFor({ timeout: 20_000 });
  return result.innerText();
}

function leftTheMachine(requested: string[]): string[] {
  return requested.filter((url) => {
    const { protocol, hostname } = new URL(url);
    if (protocol === 'data:' || protocol === 'blob:') return false;
    return !LOCAL_HOSTS.has(hostname);
  });
}

describe('GraphiQL at GET /', () => {
  let graph: TestGraph;
  let origin: string;
  let context: BrowserContext | undefined;
  let profile: string | undefined;

  beforeAll(async () => {
    // The committed models, so the churn example answers with predictions.
    graph = await startTestGraph({ MODELS_DIR: path.join(PROJECT_ROOT, 'models') });
    origin = new URL(graph.graph.gatewayUrl).origin;
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await graph?.stop();
  });

  /** A new page in a fresh Chromium profile, recording what it asks for. */
  async function browse(): Promise<Browsing> {
    if (!context) {
      profile = mkdtempSync(path.join(os.tmpdir(), 'shelfmark-chromium-'));
      context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, viewport: { width: 1400, height: 900 } });
    }
    const page = await context.newPage();
    const browsing: Browsing = { page, requested: [], graphqlStatuses: [], consoleErrors: [] };
    page.on('request', (request) => browsing.requested.push(request.url()));
    page.on('response', (response) => {
      if (response.url().endsWith('/graphql')) browsing.graphqlStatuses.push(response.status());
    });
    page.on('console', (message) => {
      if (message.type() === 'error') browsing.consoleErrors.push(message.text());
    });
    return browsing;
  }

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

  (hasChromium ? it : it.skip)('with #token=, the Docs panel shows the schema on first load and finds Member.churnRisk', async () => {
    const { page, requested, graphqlStatuses, consoleErrors } = await browse();
    await page.goto(`${origin}/#token=${token('analyst', { sub: 'graphiql-analyst' })}`);
    await page.locator('.graphiql-container').waitFor({ timeout: 30_000 });
    await openDocs(page);
    await page.locator('.graphiql-doc-explorer-root-type').filter({ hasText: 'Query' }).first().waitFor({ timeout: 20_000 });
    expect(await page.locator('.graphiql-doc-explorer').innerText()).not.toMatch(/Error fetching schema/);
    await findChurnRisk(page);
    expect(await page.locator('.graphiql-doc-explorer').innerText()).toContain('RiskPrediction');
    await screenshot(page, 'docs-panel-first-load.png');
    expect(page.url()).not.toContain('token=');
    expect(graphqlStatuses.filter((status) => status === 401)).toEqual([]);
    expect(leftTheMachine(requested)).toEqual([]);
    expect(consoleErrors.filter((text) => /Content Security Policy/i.test(text))).toEqual([]);
    await page.close();
  }, 90_000);

  (hasChromium ? it : it.skip)('with a token pasted into the header editor, Docs shows the schema, and one tab of each role runs', async () => {
    const { page, requested } = await browse();
    await page.goto(`${origin}/`);
    await page.locator('.graphiql-container').waitFor({ timeout: 30_000 });
    // The analysts' questions come first; the first tab is their churn watchlist.
    await page.locator('.graphiql-query-editor').filter({ hasText: 'query ChurnWatchlist' }).waitFor({ timeout: 10_000 });

    const headerEditor = page.locator('.graphiql-editor-tool .graphiql-editor').filter({ hasText: 'Authorization' });
    await headerEditor.locator('.CodeMirror').click();
    await page.keyboard.press('Control+A');
    await page.keyboard.insertText(JSON.stringify({ Authorization: `Bearer ${token('analyst', { sub: 'graphiql-analyst' })}` }));
    await openDocs(page);
    await page.locator('.graphiql-doc-explorer-root-type').filter({ hasText: 'Query' }).first().waitFor({ timeout: 20_000 });

    const analystAnswer = await runTab(page, 'ModelsOverview', '"headlineMetric"');
    expect(analystAnswer).toContain('"churn"');
    expect(analystAnswer).not.toContain('"errors"');
    await screenshot(page, 'analyst-example-models-overview.png');

    const partnerAnswer = await runTab(page, 'MembersChurnRisk', '"totalCount"');
    expect(partnerAnswer).toContain('"churnRisk"');
    expect(partnerAnswer).not.toContain('"errors"');
    await screenshot(page, 'partner-operation-members-churn-risk.png');

    expect(leftTheMachine(requested)).toEqual([]);
    expect(requested.some((url) => url.endsWith('/graphql'))).toBe(true);
    await page.close();
  }, 120_000);
});
