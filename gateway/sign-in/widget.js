// The sign-in bar of a gateway page: who is signed in and a sign-out button, or the ways to sign in
// (each issuer the gateway offers; in development, "sign in as" a role of the policy file). Plain
// DOM, no framework: the sandbox (React) and the usage page (none) both mount it.

/** Renders the session into `container` now and on every change. */
export function mountSignIn(container, session) {
  const { config } = session;
  let role = config.dev && config.dev.roles.length > 0 ? config.dev.roles[0] : null;

  function element(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(props)) {
      if (name === 'dataset') Object.assign(node.dataset, value);
      else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
      else node[name] = value;
    }
    node.append(...children.filter((child) => child !== null && child !== undefined));
    return node;
  }

  function signedIn(view) {
    const issuer = view.kind === 'dev' ? 'the development issuer' : new URL(view.issuer).host;
    const roles = view.roles.length > 0 ? element('span', { className: 'sign-in-roles', id: 'sign-in-roles' }, ` (${view.roles.join(', ')})`) : null;
    return [
      element('span', { className: 'sign-in-who' }, 'Signed in as ', element('strong', { id: 'sign-in-user' }, view.label), roles, ` · ${issuer}`),
      element('button', { type: 'button', id: 'sign-out', className: 'sign-in-button secondary', onclick: () => session.signOut() }, 'Sign out'),
    ];
  }

  function signedOut() {
    const parts = [];
    for (const issuer of config.issuers) {
      parts.push(
        element('button', { type: 'button', className: 'sign-in-button', dataset: { issuer: issuer.issuer }, onclick: () => void session.signInWith(issuer.issuer) }, `Sign in with ${issuer.label}`),
      );
    }
    if (config.dev) {
      const select = element(
        'select',
        { id: 'dev-role', onchange: (event) => (role = event.target.value) },
        ...config.dev.roles.map((name) => element('option', { value: name, selected: name === role }, name)),
      );
      parts.push(
        element(
          'span',
          { className: 'sign-in-dev' },
          element('label', { htmlFor: 'dev-role' }, 'Sign in as'),
          select,
          element('button', { type: 'button', id: 'dev-sign-in', className: 'sign-in-button', onclick: () => void session.signInAs(select.value) }, 'Sign in'),
          element('span', { className: 'sign-in-hint' }, 'development issuer'),
        ),
      );
    }
    if (parts.length === 0) parts.push(element('span', { className: 'sign-in-hint' }, 'No sign-in configured: this gateway takes tokens from your applications only.'));
    return parts;
  }

  session.subscribe((view) => {
    container.dataset.status = view.status;
    const notice = view.notice ? element('span', { className: 'sign-in-notice', id: 'sign-in-notice', role: 'status' }, view.notice) : null;
    let body;
    if (view.status === 'busy') body = [element('span', { className: 'sign-in-who' }, 'Signing in…')];
    else if (view.status === 'signed-in') body = signedIn(view);
    else body = signedOut();
    container.replaceChildren(...[notice, ...body].filter(Boolean));
  });
}
