// Per-field usage page for data product owners. Plain browser JavaScript (an ES module), no build
// step: it calls the gateway's usage queries on /graphql as the signed-in owner and draws the
// hourly series with Chart.js (served by the gateway at /usage/chart.umd.js, window.Chart).
import { createSession, readSignInConfig } from '/sign-in/session.js';
import { mountSignIn } from '/sign-in/widget.js';

(() => {
  /** This page's path: where the issuer sends the owner back after sign-in. */
  const PAGE_PATH = '/usage';
  /** The page's own calls show up in usage under this client name, apart from real apps. */
  const CLIENT_NAME = 'usage-page';
  const HOUR_MS = 3_600_000;
  /** Window picker value -> hours back from now. */
  const WINDOW_HOURS = { '24h': 24, '7d': 24 * 7, '30d': 24 * 30 };
  /** Longest server message shown in the status line (server messages are already masked). */
  const MAX_MESSAGE = 300;

  const PRODUCTS_QUERY = 'query UsageProducts { usageProducts }';
  /** Rows per request; the page asks for the next page until one comes back short. */
  const PAGE_SIZE = 200;
  /** At most this many pages (4,000 rows) are read for one product. */
  const MAX_PAGES = 20;
  const FIELD_USAGE_QUERY = `query FieldUsage($product: String!, $since: DateTime, $client: String, $after: String) {
  fieldUsage(product: $product, since: $since, client: $client, first: ${PAGE_SIZE}, after: $after) {
    coordinate product requests errors rejected firstSeen lastSeen deprecated deprecationReason
    clients { name version requests errors lastSeen }
  }
}`;
  /** Operations listed for a selected field, the most used first. */
  const OPERATIONS_SHOWN = 50;
  const SERIES_QUERY = `query FieldDetail($coordinate: String!, $since: DateTime, $client: String) {
  fieldUsageSeries(coordinate: $coordinate, since: $since, client: $client) { hour requests errors }
  fieldOperations(coordinate: $coordinate, since: $since, client: $client, first: ${OPERATIONS_SHOWN}) {
    name hash requests lastSeen
    clients(first: 10) { name requests lastSeen }
  }
}`;

  /** What to tell an owner beyond the server's message, by error code. */
  const HINTS = {
    NO_TOKEN: 'Sign in first (above).',
    UNAUTHENTICATED: 'Your sign-in is no longer valid: sign in again.',
    FORBIDDEN: 'You lack the usage:read scope (roles data-product-owner or admin).',
    NETWORK_ERROR: 'Check that the gateway is running and try again.',
  };

  /** First click on a column sorts in this direction; a second click reverses it. */
  const DEFAULT_DIRECTION = { coordinate: 'asc', requests: 'desc', clients: 'desc', errors: 'desc', rejected: 'desc', lastSeen: 'desc', deprecated: 'desc' };

  const $ = (selector) => {
    const element = document.querySelector(selector);
    if (!element) throw new Error(`usage page: ${selector} missing`);
    return element;
  };
  const ui = {
    form: $('#controls'),
    signIn: $('#sign-in'),
    product: $('#product'),
    window: $('#window'),
    client: $('#client'),
    load: $('#load'),
    status: $('#status'),
    summary: $('#summary'),
    table: $('#fields'),
    tbody: $('#fields tbody'),
    chartSection: $('#chart-section'),
    chartHeading: $('#chart-heading'),
    canvas: $('#series'),
    operationsSection: $('#operations-section'),
    operationsHeading: $('#operations-heading'),
    operations: $('#operations'),
    operationsBody: $('#operations tbody'),
  };

  const state = {
    /** The rows of the last successful load. */
    rows: [],
    sort: { key: 'coordinate', direction: 'asc' },
    /** The variables of the table on screen, reused for its series so chart and table agree. */
    shown: null,
    selected: null,
    chart: null,
    productsLoaded: false,
    /** One in-flight request per purpose; a newer one aborts the older. */
    inflight: { products: null, usage: null, series: null },
  };

  const numberFormat = new Intl.NumberFormat();
  const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  const hourFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });

  class ApiError extends Error {
    constructor(code, message) {
      super(message);
      this.code = code;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // API

  function begin(purpose) {
    state.inflight[purpose]?.abort();
    const controller = new AbortController();
    state.inflight[purpose] = controller;
    return controller.signal;
  }

  function isAbort(error) {
    return error instanceof DOMException && error.name === 'AbortError';
  }

  const session = createSession(readSignInConfig(), { redirectPath: PAGE_PATH });

  async function graphql(query, variables, signal) {
    const token = await session.accessToken();
    if (!token) throw new ApiError('NO_TOKEN', 'Not signed in.');
    let response;
    try {
      response = await fetch('/graphql', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          authorization: `Bearer ${token}`,
          'apollographql-client-name': CLIENT_NAME,
        },
        body: JSON.stringify({ query, variables }),
        credentials: 'omit',
        cache: 'no-store',
        signal,
      });
    } catch (error) {
      if (isAbort(error)) throw error;
      throw new ApiError('NETWORK_ERROR', 'The gateway could not be reached.');
    }
    let body;
    try {
      body = await response.json();
    } catch (error) {
      if (isAbort(error)) throw error;
      throw new ApiError(`HTTP_${response.status}`, `The gateway answered HTTP ${response.status} without a GraphQL response.`);
    }
    const errors = body && Array.isArray(body.errors) ? body.errors : [];
    if (errors.length > 0) {
      // Each query asks for one root field: any error means its answer is missing or incomplete.
      const first = errors[0] || {};
      const extensions = first.extensions || {};
      const code = typeof extensions.code === 'string' ? extensions.code : `HTTP_${response.status}`;
      // Revoked, or signed by keys the gateway no longer has: renew it, or ask to sign in again.
      if (code === 'UNAUTHENTICATED') void session.rejected(token);
      let message = typeof first.message === 'string' ? first.message : 'Request failed.';
      if (code === 'RATE_LIMITED' && extensions.retryAfter != null) message += ` Retry in ${extensions.retryAfter} s.`;
      throw new ApiError(code, message);
    }
    if (!response.ok || !body || typeof body.data !== 'object' || body.data === null) {
      throw new ApiError(`HTTP_${response.status}`, `The gateway answered HTTP ${response.status} without data.`);
    }
    return body.data;
  }

  // ---------------------------------------------------------------------------------------------
  // Status line

  function setStatus(kind, text, code) {
    ui.status.dataset.state = kind;
    if (code) ui.status.dataset.code = code;
    else delete ui.status.dataset.code;
    ui.status.replaceChildren();
    if (code) {
      const badge = document.createElement('strong');
      badge.className = 'code';
      badge.textContent = code;
      ui.status.append(badge, ' ');
    }
    ui.status.append(text);
  }

  function showError(error) {
    // Only our own ApiError reaches the screen with its text: anything else is a bug in this page,
    // reported by code without its stack or message.
    if (error instanceof ApiError) {
      const message = error.message.length > MAX_MESSAGE ? `${error.message.slice(0, MAX_MESSAGE)}…` : error.message;
      const hint = HINTS[error.code];
      const sentence = /[.!?…]$/.test(message) ? message : `${message}.`;
      setStatus('error', hint ? `${sentence} ${hint}` : sentence, error.code);
    } else {
      // For whoever opens the console; the status line stays free of stacks and internals.
      console.error('usage page:', error);
      setStatus('error', 'Something went wrong in this page; reload it and try again.', 'PAGE_ERROR');
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Products

  function resetProducts(placeholder) {
    state.productsLoaded = false;
    const option = document.createElement('option');
    option.value = '';
    option.textContent = placeholder;
    ui.product.replaceChildren(option);
    ui.product.disabled = true;
  }

  async function loadProducts() {
    const signal = begin('products');
    setStatus('loading', 'Loading data products…');
    try {
      const data = await graphql(PRODUCTS_QUERY, {}, signal);
      const products = Array.isArray(data.usageProducts) ? data.usageProducts.filter((p) => typeof p === 'string') : [];
      const previous = ui.product.value;
      ui.product.replaceChildren(
        ...products.map((name) => {
          const option = document.createElement('option');
          option.value = name;
          option.textContent = name;
          return option;
        }),
      );
      if (products.includes(previous)) ui.product.value = previous;
      ui.product.disabled = products.length === 0;
      state.productsLoaded = products.length > 0;
      if (products.length === 0) setStatus('ok', 'The gateway records no data products yet.');
      else setStatus('ok', `${products.length} data product${products.length === 1 ? '' : 's'}. Pick one and load its usage.`);
      return state.productsLoaded;
    } catch (error) {
      if (isAbort(error)) return false;
      resetProducts(error instanceof ApiError && error.code === 'NO_TOKEN' ? 'Sign in first' : 'Not available');
      clearTable();
      showError(error);
      return false;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Field table

  function currentVariables() {
    const hours = WINDOW_HOURS[ui.window.value] || WINDOW_HOURS['7d'];
    const client = ui.client.value.trim().toLowerCase();
    return {
      product: ui.product.value,
      since: new Date(Date.now() - hours * HOUR_MS).toISOString(),
      client: client || null,
    };
  }

  async function loadUsage() {
    if (!state.productsLoaded && !(await loadProducts())) return;
    const variables = currentVariables();
    if (!variables.product) {
      setStatus('error', 'Pick a data product first.', 'NO_PRODUCT');
      return;
    }
    const signal = begin('usage');
    ui.load.disabled = true;
    ui.table.setAttribute('aria-busy', 'true');
    setStatus('loading', `Loading usage of ${variables.product}…`);
    try {
      const rows = [];
      for (let pages = 0, after = null; pages < MAX_PAGES; pages++) {
        const data = await graphql(FIELD_USAGE_QUERY, { ...variables, after }, signal);
        const page = Array.isArray(data.fieldUsage) ? data.fieldUsage : [];
        rows.push(...page);
        if (page.length < PAGE_SIZE) break;
        after = page[page.length - 1].coordinate;
      }
      state.rows = rows;
      state.shown = variables;
      renderTable();
      const used = state.rows.filter((r) => r.requests > 0).length;
      const deprecatedUsed = state.rows.filter(isDeprecatedUsed).length;
      ui.summary.textContent = `${variables.product}: ${state.rows.length} fields and arguments`;
      const windowLabel = ui.window.selectedOptions[0] ? ui.window.selectedOptions[0].textContent.toLowerCase() : '';
      setStatus(
        'ok',
        `${state.rows.length} fields and arguments of ${variables.product}, ${windowLabel}${variables.client ? `, client ${variables.client}` : ''}: ` +
          `${used} used, ${state.rows.length - used} unused, ${deprecatedUsed} deprecated but still used.`,
      );
      if (state.selected && state.rows.some((r) => r.coordinate === state.selected)) void loadSeries(state.selected);
      else hideChart();
    } catch (error) {
      if (isAbort(error)) return;
      clearTable();
      showError(error);
    } finally {
      if (state.inflight.usage && state.inflight.usage.signal === signal) {
        ui.load.disabled = false;
        ui.table.removeAttribute('aria-busy');
      }
    }
  }

  function isUnused(row) {
    return row.requests === 0;
  }

  function isDeprecatedUsed(row) {
    return row.deprecated === true && row.requests > 0;
  }

  function sortValue(row, key) {
    switch (key) {
      case 'clients':
        return Array.isArray(row.clients) ? row.clients.length : 0;
      case 'lastSeen':
        return row.lastSeen ? Date.parse(row.lastSeen) : -Infinity;
      case 'deprecated':
        return row.deprecated ? 1 : 0;
      case 'coordinate':
        return row.coordinate;
      default:
        return typeof row[key] === 'number' ? row[key] : 0;
    }
  }

  function sortedRows() {
    const { key, direction } = state.sort;
    const sign = direction === 'asc' ? 1 : -1;
    return [...state.rows].sort((a, b) => {
      const x = sortValue(a, key);
      const y = sortValue(b, key);
      const order = typeof x === 'string' ? x.localeCompare(y) : x === y ? 0 : x < y ? -1 : 1;
      return order !== 0 ? sign * order : a.coordinate.localeCompare(b.coordinate);
    });
  }

  function cell(text, options = {}) {
    const td = document.createElement('td');
    if (options.col) td.dataset.col = options.col;
    if (options.value !== undefined) td.dataset.value = String(options.value);
    if (options.className) td.className = options.className;
    if (options.title) td.title = options.title;
    if (text instanceof Node) td.append(text);
    else td.textContent = text;
    return td;
  }

  function formatTime(iso) {
    if (!iso) return '';
    const time = Date.parse(iso);
    return Number.isNaN(time) ? iso : dateTimeFormat.format(time);
  }

  function count(n, noun) {
    return `${numberFormat.format(n)} ${noun}${n === 1 ? '' : 's'}`;
  }

  function clientLabel(client) {
    return client.version ? `${client.name} ${client.version}` : client.name;
  }

  function clientsCell(clients) {
    const list = Array.isArray(clients) ? clients : [];
    const fragment = document.createDocumentFragment();
    const total = document.createElement('span');
    total.className = 'count';
    total.textContent = numberFormat.format(list.length);
    fragment.append(total);
    if (list.length > 0) {
      const names = document.createElement('span');
      names.className = 'names';
      const shown = list.slice(0, 3).map(clientLabel);
      names.textContent = list.length > 3 ? `${shown.join(', ')} +${list.length - 3}` : shown.join(', ');
      fragment.append(names);
    }
    const title = list
      .map((c) => `${clientLabel(c)}: ${count(c.requests, 'request')}, ${count(c.errors, 'error')}${c.lastSeen ? `, last ${formatTime(c.lastSeen)}` : ''}`)
      .join('\n');
    return cell(fragment, { col: 'clients', value: list.length, className: 'num clients', title: title || 'No clients in this window' });
  }

  function renderTable() {
    for (const th of ui.table.querySelectorAll('th[data-sort]')) {
      if (th.dataset.sort === state.sort.key) th.setAttribute('aria-sort', state.sort.direction === 'asc' ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
    }
    const rows = sortedRows().map((row) => {
      const tr = document.createElement('tr');
      tr.dataset.coordinate = row.coordinate;
      tr.tabIndex = 0;
      if (isUnused(row)) tr.classList.add('unused');
      if (isDeprecatedUsed(row)) tr.classList.add('deprecated-used');
      if (row.coordinate === state.selected) tr.classList.add('selected');
      tr.setAttribute('aria-selected', String(row.coordinate === state.selected));

      const code = document.createElement('code');
      code.textContent = row.coordinate;
      tr.append(
        cell(code, { col: 'coordinate', value: row.coordinate, className: row.coordinate.includes('(') ? 'coordinate argument' : 'coordinate' }),
        cell(numberFormat.format(row.requests), { col: 'requests', value: row.requests, className: 'num' }),
        clientsCell(row.clients),
        cell(numberFormat.format(row.errors), { col: 'errors', value: row.errors, className: row.errors > 0 ? 'num has-errors' : 'num' }),
        cell(numberFormat.format(row.rejected), { col: 'rejected', value: row.rejected, className: row.rejected > 0 ? 'num has-rejected' : 'num' }),
        cell(row.lastSeen ? formatTime(row.lastSeen) : 'never', {
          col: 'lastSeen',
          value: row.lastSeen || '',
          className: row.lastSeen ? 'time' : 'time never',
          title: row.lastSeen || '',
        }),
        cell(row.deprecated ? 'deprecated' : '', {
          col: 'deprecated',
          value: row.deprecated ? 'true' : 'false',
          className: row.deprecated ? 'badge-cell deprecated' : 'badge-cell',
          title: row.deprecationReason || '',
        }),
      );
      return tr;
    });
    ui.tbody.replaceChildren(...rows);
    ui.table.dataset.rows = String(rows.length);
  }

  function clearTable() {
    state.rows = [];
    state.shown = null;
    ui.summary.textContent = '';
    ui.tbody.replaceChildren();
    ui.table.dataset.rows = '0';
    hideChart();
  }

  function onSort(event) {
    const th = event.target.closest('th[data-sort]');
    if (!th) return;
    const key = th.dataset.sort;
    state.sort =
      state.sort.key === key
        ? { key, direction: state.sort.direction === 'asc' ? 'desc' : 'asc' }
        : { key, direction: DEFAULT_DIRECTION[key] || 'asc' };
    renderTable();
  }

  function onRowActivate(event) {
    if (event.type === 'keydown' && event.key !== 'Enter' && event.key !== ' ') return;
    const tr = event.target.closest('tr[data-coordinate]');
    if (!tr) return;
    if (event.type === 'keydown') event.preventDefault();
    state.selected = tr.dataset.coordinate;
    for (const other of ui.tbody.querySelectorAll('tr.selected')) {
      other.classList.remove('selected');
      other.setAttribute('aria-selected', 'false');
    }
    tr.classList.add('selected');
    tr.setAttribute('aria-selected', 'true');
    void loadSeries(state.selected);
  }

  // ---------------------------------------------------------------------------------------------
  // Series chart

  /** Hides the selected field's detail: its chart and its operations. */
  function hideChart() {
    state.inflight.series?.abort();
    if (state.chart) {
      state.chart.destroy();
      state.chart = null;
    }
    ui.chartSection.hidden = true;
    ui.operationsSection.hidden = true;
    ui.operationsBody.replaceChildren();
    ui.operations.dataset.rows = '0';
  }

  function renderOperations(coordinate, operations) {
    ui.operationsHeading.textContent = `Operations reading ${coordinate}`;
    const rows = operations.map((op) => {
      const tr = document.createElement('tr');
      tr.dataset.operation = op.name;
      if (op.hash) tr.dataset.hash = op.hash;
      const name = document.createElement('code');
      name.textContent = op.name;
      const hash = document.createElement('code');
      hash.textContent = op.hash ? op.hash.slice(0, 12) : '';
      const clients = Array.isArray(op.clients) ? op.clients : [];
      tr.append(
        cell(name, { col: 'operation', value: op.name }),
        cell(hash, { col: 'hash', value: op.hash || '', title: op.hash || 'Operations past the hourly cap, counted together' }),
        cell(numberFormat.format(op.requests), { col: 'requests', value: op.requests, className: 'num' }),
        cell(clients.map((c) => c.name).join(', '), {
          col: 'clients',
          value: clients.map((c) => c.name).join(','),
          title: clients.map((c) => `${c.name}: ${count(c.requests, 'request')}, last ${formatTime(c.lastSeen)}`).join('\n'),
        }),
        cell(formatTime(op.lastSeen), { col: 'lastSeen', value: op.lastSeen, className: 'time', title: op.lastSeen }),
      );
      return tr;
    });
    if (rows.length === 0) {
      const tr = document.createElement('tr');
      tr.append(cell('No operation read this field in the window.', { className: 'empty' }));
      tr.firstChild.colSpan = 5;
      ui.operationsBody.replaceChildren(tr);
    } else ui.operationsBody.replaceChildren(...rows);
    ui.operations.dataset.rows = String(rows.length);
    ui.operationsSection.hidden = false;
  }

  async function loadSeries(coordinate) {
    if (!state.shown) return;
    const signal = begin('series');
    const { since, client } = state.shown;
    setStatus('loading', `Loading requests per hour and operations for ${coordinate}…`);
    try {
      const data = await graphql(SERIES_QUERY, { coordinate, since, client }, signal);
      const points = Array.isArray(data.fieldUsageSeries) ? data.fieldUsageSeries : [];
      // The operations first: they show even when the chart library did not load.
      renderOperations(coordinate, Array.isArray(data.fieldOperations) ? data.fieldOperations : []);
      drawChart(coordinate, points);
      const requests = points.reduce((sum, p) => sum + p.requests, 0);
      const errors = points.reduce((sum, p) => sum + p.errors, 0);
      setStatus('ok', `${coordinate}: ${count(requests, 'request')} and ${count(errors, 'error')} over ${count(points.length, 'hour')}.`);
    } catch (error) {
      if (isAbort(error)) return;
      // A chart that cannot be drawn leaves the operations on screen; a failed request shows neither.
      if (error instanceof ApiError && error.code === 'CHART_UNAVAILABLE') {
        state.chart?.destroy();
        state.chart = null;
        ui.chartSection.hidden = true;
      } else hideChart();
      showError(error);
    }
  }

  function drawChart(coordinate, points) {
    if (typeof window.Chart !== 'function') throw new ApiError('CHART_UNAVAILABLE', 'The chart library did not load.');
    ui.chartHeading.textContent = `Requests per hour: ${coordinate}`;
    ui.chartSection.hidden = false;
    const labels = points.map((p) => hourFormat.format(Date.parse(p.hour)));
    const requests = points.map((p) => p.requests);
    const errors = points.map((p) => p.errors);
    // Few points: show each; hundreds of hours: a clean line.
    const pointRadius = points.length > 72 ? 0 : 3;
    if (state.chart) {
      state.chart.data.labels = labels;
      state.chart.data.datasets[0].data = requests;
      state.chart.data.datasets[1].data = errors;
      for (const dataset of state.chart.data.datasets) dataset.pointRadius = pointRadius;
      state.chart.update();
      return;
    }
    state.chart = new window.Chart(ui.canvas, {
      type: 'line',
      data: {
        labels,
        datasets: [
          { label: 'Requests', data: requests, borderColor: '#2563eb', backgroundColor: 'rgba(37, 99, 235, 0.12)', fill: true, cubicInterpolationMode: 'monotone', pointRadius, borderWidth: 2 },
          { label: 'Errors', data: errors, borderColor: '#dc2626', backgroundColor: 'rgba(220, 38, 38, 0.12)', fill: true, cubicInterpolationMode: 'monotone', pointRadius, borderWidth: 2 },
        ],
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: 'index', intersect: false },
        scales: {
          x: { ticks: { autoSkip: true, maxTicksLimit: 12, maxRotation: 0 }, grid: { display: false } },
          y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: 'operations per hour' } },
        },
        plugins: { legend: { position: 'bottom' } },
      },
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Wiring

  /** Who the table was loaded for: another identity (or none) starts over. */
  let shownIdentity = null;
  function onSession(view) {
    if (view.status === 'busy' || view.identity === shownIdentity) return;
    shownIdentity = view.identity;
    state.productsLoaded = false;
    clearTable();
    if (!view.identity) {
      state.inflight.products?.abort();
      resetProducts('Sign in first');
      setStatus('idle', 'Sign in and pick a data product.');
      return;
    }
    void loadProducts();
  }

  ui.form.addEventListener('submit', (event) => {
    event.preventDefault();
    void loadUsage();
  });
  ui.table.querySelector('thead').addEventListener('click', onSort);
  ui.tbody.addEventListener('click', onRowActivate);
  ui.tbody.addEventListener('keydown', onRowActivate);

  mountSignIn(ui.signIn, session);
  session.subscribe(onSession);
  void session.start();
})();
