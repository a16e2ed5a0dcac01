// Apollo's embedded Sandbox (only with the gateway's apolloSandbox option): its script comes from
// Apollo's CDN, so this page needs internet access. The operations themselves are sent from this
// page to this gateway's endpoint (the Sandbox iframe hands them over), never through Apollo.
(function () {
  'use strict';

  var config = JSON.parse(document.getElementById('sandbox-config').textContent);
  var target = document.getElementById('sandbox');
  if (typeof window.EmbeddedSandbox !== 'function') {
    target.querySelector('.sandbox-loading').textContent = "Apollo Sandbox could not be loaded from Apollo's CDN: this browser seems to be offline.";
    return;
  }
  target.textContent = '';
  new window.EmbeddedSandbox({
    target: '#sandbox',
    initialEndpoint: new URL(config.endpoint, window.location.href).href,
    endpointIsEditable: false,
    initialState: { document: config.document, includeCookies: false },
    hideCookieToggle: true,
    // The gateway never phones home; neither does its sandbox page on its behalf.
    runTelemetry: false,
    allowDynamicStyles: false,
  });
})();
