/**
 * GET / in a browser: the GraphiQL IDE, from the bundle `./bundle.ts` builds into dist/graphiql/
 * (no CDN). The page opens with example tabs (the analysts' questions of schema/examples/, then
 * the partners' registered operations of schema/operations/) and a header editor for the token,
 * and its Content-Security-Policy lets it reach only the gateway.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import express, { type Router } from 'express';
import { bundleDir, BUNDLE_FILES } from './bundle';

export { bundleGraphiql, bundleIsFresh } from './bundle';

export interface ExampleTab {
  query: string;
  variables?: string;
}

const VARIABLES_COMMENT = /^#\s*variables:\s*(.+)$/m;

/** The analysts' example questions: GraphiQL tabs and README examples, not registered for partners. */
export function examplesDir(projectRoot: string): string {
  return path.join(projectRoot, 'schema', 'examples');
}

/** One tab per operation file; a `# variables: {...}` line in the file becomes the tab's variables. */
export function exampleTabs(operationsDir: string): ExampleTab[] {
  if (!existsSync(operationsDir)) return [];
  return readdirSync(operationsDir)
    .filter((f) => f.endsWith('.graphql'))
    .sort()
    .map((file) => {
      const source = readFileSync(path.join(operationsDir, file), 'utf8');
      const variables = VARIABLES_COMMENT.exec(source)?.[1]?.trim();
      const query = source.replace(VARIABLES_COMMENT, '').replace(/^\s*\n/, '');
      return variables ? { query, variables: JSON.stringify(JSON.parse(variables), null, 2) } : { query };
    });
}

export interface GraphiqlOptions {
  projectRoot: string;
  /** Path of the GraphQL endpoint on this gateway. */
  endpoint?: string;
  tabs?: ExampleTab[];
}

const PLACEHOLDER_HEADERS = JSON.stringify({ Authorization: 'Bearer <paste the output of: npm run token -- --role analyst>' }, null, 2);

/** Only the gateway itself: a bundle or a page edit that tried to load anything else would be blocked. */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  // GraphiQL's editor and animation libraries set element styles at run time.
  "style-src 'self' 'unsafe-inline'",
  "font-src 'self' data:",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

function page(settings: object): string {
  // `<` escaped so no string in the settings can close the script element.
  const json = JSON.stringify(settings).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Shelfmark · GraphiQL</title>
<link rel="stylesheet" href="/graphiql/graphiql.css">
<style>html, body, #graphiql { height: 100%; margin: 0; }</style>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script id="graphiql-settings" type="application/json">${json}</script>
<script src="/graphiql/graphiql.js"></script>
</body>
</html>
`;
}

/** Express router for GET / and the bundle's files under /graphiql/. */
export function graphiql({ projectRoot, endpoint = '/graphql', tabs = [] }: GraphiqlOptions): Router {
  const dir = bundleDir(projectRoot);
  const router = express.Router();
  const html = page({ endpoint, tabs: tabs.length > 0 ? tabs : [{ query: '{\n  models {\n    name\n    version\n    stage\n  }\n}\n' }], defaultHeaders: PLACEHOLDER_HEADERS });
  router.get('/', (_req, res) => {
    if (!BUNDLE_FILES.every((f) => existsSync(path.join(dir, f)))) {
      res.status(503).type('text/plain').send('GraphiQL is not bundled yet: run `npm run build`.\n');
      return;
    }
    res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.type('html').send(html);
  });
  // Browsers ask for it on every page; an empty answer keeps their consoles free of 404s.
  router.get('/favicon.ico', (_req, res) => {
    res.status(204).end();
  });
  router.use('/graphiql', express.static(dir, { index: false, maxAge: '1h' }), (_req, res) => {
    res.status(404).type('text/plain').send('not part of the GraphiQL bundle\n');
  });
  return router;
}
