// The sandbox page: GraphiQL (its UMD build and React's, served by the gateway) over this
// gateway's GraphQL endpoint, with the signed-in user's token on every request. An ES module
// without a build step (React and GraphiQL are the classic scripts before it); the gateway hands
// the configuration over in the page's JSON data blocks #sandbox-config and #sign-in-config (the CSP
// allows no inline script).
import { createSession, readSignInConfig } from '/sign-in/session.js';
import { mountSignIn } from '/sign-in/widget.js';

{
  var config = JSON.parse(document.getElementById('sandbox-config').textContent);
  var session = createSession(readSignInConfig(), { redirectPath: config.redirectPath });
  mountSignIn(document.getElementById('sign-in'), session);
  var h = React.createElement;

  // GraphiQL's dialogs add a <style> element while open (react-remove-scroll); the library takes
  // its nonce from this global, and the page's CSP allows exactly this response's nonce.
  window.__webpack_nonce__ = config.styleNonce;

  /**
   * GraphiQL's localStorage, under a namespace that changes with the examples (older namespaces
   * are removed), with one difference from GraphiQL.createLocalStorage: GraphiQL 3 writes the
   * headers of every run into its history even with shouldPersistHeaders false. They are dropped
   * here, so a bearer token never outlives the page.
   */
  function sandboxStorage(namespace) {
    var keyPrefix = namespace + ':';
    function keys(test) {
      var found = [];
      for (var i = 0; i < localStorage.length; i += 1) {
        var key = localStorage.key(i);
        if (key && test(key)) found.push(key);
      }
      return found;
    }
    function own(key) {
      return key.indexOf(keyPrefix) === 0;
    }
    function scrub(key, value) {
      if (/:headers$/.test(key)) return '';
      var list = /:(queries|favorites)$/.exec(key);
      if (!list) return value;
      try {
        var stored = JSON.parse(value);
        (stored[list[1]] || []).forEach(function (item) { delete item.headers; });
        return JSON.stringify(stored);
      } catch (error) {
        return '';
      }
    }
    keys(function (key) { return key.indexOf('dpg-sandbox:') === 0 && !own(key); }).forEach(function (key) { localStorage.removeItem(key); });
    return {
      getItem: function (key) { return localStorage.getItem(keyPrefix + key); },
      setItem: function (key, value) { localStorage.setItem(keyPrefix + key, scrub(key, value)); },
      removeItem: function (key) { localStorage.removeItem(keyPrefix + key); },
      clear: function () { keys(own).forEach(function (key) { localStorage.removeItem(key); }); },
      get length() { return keys(own).length; },
    };
  }

  var storage = null;
  try {
    storage = sandboxStorage(config.storageNamespace);
  } catch (error) {
    // Storage disabled (private mode, a policy): GraphiQL keeps its state in memory (null storage).
  }

  var send = GraphiQL.createFetcher({ url: new URL(config.endpoint, window.location.href).href });

  /** The names of the document's operations, or null when it does not parse. */
  function operationNames(query) {
    try {
      return GraphiQL.GraphQL.parse(query).definitions
        .filter(function (d) { return d.kind === 'OperationDefinition' && d.name; })
        .map(function (d) { return d.name.value; });
    } catch (error) {
      return null;
    }
  }

  // GraphiQL works out the operation name 100 ms after an edit or a tab switch: run sooner and it
  // sends the previous tab's name with this tab's document, which the server must refuse. A name
  // the document does not define is dropped (a one-operation document then runs that operation).
  function withOperationName(params) {
    if (params.operationName) {
      var names = operationNames(params.query);
      if (names && names.indexOf(params.operationName) < 0) return Object.assign({}, params, { operationName: undefined });
    }
    return params;
  }

  function unauthenticated(result) {
    return Boolean(result && Array.isArray(result.errors) && result.errors.some(function (e) { return e && e.extensions && e.extensions.code === 'UNAUTHENTICATED'; }));
  }

  /**
   * Every operation (each tab, the examples, the catalogue, GraphiQL's introspection) runs as the
   * signed-in user, and says it comes from the sandbox, so owners can tell exploration from
   * application traffic in usage. Headers typed into the editor win: whoever types a token means it.
   */
  async function fetcher(params, options) {
    var token = await session.accessToken();
    var headers = Object.assign(
      { 'apollographql-client-name': config.clientName },
      token ? { authorization: 'Bearer ' + token } : {},
      (options && options.headers) || {},
    );
    var result = await send(withOperationName(params), Object.assign({}, options, { headers: headers }));
    if (!token) return result;
    // A token the gateway refuses (revoked, its keys rotated): renew it, or ask to sign in again.
    if (result && typeof result[Symbol.asyncIterator] === 'function') {
      return (async function* () {
        for await (var part of result) {
          if (unauthenticated(part)) void session.rejected(token);
          yield part;
        }
      })();
    }
    if (unauthenticated(result)) void session.rejected(token);
    return result;
  }

  /** A headers editor value worth sharing: a JSON object with at least one header. */
  function isHeaders(text) {
    try {
      var value = JSON.parse(text);
      return value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0;
    } catch (error) {
      return false;
    }
  }

  /** The session's identity: changes on sign-in and sign-out, not when a token is renewed. */
  function useIdentity() {
    var state = React.useState(session.snapshot().identity);
    React.useEffect(function () {
      return session.subscribe(function (view) { state[1](view.identity); });
    }, []);
    return state[0];
  }

  // GraphiQL keeps headers per tab. Someone who adds a header once, in whichever tab is open,
  // expects the examples to use it: tabs not opened yet (and new ones) start with the last headers
  // entered. Headers are never stored (shouldPersistHeaders false, its setting hidden, and history
  // scrubbed above): a header lives as long as the page.
  function Sandbox() {
    var identity = useIdentity();
    // A new fetcher when someone else signs in: GraphiQL fetches the schema again, as that user.
    var run = React.useMemo(function () { return function (params, options) { return fetcher(params, options); }; }, [identity]);
    var state = React.useState('');
    var sharedHeaders = state[0];
    var setSharedHeaders = state[1];
    var onEditHeaders = React.useCallback(function (text) {
      // GraphiQL calls this while it updates its own state: update ours afterwards.
      if (isHeaders(text)) queueMicrotask(function () { setSharedHeaders(text); });
    }, []);
    return h(GraphiQL, {
      fetcher: run,
      storage: storage,
      defaultTabs: config.tabs,
      defaultHeaders: sharedHeaders,
      onEditHeaders: onEditHeaders,
      shouldPersistHeaders: false,
      showPersistHeadersSettings: false,
      inputValueDeprecation: true,
    });
  }

  ReactDOM.createRoot(document.getElementById('sandbox')).render(h(Sandbox));
  void session.start();
}
