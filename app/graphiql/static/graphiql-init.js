/*
 * Bootstraps the vendored GraphiQL bundle for the audit gateway.
 *
 * Everything the page needs is served by the gateway itself (no CDN): React,
 * ReactDOM and GraphiQL are loaded by <script src="/graphiql/static/..."> tags
 * before this file, and the page configuration comes from the JSON block
 * <script id="graphiql-config" type="application/json"> rendered by
 * app.graphiql.graphiql_html(). Kept as a separate file (not inline) so the
 * page works under a strict `script-src 'self'` Content-Security-Policy.
 */
(function () {
  "use strict";

  var root = document.getElementById("graphiql");
  var configElement = document.getElementById("graphiql-config");

  function fail(message) {
    root.textContent = "GraphiQL could not start: " + message;
    if (window.console) {
      window.console.error("GraphiQL could not start: " + message);
    }
  }

  if (!window.React || !window.ReactDOM || !window.GraphiQL) {
    fail("a vendored script (React, ReactDOM or GraphiQL) did not load.");
    return;
  }

  var config;
  try {
    config = JSON.parse(configElement.textContent);
  } catch (error) {
    fail("invalid page configuration (" + error + ").");
    return;
  }

  var props = {
    fetcher: window.GraphiQL.createFetcher({ url: config.endpoint }),
    defaultQuery: config.defaultQuery,
    // The API key goes into the Headers tab: keep that editor enabled, open
    // it by default, and remember its content across page loads.
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: true,
    defaultEditorToolsVisibility: "headers"
  };
  if (typeof config.defaultHeaders === "string") {
    props.defaultHeaders = config.defaultHeaders;
  }

  window.ReactDOM.createRoot(root).render(
    window.React.createElement(window.GraphiQL, props)
  );
})();
