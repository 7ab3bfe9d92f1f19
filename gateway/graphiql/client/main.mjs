// The browser side of the gateway's GraphiQL page, bundled by ../bundle.ts at build time so the
// page loads nothing from outside the gateway. Settings come from the page's JSON block.
import { createElement } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import 'graphiql/style.css';

const settings = JSON.parse(document.getElementById('graphiql-settings').textContent);

// `/#token=<jwt>` (from `npm run token`) fills the header editor; the fragment never reaches a
// server, and it is removed from the address bar and history at once.
const fromFragment = new URLSearchParams(window.location.hash.slice(1)).get('token');
if (fromFragment) {
  settings.defaultHeaders = JSON.stringify({ Authorization: `Bearer ${fromFragment}` }, null, 2);
  window.history.replaceState(null, '', window.location.pathname + window.location.search);
}

// The header editor's headers (the analyst's token) go with every request, schema fetch included.
async function fetcher(params, options) {
  const response = await fetch(settings.endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...(options && options.headers) },
    body: JSON.stringify(params),
  });
  return response.json();
}

createRoot(document.getElementById('graphiql')).render(
  createElement(GraphiQL, {
    fetcher,
    defaultTabs: settings.tabs,
    // GraphiQL 4 fills the variables editor of the first tab from this prop, not from the tab.
    variables: settings.tabs[0] && settings.tabs[0].variables,
    defaultHeaders: settings.defaultHeaders,
    defaultEditorToolsVisibility: 'headers',
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: false,
  }),
);
