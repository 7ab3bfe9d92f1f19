// The browser side of the gateway's GraphiQL page, bundled by ../bundle.ts at build time so the
// page loads nothing from outside the gateway. Settings come from the page's JSON block.
//
// The schema (the Docs panel, completion) is fetched here, not by GraphiQL: GraphiQL 4 asks for
// it once, before its header editor exists, so its own request carries no token and fails. This
// page fetches it with the token it has (from `#token=` at load, or as soon as one is typed or
// pasted into the header editor) and hands GraphiQL the result.
import { createElement, useCallback, useEffect, useRef, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { buildClientSchema, getIntrospectionQuery, parse } from 'graphql';
import 'graphiql/style.css';

const settings = JSON.parse(document.getElementById('graphiql-settings').textContent);

// `/#token=<jwt>` (from `npm run token`) fills the header editor; the fragment never reaches a
// server, and it is removed from the address bar and history at once.
const fromFragment = new URLSearchParams(window.location.hash.slice(1)).get('token');
if (fromFragment) {
  settings.defaultHeaders = JSON.stringify({ Authorization: `Bearer ${fromFragment}` }, null, 2);
  window.history.replaceState(null, '', window.location.pathname + window.location.search);
}

const TOKEN = /^Bearer [A-Za-z0-9_.-]+$/;

/**
 * The headers of the header editor's text, names in lower case (so merging two sets never sends
 * a header twice), or {} while the text is not a JSON object.
 */
function parseHeaders(text) {
  try {
    const headers = JSON.parse(text || '{}');
    if (!headers || typeof headers !== 'object' || Array.isArray(headers)) return {};
    return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
  } catch {
    return {};
  }
}

/** The Authorization value when it looks like a token (not the placeholder), else undefined. */
function authorizationOf(headers) {
  const value = headers.authorization;
  return typeof value === 'string' && TOKEN.test(value.trim()) ? value.trim() : undefined;
}

/**
 * GraphiQL can send the operation name of the tab shown before a switch with the new tab's
 * document. A name the document does not define is dropped when the document has one operation,
 * so a click on Run right after a tab switch runs what the editor shows.
 */
function withOwnOperationName(params) {
  if (!params.operationName) return params;
  let names;
  try {
    names = parse(params.query).definitions.filter((d) => d.kind === 'OperationDefinition').map((d) => d.name && d.name.value);
  } catch {
    return params;
  }
  if (names.includes(params.operationName) || names.length !== 1) return params;
  return { ...params, operationName: names[0] || undefined };
}

async function post(body, headers) {
  const response = await fetch(settings.endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...headers },
    body: JSON.stringify(body),
  });
  return response.json();
}

function ShelfmarkGraphiQL() {
  // The last token seen in any tab's header editor (or the fragment): GraphiQL keeps headers per
  // tab, and a token pasted into one tab serves the schema fetch and the tabs still showing the
  // placeholder.
  const [authorization, setAuthorization] = useState(() => authorizationOf(parseHeaders(settings.defaultHeaders)));
  const latestAuthorization = useRef(authorization);
  const [schema, setSchema] = useState(null);

  useEffect(() => {
    if (!authorization) return undefined;
    let current = true;
    post({ query: getIntrospectionQuery({ inputValueDeprecation: true }) }, { authorization })
      .then((result) => {
        if (current && result.data) setSchema(buildClientSchema(result.data));
      })
      .catch(() => {});
    return () => {
      current = false;
    };
  }, [authorization]);

  const onEditHeaders = useCallback((text) => {
    const typed = authorizationOf(parseHeaders(text));
    if (!typed) return;
    latestAuthorization.current = typed;
    setAuthorization(typed);
  }, []);

  // Each request carries its tab's headers; a tab without a token of its own uses the latest one.
  const fetcher = useCallback((params, options) => {
    const headers = parseHeaders(JSON.stringify((options && options.headers) || {}));
    if (!authorizationOf(headers) && latestAuthorization.current) headers.authorization = latestAuthorization.current;
    return post(withOwnOperationName(params), headers);
  }, []);

  return createElement(GraphiQL, {
    fetcher,
    schema,
    onEditHeaders,
    defaultTabs: settings.tabs,
    // GraphiQL 4 fills the variables editor of the first tab from this prop, not from the tab.
    variables: settings.tabs[0] && settings.tabs[0].variables,
    defaultHeaders: settings.defaultHeaders,
    defaultEditorToolsVisibility: 'headers',
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: false,
  });
}

createRoot(document.getElementById('graphiql')).render(createElement(ShelfmarkGraphiQL));
