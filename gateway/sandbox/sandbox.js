// The sandbox page: GraphiQL (its UMD build and React's, served by the gateway) over this
// gateway's GraphQL endpoint. Plain browser JavaScript, no build step; the gateway hands the
// configuration over in the page's JSON data block #sandbox-config (the CSP allows no inline script).
(function () {
  'use strict';

  var config = JSON.parse(document.getElementById('sandbox-config').textContent);
  var h = React.createElement;

  // Tabs and history live under a namespace that changes with the examples: drop older ones.
  var prefix = 'dpg-sandbox:';
  try {
    for (var i = localStorage.length - 1; i >= 0; i -= 1) {
      var key = localStorage.key(i);
      if (key && key.indexOf(prefix) === 0 && key.indexOf(config.storageNamespace + ':') !== 0) localStorage.removeItem(key);
    }
  } catch (error) {
    // Storage disabled (private mode, policy): GraphiQL then keeps its state in memory.
  }

  var fetcher = GraphiQL.createFetcher({ url: new URL(config.endpoint, window.location.href).href });

  /** A headers editor value worth sharing: a JSON object with at least one header. */
  function isHeaders(text) {
    try {
      var value = JSON.parse(text);
      return value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0;
    } catch (error) {
      return false;
    }
  }

  // GraphiQL keeps headers per tab. A data scientist pastes a token once, in whichever tab is
  // open, and expects every example to use it: tabs not opened yet (and new ones) start with the
  // last headers entered. Headers are never written to localStorage (shouldPersistHeaders false,
  // and the setting is hidden): a token lives as long as the page.
  function Sandbox() {
    var state = React.useState('');
    var sharedHeaders = state[0];
    var setSharedHeaders = state[1];
    var onEditHeaders = React.useCallback(function (text) {
      // GraphiQL calls this while it updates its own state: update ours afterwards.
      if (isHeaders(text)) queueMicrotask(function () { setSharedHeaders(text); });
    }, []);
    return h(GraphiQL, {
      fetcher: fetcher,
      defaultTabs: config.tabs,
      defaultHeaders: sharedHeaders,
      onEditHeaders: onEditHeaders,
      defaultEditorToolsVisibility: 'headers',
      shouldPersistHeaders: false,
      showPersistHeadersSettings: false,
      inputValueDeprecation: true,
      storage: GraphiQL.createLocalStorage({ namespace: config.storageNamespace }),
    });
  }

  ReactDOM.createRoot(document.getElementById('sandbox')).render(h(Sandbox));
})();
