// ballast dashboard: a single page over the JSON API. Vanilla JavaScript, no build step.
// Decimals arrive as JSON strings and times as Unix milliseconds.
'use strict';
(() => {
  const S = {
    csrf: null,
    catalog: null,
    catalogError: null,
    presets: null,
    view: null,
    wiz: null,
    es: null,
    poll: null,
    esRetry: null,
  };

  // ---------------------------------------------------------------- DOM helpers
  const SVGNS = 'http://www.w3.org/2000/svg';
  const PROPS = new Set(['value', 'checked', 'disabled', 'selected', 'indeterminate']);

  function setAttrs(el, attrs, svg) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (!svg && PROPS.has(k)) el[k] = v;
      else if (k === 'text') el.textContent = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  function append(el, kids) {
    for (const k of kids.flat(Infinity)) {
      if (k == null || k === false) continue;
      el.append(k instanceof Node ? k : String(k));
    }
  }
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    setAttrs(el, attrs, false);
    append(el, kids);
    return el;
  }
  function s(tag, attrs, ...kids) {
    const el = document.createElementNS(SVGNS, tag);
    setAttrs(el, attrs, true);
    append(el, kids);
    return el;
  }
  const $ = (sel, root) => (root || document).querySelector(sel);
  // Runs `work` with `btn` disabled, so that a request in flight is not sent twice,
  // after clearing `err`; a failure's message goes to `err`. True when `work` succeeded.
  async function busy(btn, err, work) {
    err.textContent = '';
    btn.disabled = true;
    try {
      await work();
      return true;
    } catch (e) {
      err.textContent = e.message;
      return false;
    } finally {
      btn.disabled = false;
    }
  }
  // A group of toggle buttons of which one is pressed (a chart's range, the profit
  // period, the cost method). `options` are [value, label] pairs; each button carries
  // `data-<key>` and `data-test` = `<test><value>`; a click calls `onpick(value)`, and
  // `pick(value)` presses that button (class `active`, `aria-pressed`).
  function segmented(options, current, { key, test, label, attrs }, onpick) {
    const buttons = options.map(([v, text]) => h('button', { type: 'button', class: 'seg', [`data-${key}`]: v, 'data-test': `${test}${v}`, onclick: () => onpick(v) }, text));
    const pick = (v) => {
      for (const b of buttons) {
        const on = b.dataset[key] === v;
        b.classList.toggle('active', on);
        b.setAttribute('aria-pressed', String(on));
      }
    };
    pick(current);
    return { el: h('div', { class: 'segs', role: 'group', 'aria-label': label, ...(attrs || {}) }, buttons), pick };
  }
  function mount(...nodes) {
    const app = $('#app');
    app.replaceChildren(...nodes);
    window.scrollTo(0, 0);
  }
  // Every form control has a name for assistive technology: a `.field`'s label is tied
  // to its control, and a control without a label is named by its placeholder or title.
  let fieldSeq = 0;
  function nameControls(root) {
    if (!root.querySelectorAll) return;
    for (const f of root.querySelectorAll('.field')) {
      const label = f.querySelector(':scope > label');
      const ctl = f.querySelector(':scope > input, :scope > select, :scope > textarea');
      if (label && ctl && !label.htmlFor) {
        if (!ctl.id) ctl.id = `field-${++fieldSeq}`;
        label.htmlFor = ctl.id;
      }
    }
    for (const c of root.querySelectorAll('input, select, textarea')) {
      if (c.type === 'hidden' || c.getAttribute('aria-hidden') === 'true' || c.getAttribute('aria-label') || (c.labels && c.labels.length)) continue;
      const name = c.placeholder || c.title || (c.dataset.test || '').replace(/-/g, ' ');
      if (name) c.setAttribute('aria-label', name);
    }
  }
  new MutationObserver((muts) => {
    const roots = new Set();
    for (const m of muts) for (const n of m.addedNodes) if (n.nodeType === 1 && !(n instanceof SVGElement)) roots.add(n.parentElement || n);
    for (const r of roots) nameControls(r);
  }).observe(document.documentElement, { childList: true, subtree: true });
  function debounce(fn, ms) {
    let t = null;
    const d = (...a) => {
      clearTimeout(t);
      t = setTimeout(() => fn(...a), ms);
    };
    d.cancel = () => clearTimeout(t);
    return d;
  }
  function toast(msg, err) {
    const t = h('div', { class: 'toast' + (err ? ' err' : ''), 'data-test': 'toast' }, msg);
    const box = $('#toasts');
    box.append(t);
    while (box.childElementCount > 3) box.firstElementChild.remove();
    setTimeout(() => t.remove(), err ? 8000 : 2500);
  }
  async function copyText(text) {
    try {
      await navigator.clipboard.writeText(text);
      toast('Copied to the clipboard');
    } catch {
      const ta = h('textarea', { style: 'position:fixed;left:-9999px' });
      ta.value = text;
      document.body.append(ta);
      ta.select();
      const ok = document.execCommand && document.execCommand('copy');
      ta.remove();
      toast(ok ? 'Copied to the clipboard' : 'Copy failed: select the text and copy it by hand', !ok);
    }
  }

  // ---------------------------------------------------------------- formatting
  const num = (x) => (x == null || x === '' ? NaN : Number(x));
  function fmt(x, dp = 2) {
    const n = num(x);
    if (!isFinite(n)) return '–';
    return n.toLocaleString('en-US', { minimumFractionDigits: dp, maximumFractionDigits: dp });
  }
  function fmtPrice(x) {
    const n = num(x);
    if (!isFinite(n)) return '–';
    const a = Math.abs(n);
    return fmt(n, a >= 1000 ? 2 : a >= 1 ? 4 : a >= 0.01 ? 6 : 8);
  }
  function fmtQty(x) {
    const n = num(x);
    if (!isFinite(n)) return '–';
    return n.toLocaleString('en-US', { maximumFractionDigits: 8 });
  }
  function fmtPct(x, dp = 2) {
    let n = num(x);
    if (!isFinite(n)) return '–';
    n = Number(n.toFixed(dp));
    if (n === 0) n = 0; // no "-0.00%"
    return (n > 0 ? '+' : '') + fmt(n, dp) + '%';
  }
  const fmtW = (x) => (isFinite(num(x)) ? fmt(num(x) * 100, 2) + '%' : '–');
  const signCls = (x) => (Math.abs(num(x)) < 0.005 ? '' : num(x) > 0 ? 'pos' : num(x) < 0 ? 'neg' : '');
  const pad2 = (n) => String(n).padStart(2, '0');
  const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  function fmtSpan(ms) {
    const n = Number(ms);
    if (!isFinite(n) || n < 0) return '–';
    const mins = Math.floor(n / 60000);
    const d = Math.floor(mins / 1440);
    const hh = Math.floor(mins / 60) % 24;
    if (d >= 365) return `${Math.floor(d / 365)}y ${d % 365}d`;
    if (d > 0) return `${d}d ${hh}h`;
    return `${hh}h ${mins % 60}m`;
  }
  function fmtTime(ms) {
    if (ms == null || !isFinite(Number(ms))) return '–';
    const d = new Date(Number(ms));
    return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
  }

  // ---------------------------------------------------------------- API
  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }
  async function api(method, path, body) {
    const opt = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin' };
    if (body !== undefined) {
      opt.headers['Content-Type'] = 'application/json';
      opt.body = JSON.stringify(body);
    }
    if (method !== 'GET' && S.csrf) opt.headers['X-CSRF-Token'] = S.csrf;
    let r;
    try {
      r = await fetch(path, opt);
    } catch (e) {
      netState(false);
      throw new ApiError(0, `the server does not answer (${e.message})`);
    }
    netState(true);
    const text = await r.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!r.ok) {
      const msg =
        data && typeof data.error === 'string'
          ? data.error
          : `${r.status} ${r.statusText}${text && data == null ? ': ' + text.slice(0, 200) : ''}`;
      if (r.status === 401 && S.csrf && path !== '/api/login') sessionLost();
      throw new ApiError(r.status, msg);
    }
    return data;
  }
  async function catalog() {
    if (S.catalog) return S.catalog;
    try {
      S.catalog = await api('GET', '/api/catalog');
      S.catalogError = null;
    } catch (e) {
      S.catalogError = e.message;
      return null;
    }
    return S.catalog;
  }
  const quote = () => (S.catalog && S.catalog.quote) || 'USDT';
  const maxAssets = () => (S.catalog && S.catalog.max_assets) || 12;
  function catAsset(a) {
    return S.catalog ? (S.catalog.assets || []).find((x) => x.asset === a) : null;
  }

  // ---------------------------------------------------------------- live updates
  let refreshTimer = null;
  function scheduleRefresh(delay = 700) {
    // A throttle, not a debounce: ticks may come faster than the delay forever.
    if (refreshTimer) return;
    refreshTimer = setTimeout(() => {
      refreshTimer = null;
      const v = S.view;
      if (v && v.refresh) v.refresh().catch(() => {});
    }, delay);
  }
  // The connection indicator: `on` (the stream is open), `poll` (no stream: polling),
  // `reconnecting` (the stream dropped and is being retried) or `off` (the server does
  // not answer), with the time of the last successful update.
  const LIVE_TEXT = { on: 'live', poll: 'polling', reconnecting: 'reconnecting…', off: 'offline' };
  function setLive(mode) {
    const el = $('#live');
    el.className = 'live ' + mode;
    $('#live-text').textContent = LIVE_TEXT[mode] || mode;
    el.dataset.mode = mode;
    el.title = mode === 'on' ? 'live updates' : mode === 'off' ? 'the server does not answer: the figures shown may be out of date' : 'live updates interrupted: retrying';
  }
  function markUpdated() {
    S.updated = Date.now();
    const d = new Date(S.updated);
    const u = $('#updated');
    u.textContent = `updated ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
    u.dataset.time = String(S.updated);
  }
  // Whether the server answered: called by every API call.
  function netState(ok) {
    const mode = $('#live').dataset.mode;
    if (!ok) {
      if (S.csrf && mode !== 'off') setLive('off');
      return;
    }
    if (mode === 'off' && S.csrf) setLive(S.es && S.es.readyState === 1 ? 'on' : S.es ? 'reconnecting' : 'poll');
  }
  function startPoll() {
    if (S.poll) return;
    S.poll = setInterval(() => scheduleRefresh(0), 5000);
  }
  function stopPoll() {
    clearInterval(S.poll);
    S.poll = null;
  }
  // A stream can look open while the server is gone (no FIN reaches us): a light
  // check every 15 s notices it.
  function startWatch() {
    if (S.watch) return;
    S.watch = setInterval(() => {
      api('GET', '/api/health').catch(() => {});
    }, 15000);
  }
  function startStream() {
    stopStream();
    startWatch();
    if (!window.EventSource) {
      setLive('poll');
      startPoll();
      return;
    }
    const es = new EventSource('/api/stream');
    S.es = es;
    es.addEventListener('open', () => {
      setLive('on');
      stopPoll();
      scheduleRefresh(0);
    });
    es.addEventListener('bot', () => scheduleRefresh());
    es.addEventListener('tick', () => scheduleRefresh());
    es.addEventListener('lagged', () => scheduleRefresh(0));
    es.addEventListener('error', () => {
      setLive(es.readyState === EventSource.CLOSED ? 'off' : 'reconnecting');
      startPoll();
      if (es.readyState === EventSource.CLOSED && S.csrf && !S.esRetry) {
        S.esRetry = setTimeout(() => {
          S.esRetry = null;
          if (S.csrf) startStream();
        }, 10000);
      }
    });
  }
  function stopStream() {
    if (S.es) S.es.close();
    S.es = null;
    clearTimeout(S.esRetry);
    S.esRetry = null;
    clearInterval(S.watch);
    S.watch = null;
    stopPoll();
    setLive('off');
  }

  // ---------------------------------------------------------------- boot, auth
  async function boot() {
    window.addEventListener('hashchange', route);
    window.addEventListener(
      'resize',
      debounce(() => S.view && S.view.redraw && S.view.redraw(), 200),
    );
    let health;
    try {
      health = await api('GET', '/api/health');
    } catch (e) {
      mount(h('div', { class: 'auth' }, h('div', { class: 'error' }, `The server does not answer: ${e.message}`)));
      return;
    }
    if (!health.setup_done) return showSetup();
    try {
      const sess = await api('GET', '/api/session');
      S.csrf = sess.csrf_token;
    } catch (e) {
      return showLogin();
    }
    loggedIn();
  }
  function hideChrome() {
    $('#topbar').hidden = true;
    disposeView();
  }
  function sessionLost() {
    S.csrf = null;
    stopStream();
    showLogin('Your session has ended: log in again.');
  }
  function loggedIn() {
    $('#topbar').hidden = false;
    startStream();
    if (!location.hash || location.hash === '#' || location.hash === '#/') location.hash = '#/bots';
    route();
  }

  function showSetup() {
    hideChrome();
    const err = h('div', { class: 'error', 'data-test': 'setup-error' });
    // `ballast serve` prints the one-time setup token, and a link carrying it in the
    // fragment (never sent to the server or written in its logs).
    const given = /^#setup=([0-9a-fA-F]+)$/.exec(location.hash || '');
    const tok = h('input', { type: 'text', id: 'setup-token', 'data-test': 'setup-token', autocomplete: 'off', spellcheck: 'false' });
    if (given) tok.value = given[1];
    const p1 = h('input', { type: 'password', id: 'setup-password', 'data-test': 'setup-password', autocomplete: 'new-password' });
    const p2 = h('input', { type: 'password', id: 'setup-password2', 'data-test': 'setup-password2', autocomplete: 'new-password' });
    const btn = h('button', { class: 'primary', type: 'submit', 'data-test': 'setup-submit' }, 'Create the admin');
    const form = h(
      'form',
      {
        onsubmit: async (e) => {
          e.preventDefault();
          err.textContent = '';
          if (p1.value.length < 8) return void (err.textContent = 'The password needs at least 8 characters.');
          if (p1.value !== p2.value) return void (err.textContent = 'The two passwords differ.');
          await busy(btn, err, async () => {
            const done = await api('POST', '/api/setup', { password: p1.value, setup_token: tok.value.trim() });
            if (given) history.replaceState(null, '', location.pathname);
            showEnrol(done, tok.value.trim());
          });
        },
      },
      h('div', { class: 'field' }, h('label', { for: 'setup-token' }, 'Setup token (printed by ballast serve at start)'), tok),
      h('div', { class: 'field' }, h('label', { for: 'setup-password' }, 'Password (at least 8 characters)'), p1),
      h('div', { class: 'field' }, h('label', { for: 'setup-password2' }, 'Password again'), p2),
      err,
      h('div', { class: 'actions end' }, btn),
    );
    mount(
      h(
        'div',
        { class: 'auth', 'data-test': 'setup' },
        h(
          'div',
          { class: 'panel' },
          h('h1', {}, 'Welcome to ballast'),
          h('p', {}, 'First run: create the admin password. Then add the two-factor code to your authenticator app.'),
          form,
        ),
      ),
    );
    (given ? p1 : tok).focus();
  }

  function svgFromText(text) {
    const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
    const root = doc.documentElement;
    if (!root || root.nodeName.toLowerCase() !== 'svg') return null;
    root.querySelectorAll('script, foreignObject').forEach((n) => n.remove());
    root.querySelectorAll('*').forEach((n) => {
      for (const a of [...n.attributes]) if (/^on/i.test(a.name)) n.removeAttribute(a.name);
    });
    return document.importNode(root, true);
  }

  // The QR code and key of a TOTP secret, and a field for a code of it: used by the
  // first setup and by re-enrolment from the settings. `confirm(code)` checks it.
  function enrolBox(r, confirm, doneLabel) {
    const uri = r.otpauth_uri || '';
    let secret = '';
    try {
      secret = new URL(uri).searchParams.get('secret') || '';
    } catch {
      secret = '';
    }
    const qr = h('div', { class: 'qr', 'data-test': 'qr', role: 'img', 'aria-label': 'QR code of the two-factor key' });
    const svg = r.qr_svg ? svgFromText(r.qr_svg) : null;
    if (svg) qr.append(svg);
    else qr.replaceChildren(h('span', { class: 'muted' }, 'No QR code: enter the key below by hand.'));
    const err = h('div', { class: 'error', 'data-test': 'enrol-error', role: 'alert' });
    const code = h('input', { type: 'text', id: 'enrol-code', 'data-test': 'enrol-code', class: 'code-input', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 6 });
    const btn = h('button', { class: 'primary', type: 'submit', 'data-test': 'enrol-submit' }, doneLabel);
    const form = h(
      'form',
      {
        onsubmit: async (e) => {
          e.preventDefault();
          if (!(await busy(btn, err, () => confirm(code.value.trim())))) code.select();
        },
      },
      qr,
      h('label', { for: 'otpauth-uri' }, 'otpauth URI'),
      h('div', { class: 'uri', 'data-test': 'otpauth-uri', id: 'otpauth-uri' }, uri),
      secret ? h('p', { class: 'hint' }, 'Key: ', h('code', { 'data-test': 'totp-secret' }, secret)) : null,
      h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => copyText(uri) }, 'Copy URI')),
      h('div', { class: 'field' }, h('label', { for: 'enrol-code' }, 'The 6-digit code your app shows now'), code),
      err,
      h('div', { class: 'actions end' }, btn),
    );
    return { form, focus: () => code.focus() };
  }

  // Setup is finished only once a code of the new authenticator checks: a wrong scan
  // is noticed here, while setup can still be done again.
  function showEnrol(r, token) {
    const box = enrolBox(
      r,
      async (code) => {
        const s = await api('POST', '/api/setup/confirm', { setup_token: token, code });
        S.csrf = s.csrf_token;
        toast('Two-factor code checked: you are logged in');
        loggedIn();
      },
      'Check the code and finish',
    );
    mount(
      h(
        'div',
        { class: 'auth', 'data-test': 'enrol' },
        h(
          'div',
          { class: 'panel' },
          h('h1', {}, 'Two-factor code'),
          h('p', {}, 'Scan this code with your authenticator app (or enter the key), then enter the code it shows: setup finishes once it matches.'),
          box.form,
        ),
      ),
    );
    box.focus();
  }

  function showLogin(msg) {
    hideChrome();
    const err = h('div', { class: 'error', 'data-test': 'login-error' }, msg || '');
    const pw = h('input', { type: 'password', id: 'login-password', 'data-test': 'login-password', autocomplete: 'current-password' });
    const code = h('input', {
      type: 'text',
      id: 'login-code',
      'data-test': 'login-code',
      class: 'code-input',
      inputmode: 'numeric',
      autocomplete: 'one-time-code',
      maxlength: 6,
      placeholder: '000000',
    });
    const btn = h('button', { class: 'primary', type: 'submit', 'data-test': 'login-submit' }, 'Log in');
    const form = h(
      'form',
      {
        onsubmit: async (e) => {
          e.preventDefault();
          err.textContent = '';
          if (!/^\d{6}$/.test(code.value.trim())) return void (err.textContent = 'The code has 6 digits.');
          await busy(btn, err, async () => {
            const r = await api('POST', '/api/login', { password: pw.value, code: code.value.trim() });
            S.csrf = r.csrf_token;
            loggedIn();
          });
        },
      },
      h('div', { class: 'field' }, h('label', { for: 'login-password' }, 'Password'), pw),
      h('div', { class: 'field' }, h('label', { for: 'login-code' }, 'Code from your authenticator'), code),
      err,
      h('div', { class: 'actions end' }, btn),
    );
    mount(
      h(
        'div',
        { class: 'auth', 'data-test': 'login' },
        h('div', { class: 'panel' }, h('h1', {}, 'Log in'), h('p', {}, 'ballast dashboard'), form),
      ),
    );
    pw.focus();
  }

  async function logout() {
    try {
      await api('POST', '/api/logout');
    } catch {
      /* the session is gone either way */
    }
    S.csrf = null;
    stopStream();
    showLogin();
  }

  // ---------------------------------------------------------------- routing
  function disposeView() {
    if (S.view && S.view.dispose) S.view.dispose();
    S.view = null;
  }
  function route() {
    if (!S.csrf) return;
    disposeView();
    const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean);
    const [a, b] = parts;
    const section = !a || a === 'bots' ? 'bots' : a;
    document.querySelectorAll('#nav a').forEach((n) => n.classList.toggle('active', n.dataset.nav === section));
    if (section === 'bots' && b) S.view = viewBot(Number(b));
    else if (section === 'new') S.view = viewWizard();
    else if (section === 'backtest') S.view = viewBacktest();
    else if (section === 'settings') S.view = viewSettings();
    else if (section === 'log') S.view = viewLog();
    else S.view = viewBots();
  }

  // ---------------------------------------------------------------- modal
  // A dialog: labelled, modal for assistive technology, focus moved into it and kept
  // there (Tab cycles), Esc or a click outside closes it, focus returns where it was.
  let modalSeq = 0;
  function modal(title, body, buttons, testId) {
    const back = h('div', { class: 'modal-back', 'data-test': testId || 'modal' });
    const before = document.activeElement;
    const titleId = `modal-title-${++modalSeq}`;
    const close = () => {
      back.remove();
      document.removeEventListener('keydown', onKey, true);
      if (before && before.focus && document.contains(before)) before.focus();
    };
    const box = h('div', { class: 'modal', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': titleId }, h('h2', { id: titleId }, title), body, h('div', { class: 'actions end' }, buttons));
    function onKey(e) {
      if (!document.contains(back)) return;
      if (e.key === 'Escape') {
        e.preventDefault();
        close();
      } else if (e.key === 'Tab') {
        const f = [...box.querySelectorAll('button, [href], input, select, textarea')].filter((x) => !x.disabled && x.offsetParent !== null);
        if (!f.length) return;
        const [first, lastEl] = [f[0], f[f.length - 1]];
        if (e.shiftKey && document.activeElement === first) {
          e.preventDefault();
          lastEl.focus();
        } else if (!e.shiftKey && document.activeElement === lastEl) {
          e.preventDefault();
          first.focus();
        }
      }
    }
    back.addEventListener('click', (e) => {
      if (e.target === back) close();
    });
    document.addEventListener('keydown', onKey, true);
    back.append(box);
    document.body.append(back);
    const focusable = box.querySelector('input, select, textarea, button.primary, button');
    if (focusable) focusable.focus();
    return { close, el: back };
  }

  // What a trade would do, from a plan of the API (orders, fees, skipped legs): shown
  // before every action that trades, which runs `go` only once confirmed.
  function planView(p) {
    const q = p.quote || quote();
    const orders = p.orders || [];
    return h(
      'div',
      { 'data-test': 'trade-plan' },
      // A change made while a maker-first rebalance is still worked waits for it.
      p.after ? h('div', { class: 'note warn', 'data-test': 'plan-after' }, p.after) : null,
      orders.length
        ? h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              {},
              h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Side'), h('th', { scope: 'col' }, 'Asset'), h('th', { scope: 'col', class: 'num' }, 'Qty'), h('th', { scope: 'col', class: 'num' }, `Value (${q})`), h('th', { scope: 'col', class: 'num' }, 'Fee'))),
              h(
                'tbody',
                {},
                orders.map((o) => h('tr', { 'data-test': 'plan-order' }, h('td', {}, h('span', { class: `badge ${o.side}` }, o.side)), h('td', {}, h('b', {}, o.asset)), h('td', { class: 'num' }, fmtQty(o.qty)), h('td', { class: 'num' }, fmt(o.notional, 2)), h('td', { class: 'num' }, fmt(o.fee, 4)))),
              ),
            ),
          )
        : h('div', { class: 'note warn', 'data-test': 'plan-nothing' }, 'No order would be sent: nothing would be bought or sold now.'),
      orders.length ? h('p', { class: 'muted' }, `${orders.length} order${orders.length > 1 ? 's' : ''}, fees ≈ ${fmt(p.fees, 4)} ${q}.`) : null,
      (p.skipped || []).length ? h('div', { class: 'note warn' }, p.skipped.map((x) => h('div', { 'data-test': 'plan-skipped' }, `skipped: ${x.side} ${x.asset} (${fmt(x.notional, 2)} ${q}): ${x.reason}`))) : null,
    );
  }
  function confirmTrade(title, intro, plan, go, testId) {
    const err = h('div', { class: 'error', role: 'alert' });
    const ok = h('button', { class: 'primary', 'data-test': 'trade-confirm' }, 'Confirm');
    const m = modal(title, h('div', {}, h('p', {}, intro), planView(plan), err), [h('button', { onclick: () => m.close(), 'data-test': 'trade-cancel' }, 'Cancel'), ok], testId || 'trade-dialog');
    ok.addEventListener('click', async () => {
      await busy(ok, err, async () => {
        await go();
        m.close();
      });
    });
    ok.focus();
    return m;
  }

  // ---------------------------------------------------------------- charts (SVG)
  const PALETTE = ['#f0b90b', '#3d8bfd', '#0ecb81', '#e84393', '#a66cff', '#00c2d1', '#ff7a45', '#9ccc65', '#f06292', '#5c7cfa', '#ffd43b', '#20c997'];
  const QUOTE_COLOR = '#5e6673';
  function colorOf(asset, assets, q) {
    if (asset === q) return QUOTE_COLOR;
    const i = assets.indexOf(asset);
    return PALETTE[(i < 0 ? assets.length : i) % PALETTE.length];
  }

  function niceTicks(min, max, count = 5) {
    if (!(max > min)) {
      const d = Math.abs(min) * 0.02 || 1;
      min -= d;
      max += d;
    }
    const step0 = (max - min) / count;
    const mag = Math.pow(10, Math.floor(Math.log10(step0)));
    const n = step0 / mag;
    const step = (n < 1.5 ? 1 : n < 3 ? 2 : n < 7 ? 5 : 10) * mag;
    const lo = Math.floor(min / step) * step;
    const hi = Math.ceil(max / step) * step;
    const ticks = [];
    for (let v = lo; v <= hi + step / 2; v += step) ticks.push(Number(v.toPrecision(12)));
    return { lo, hi, ticks };
  }
  const MIN = 60e3;
  const HOUR = 3600e3;
  const DAY = 86400e3;
  const TSTEPS = [MIN, 5 * MIN, 15 * MIN, 30 * MIN, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY, 91 * DAY, 182 * DAY, 365 * DAY];
  function timeTicks(t0, t1, count) {
    const span = Math.max(1, t1 - t0);
    const step = TSTEPS.find((st) => span / st <= count) || 365 * DAY;
    const tz = new Date(t0).getTimezoneOffset() * MIN;
    const ticks = [];
    for (let t = Math.ceil((t0 + tz) / step) * step - tz; t <= t1; t += step) ticks.push(t);
    const label = (t) => {
      const d = new Date(t);
      if (step >= DAY) return span > 300 * DAY ? `${MONTHS[d.getMonth()]} ${d.getFullYear()}` : `${MONTHS[d.getMonth()]} ${d.getDate()}`;
      if (d.getHours() === 0 && d.getMinutes() === 0) return `${MONTHS[d.getMonth()]} ${d.getDate()}`;
      return `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
    };
    return { ticks, label };
  }
  function chartSize(el, height) {
    const w = Math.round(el.clientWidth || el.parentElement?.clientWidth || 800);
    return { W: Math.max(300, w), H: height };
  }
  function nearestIndex(times, t) {
    let lo = 0;
    let hi = times.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (times[mid] < t) lo = mid;
      else hi = mid;
    }
    return Math.abs(times[lo] - t) <= Math.abs(times[hi] - t) ? lo : hi;
  }
  function attachHover(el, svg, W, m, H, times, xOf, onIndex) {
    const tip = h('div', { class: 'tip', hidden: true });
    const cross = s('line', { y1: m.t, y2: H - m.b, stroke: '#848e9c', 'stroke-dasharray': '3,3', visibility: 'hidden' });
    const dots = s('g', { visibility: 'hidden' });
    svg.append(cross, dots);
    const overlay = s('rect', { x: m.l, y: m.t, width: W - m.l - m.r, height: H - m.t - m.b, fill: 'transparent' });
    svg.append(overlay);
    el.append(tip);
    // The readout survives redraws (live updates redraw the chart under the mouse).
    const show = (px) => {
      const rect = svg.getBoundingClientRect();
      const t = times[0] + ((px - m.l) / (W - m.l - m.r)) * (times[times.length - 1] - times[0] || 1);
      const i = nearestIndex(times, t);
      const x = xOf(times[i]);
      cross.setAttribute('x1', x);
      cross.setAttribute('x2', x);
      cross.setAttribute('visibility', 'visible');
      dots.replaceChildren();
      dots.setAttribute('visibility', 'visible');
      const { rows, points } = onIndex(i);
      for (const p of points) dots.append(s('circle', { cx: x, cy: p.y, r: 3.5, fill: p.color, stroke: '#0b0e11', 'stroke-width': 1.5 }));
      tip.replaceChildren(h('div', { class: 't' }, fmtTime(times[i])), ...rows);
      tip.hidden = false;
      const sx = (x * rect.width) / W;
      const tw = tip.offsetWidth;
      tip.style.left = (sx + 14 + tw > rect.width ? sx - 14 - tw : sx + 14) + 'px';
      tip.style.top = '8px';
    };
    overlay.addEventListener('mousemove', (e) => {
      const rect = svg.getBoundingClientRect();
      el._hoverPx = ((e.clientX - rect.left) * W) / rect.width;
      show(el._hoverPx);
    });
    if (el._hoverPx != null) show(el._hoverPx);
    overlay.addEventListener('mouseleave', () => {
      el._hoverPx = null;
      tip.hidden = true;
      cross.setAttribute('visibility', 'hidden');
      dots.setAttribute('visibility', 'hidden');
    });
  }
  function emptyChart(el, W, H, text) {
    el.replaceChildren(
      s(
        'svg',
        { viewBox: `0 0 ${W} ${H}`, 'data-empty': 'true' },
        s('rect', { x: 0.5, y: 0.5, width: W - 1, height: H - 1, fill: 'none', stroke: '#2b3139', 'stroke-dasharray': '4,4', rx: 6 }),
        s('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'empty' }, text),
      ),
    );
  }

  // Line chart of series [{name, label, color, dash, area, points: [[t, v]]}] sharing times.
  // Ticks of a log axis: 1, 2, 5 x 10^k inside [min, max] (linear ticks when fewer
  // than three fall inside).
  function logTicks(min, max) {
    const out = [];
    for (let k = Math.floor(Math.log10(min)); k <= Math.ceil(Math.log10(max)); k++) {
      for (const f of [1, 2, 5]) {
        const v = f * Math.pow(10, k);
        if (v >= min && v <= max) out.push(v);
      }
    }
    if (out.length >= 3) return out;
    const lin = niceTicks(min, max, 4).ticks.filter((v) => v >= min && v <= max && v > 0);
    return lin.length ? lin : [min, max];
  }
  // A line chart: series [{name, label, color, points: [[t, v]], area, dash}], an
  // optional log scale (every value positive) and markers [{time, label}] drawn as
  // thin vertical lines (the rebalances on the value chart).
  function lineChart(el, { series, yFmt, height = 260, testId, log = false, markers = [], areaBase }) {
    const { W, H } = chartSize(el, height);
    const m = { l: 72, r: 16, t: 12, b: 26 };
    const pts = series.flatMap((x) => x.points);
    if (!pts.length) return emptyChart(el, W, H, 'No data yet: the chart fills as the bot runs.');
    if (log && pts.some((p) => !(p[1] > 0))) log = false;
    const times = series[0].points.map((p) => p[0]);
    let t0 = Math.min(...pts.map((p) => p[0]));
    let t1 = Math.max(...pts.map((p) => p[0]));
    if (t1 === t0) {
      t0 -= HOUR / 2;
      t1 += HOUR / 2;
    }
    const vs = pts.map((p) => p[1]);
    let yt;
    let yOf;
    if (log) {
      const lo = Math.log10(Math.min(...vs) * 0.97);
      const hi = Math.log10(Math.max(...vs) * 1.03);
      yt = { lo, hi, ticks: logTicks(Math.pow(10, lo), Math.pow(10, hi)) };
      yOf = (v) => m.t + (1 - (Math.log10(v) - lo) / (hi - lo)) * (H - m.t - m.b);
    } else {
      yt = niceTicks(Math.min(...vs), Math.max(...vs), 5);
      yOf = (v) => m.t + (1 - (v - yt.lo) / (yt.hi - yt.lo)) * (H - m.t - m.b);
    }
    const xOf = (t) => m.l + ((t - t0) / (t1 - t0)) * (W - m.l - m.r);
    const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, 'data-test': testId, 'data-points': times.length, 'data-scale': log ? 'log' : 'linear' });
    const grid = s('g', { class: 'grid' });
    const axis = s('g', { class: 'axis' });
    for (const v of yt.ticks) {
      const y = yOf(v);
      grid.append(s('line', { x1: m.l, x2: W - m.r, y1: y, y2: y }));
      axis.append(s('text', { x: m.l - 8, y: y + 4, 'text-anchor': 'end' }, yFmt(v)));
    }
    const tt = timeTicks(t0, t1, Math.max(2, Math.floor((W - m.l - m.r) / 110)));
    for (const t of tt.ticks) {
      const x = xOf(t);
      grid.append(s('line', { x1: x, x2: x, y1: m.t, y2: H - m.b, 'stroke-opacity': 0.5 }));
      axis.append(s('text', { x, y: H - 8, 'text-anchor': 'middle' }, tt.label(t)));
    }
    axis.append(s('line', { x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b }));
    svg.append(grid, axis);
    const marks = s('g', { class: 'markers', 'data-test': `${testId}-markers` });
    for (const mk of markers) {
      if (mk.time < t0 || mk.time > t1) continue;
      const x = xOf(mk.time).toFixed(1);
      marks.append(s('line', { x1: x, x2: x, y1: m.t, y2: H - m.b, class: 'marker', 'data-test': 'marker' }, s('title', {}, mk.label)));
    }
    svg.append(marks);
    const defs = s('defs');
    svg.append(defs);
    series.forEach((ser, k) => {
      if (!ser.points.length) return;
      const d = ser.points.map((p, i) => `${i ? 'L' : 'M'}${xOf(p[0]).toFixed(1)},${yOf(p[1]).toFixed(1)}`).join('');
      if (ser.area && ser.points.length > 1) {
        const gid = `g${Math.random().toString(36).slice(2)}`;
        defs.append(
          s(
            'linearGradient',
            { id: gid, x1: 0, x2: 0, y1: 0, y2: 1 },
            s('stop', { offset: '0%', 'stop-color': ser.color, 'stop-opacity': 0.25 }),
            s('stop', { offset: '100%', 'stop-color': ser.color, 'stop-opacity': 0 }),
          ),
        );
        const last = ser.points[ser.points.length - 1];
        const first = ser.points[0];
        const base = (areaBase != null ? yOf(areaBase) : H - m.b).toFixed(1);
        svg.append(s('path', { d: `${d}L${xOf(last[0]).toFixed(1)},${base}L${xOf(first[0]).toFixed(1)},${base}Z`, fill: `url(#${gid})`, stroke: 'none' }));
      }
      svg.append(
        s('path', {
          d,
          class: 'line',
          fill: 'none',
          stroke: ser.color,
          'stroke-width': k === 0 ? 2.2 : 1.5,
          'stroke-dasharray': ser.dash || null,
          'stroke-linejoin': 'round',
          'data-series': ser.name,
          'data-test': `line-${ser.name}`,
        }),
      );
      if (ser.points.length === 1) svg.append(s('circle', { cx: xOf(ser.points[0][0]), cy: yOf(ser.points[0][1]), r: 3, fill: ser.color }));
    });
    el.replaceChildren(svg);
    attachHover(el, svg, W, m, H, times, xOf, (i) => ({
      rows: series.map((ser) =>
        h('div', {}, h('span', { style: `color:${ser.color}` }, '● '), `${ser.label}: `, h('b', {}, ser.points[i] ? yFmt(ser.points[i][1], true) : '–')),
      ),
      points: series.filter((ser) => ser.points[i]).map((ser) => ({ y: yOf(ser.points[i][1]), color: ser.color })),
    }));
    el.append(h('div', { class: 'legend' }, series.map((ser) => h('span', {}, h('i', { style: `background:${ser.color}` }), ser.label))));
  }

  // Stacked area of weights: layers [{name, color, values}] over times (fractions 0..1).
  function stackedArea(el, { times, layers, height = 220, testId }) {
    const { W, H } = chartSize(el, height);
    const m = { l: 44, r: 16, t: 10, b: 26 };
    if (!times.length) return emptyChart(el, W, H, 'No weights yet.');
    let t0 = times[0];
    let t1 = times[times.length - 1];
    if (t1 === t0) {
      t0 -= HOUR / 2;
      t1 += HOUR / 2;
    }
    const xOf = (t) => m.l + ((t - t0) / (t1 - t0)) * (W - m.l - m.r);
    const yOf = (v) => m.t + (1 - v) * (H - m.t - m.b);
    const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, 'data-test': testId, 'data-points': times.length });
    const grid = s('g', { class: 'grid' });
    const axis = s('g', { class: 'axis' });
    for (const v of [0, 0.25, 0.5, 0.75, 1]) {
      grid.append(s('line', { x1: m.l, x2: W - m.r, y1: yOf(v), y2: yOf(v) }));
      axis.append(s('text', { x: m.l - 6, y: yOf(v) + 4, 'text-anchor': 'end' }, `${v * 100}%`));
    }
    const tt = timeTicks(t0, t1, Math.max(2, Math.floor((W - m.l - m.r) / 110)));
    for (const t of tt.ticks) axis.append(s('text', { x: xOf(t), y: H - 8, 'text-anchor': 'middle' }, tt.label(t)));
    // Normalize each time's weights so the stack fills 100%.
    const totals = times.map((_, i) => layers.reduce((a, l) => a + (l.values[i] || 0), 0) || 1);
    const cum = times.map(() => 0);
    const paths = s('g');
    for (const l of layers) {
      const lower = cum.slice();
      const upper = cum.map((c, i) => c + (l.values[i] || 0) / totals[i]);
      const single = times.length === 1;
      const xs = single ? [m.l, W - m.r] : times.map(xOf);
      const up = single ? [upper[0], upper[0]] : upper;
      const lowr = single ? [lower[0], lower[0]] : lower;
      let d = xs.map((x, i) => `${i ? 'L' : 'M'}${x.toFixed(1)},${yOf(up[i]).toFixed(1)}`).join('');
      for (let i = xs.length - 1; i >= 0; i--) d += `L${xs[i].toFixed(1)},${yOf(lowr[i]).toFixed(1)}`;
      d += 'Z';
      paths.append(s('path', { d, fill: l.color, 'fill-opacity': 0.85, stroke: '#0b0e11', 'stroke-width': 0.5, 'data-series': l.name, class: 'area' }));
      upper.forEach((u, i) => (cum[i] = u));
    }
    svg.append(grid, paths, axis);
    el.replaceChildren(svg);
    attachHover(el, svg, W, m, H, times, xOf, (i) => ({
      rows: layers
        .slice()
        .reverse()
        .map((l) => h('div', {}, h('span', { style: `color:${l.color}` }, '■ '), `${l.name}: `, h('b', {}, fmtW((l.values[i] || 0) / totals[i])))),
      points: [],
    }));
    el.append(h('div', { class: 'legend' }, layers.map((l) => h('span', {}, h('i', { style: `background:${l.color}` }), l.name))));
  }

  // Bars of current against target weight per asset, drift in percentage points.
  function driftBars(el, { rows, threshold, kind, assets, q, testId, stopped }) {
    const { W } = chartSize(el, 0);
    const rowH = 30;
    const m = { l: 62, r: 150, t: 8, b: 8 };
    const H = m.t + m.b + rows.length * rowH;
    if (!rows.length) return emptyChart(el, W, 120, 'No weights yet.');
    const maxW = Math.max(0.05, ...rows.map((r) => Math.max(num(r.weight) || 0, num(r.target) || 0))) * 1.08;
    const xOf = (v) => m.l + (v / maxW) * (W - m.l - m.r);
    const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, 'data-test': testId });
    rows.forEach((r, i) => {
      const w = num(r.weight) || 0;
      const t = num(r.target) || 0;
      const drift = (w - t) * 100;
      const measure = kind === 'relative' && t > 0 ? (Math.abs(w - t) / t) * 100 : Math.abs(drift);
      const state = threshold == null ? 'ok' : measure > threshold ? 'over' : measure > threshold / 2 ? 'near' : 'ok';
      const col = state === 'over' ? '#f6465d' : state === 'near' ? '#f0a30b' : colorOf(r.asset, assets, q);
      const y = m.t + i * rowH;
      svg.append(
        s('text', { x: m.l - 8, y: y + rowH / 2 + 4, 'text-anchor': 'end', style: 'fill:#eaecef;font-weight:600' }, r.asset),
        s('rect', { x: m.l, y: y + 7, width: W - m.l - m.r, height: rowH - 14, fill: '#1e2329', rx: 2 }),
        s('rect', { x: m.l, y: y + 7, width: Math.max(0, xOf(w) - m.l), height: rowH - 14, fill: col, rx: 2, 'data-drift': state, class: 'bar' }),
        s('line', { x1: xOf(t), x2: xOf(t), y1: y + 3, y2: y + rowH - 3, stroke: '#eaecef', 'stroke-width': 2 }),
        s(
          'text',
          { x: W - m.r + 8, y: y + rowH / 2 + 4 },
          s('tspan', { style: 'fill:#eaecef' }, `${fmt(w * 100, 1)}%`),
          s('tspan', {}, ` / ${fmt(t * 100, 1)}%  `),
          s('tspan', { style: `fill:${state === 'over' ? '#f6465d' : state === 'near' ? '#f0a30b' : '#848e9c'};font-weight:600` }, `${drift >= 0 ? '+' : ''}${fmt(drift, 2)} pp`),
        ),
      );
    });
    el.replaceChildren(svg);
    el.append(
      h(
        'div',
        { class: 'legend' },
        h('span', {}, h('i', { style: 'background:#eaecef;width:3px' }), 'target'),
        threshold != null
          ? h('span', {}, h('i', { style: 'background:#f6465d' }), `beyond the threshold (${fmt(threshold, 2)}${kind === 'relative' ? '% relative' : ' pp'})`)
          : h('span', {}, stopped ? 'the bot is stopped: it no longer rebalances' : 'calendar mode without a minimum drift'),
      ),
    );
  }

  // Profit bars (GET .../profit: the CLI's `bot profit`): one bar per UTC day, ISO week
  // or month, green above zero and red below, each with its figures as a tooltip; the
  // figures also go into the box's aria-label.
  function profitLabel(t, by) {
    const d = new Date(t);
    if (by === 'month') return `${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}`;
    return `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}`;
  }
  function profitBars(el, { buckets, by, q, testId, height = 220 }) {
    const { W, H } = chartSize(el, height);
    if (!buckets.length) return emptyChart(el, W, H, 'No profit yet: the bars need two snapshots.');
    const m = { l: 58, r: 10, t: 12, b: 26 };
    const vals = buckets.map((b) => num(b.profit) || 0);
    const { lo, hi, ticks } = niceTicks(Math.min(0, ...vals), Math.max(0, ...vals), 4);
    const yOf = (v) => m.t + ((hi - v) / (hi - lo || 1)) * (H - m.t - m.b);
    const pw = W - m.l - m.r;
    const slot = pw / buckets.length;
    const bw = Math.max(2, Math.min(48, slot * 0.72));
    const every = Math.max(1, Math.ceil((buckets.length * 64) / pw));
    const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, 'data-test': testId });
    for (const v of ticks) {
      const y = yOf(v);
      svg.append(
        s('line', { x1: m.l, x2: W - m.r, y1: y, y2: y, stroke: v === 0 ? '#5e6673' : '#2b3139', 'stroke-width': v === 0 ? 1.5 : 1 }),
        s('text', { x: m.l - 6, y: y + 4, 'text-anchor': 'end' }, fmt(v, Math.abs(hi - lo) < 10 ? 2 : 0)),
      );
    }
    buckets.forEach((b, i) => {
      const v = vals[i];
      const x = m.l + i * slot + (slot - bw) / 2;
      const y0 = yOf(0);
      const y1 = yOf(v);
      const sign = v > 0 ? 'pos' : v < 0 ? 'neg' : 'zero';
      const bar = s('rect', { x, y: Math.min(y0, y1), width: bw, height: Math.max(1, Math.abs(y1 - y0)), fill: v >= 0 ? '#0ecb81' : '#f6465d', rx: 1.5, class: 'bar', 'data-sign': sign, 'data-start': b.start });
      bar.append(s('title', {}, `${profitLabel(b.start, by)}: ${v >= 0 ? '+' : ''}${fmt(v, 2)} ${q} (${fmtPct(b.return_percent)})`));
      svg.append(bar);
      if (i % every === 0) svg.append(s('text', { x: m.l + i * slot + slot / 2, y: H - 8, 'text-anchor': 'middle' }, profitLabel(b.start, by)));
    });
    el.replaceChildren(svg);
  }

  function weightBars(targets, per, order) {
    const entries = Object.entries(targets || {});
    const names = order && order.length ? order : entries.map(([a]) => a);
    if (!entries.length) return h('div', { class: 'muted' }, 'No weights.');
    const max = Math.max(...entries.map(([, v]) => num(v) || 0), 0.0001);
    return h(
      'div',
      { class: 'wbars', 'data-test': 'weight-bars' },
      entries.map(([a, v]) => [
        h('div', {}, h('b', {}, a)),
        h('div', { class: 'wbar' }, h('div', { style: `width:${((num(v) / max) * 100).toFixed(2)}%;background:${colorOf(a, names, null)}`, 'data-test': `weight-bar-${a}` })),
        h('div', { class: 'num' }, fmtW(v)),
        h('div', { class: 'num muted' }, per && per[a] != null ? `${fmt(per[a], 2)} ${quote()}` : ''),
      ]),
    );
  }

  // ---------------------------------------------------------------- bots overview
  function badge(status, reason) {
    return h('span', { class: `badge ${status}`, title: reason || status, 'data-test': 'state-badge' }, status);
  }
  function viewBots() {
    const tbody = h('tbody', { 'data-test': 'bots-rows' });
    const err = h('div', { class: 'error' });
    const totals = h('div', { class: 'stats', role: 'group', 'data-test': 'fleet-totals' });
    const table = h(
      'div',
      { class: 'panel table-wrap' },
      h(
        'table',
        { 'data-test': 'bots-table' },
        h(
          'thead',
          {},
          h('tr', {}, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col', class: 'hide-sm' }, 'Venue'), h('th', { scope: 'col' }, 'State'), h('th', { scope: 'col', class: 'num' }, 'Value'), h('th', { scope: 'col', class: 'num' }, 'PnL'), h('th', { scope: 'col', class: 'num' }, 'vs HODL'), h('th', { scope: 'col', class: 'num hide-sm' }, 'Fees'), h('th', { class: 'hide-sm' }, h('span', { class: 'sr-only' }, 'Link'))),
        ),
        tbody,
      ),
    );
    mount(
      h(
        'div',
        { 'data-test': 'bots-view' },
        h(
          'div',
          { class: 'page-head' },
          h('h1', {}, 'Bots'),
          h('a', { class: 'btn primary', href: '#/new', 'data-test': 'new-bot' }, '+ New bot'),
          h('a', { class: 'btn', href: '#/backtest', 'data-test': 'backtest-link' }, 'Backtest'),
        ),
        err,
        totals,
        table,
      ),
    );
    let busy = false;
    async function refresh() {
      if (busy) return;
      busy = true;
      try {
        // The combined view: totals per quote from the server (the CLI's `bot list`
        // adds them up the same way), a row per bot.
        const ov = await api('GET', '/api/overview');
        const bots = ov.bots || [];
        err.textContent = '';
        const active = bots.filter((b) => b.status === 'active').length;
        const counts = [stat('Bots', String(bots.length)), stat('Active', String(active)), stat('Paused', String(bots.filter((b) => b.status === 'paused').length))];
        const sums = (ov.totals || []).flatMap((t) => {
          const q = t.quote || '';
          const tag = (ov.totals.length > 1 ? ` (${q})` : '');
          const out = [
            stat(`Value, running (${q})`, fmt(t.value, 2), '', `total-value-${q}`),
            stat(`PnL (${q})`, fmt(t.profit, 2), signCls(t.profit), `total-pnl-${q}`),
            stat(`PnL %${tag}`, fmtPct(t.profit_percent), signCls(t.profit_percent), `total-pnl-pct-${q}`),
            stat(`vs HODL${tag}`, fmtPct(t.excess_vs_hodl_percent), signCls(t.excess_vs_hodl_percent), `total-hodl-${q}`),
            stat(`Fees (${q})`, fmt(t.fees, 2), '', `total-fees-${q}`),
          ];
          if (t.stopped) {
            out.push(stat(`Stopped bots: PnL (${q})`, fmt(t.stopped_profit, 2), signCls(t.stopped_profit), `total-stopped-pnl-${q}`));
            out.push(stat(`Stopped bots: fees (${q})`, fmt(t.stopped_fees, 2), '', `total-stopped-fees-${q}`));
          }
          return out;
        });
        totals.replaceChildren(...counts, ...sums);
        totals.setAttribute('aria-label', 'All bots together');
        markUpdated();
        if (!bots.length) {
          tbody.replaceChildren(
            h('tr', {}, h('td', { colspan: 8 }, h('div', { class: 'empty-state' }, 'No bots yet.', h('div', { class: 'actions' }, h('a', { class: 'btn primary', href: '#/new' }, 'Create your first bot'))))),
          );
          return;
        }
        tbody.replaceChildren(
          ...bots.map((b) =>
            h(
              'tr',
              { 'data-test': `bot-row-${b.id}` },
              h('td', {}, h('a', { href: `#/bots/${b.id}`, 'data-test': `bot-link-${b.id}` }, h('b', {}, b.name)), h('div', { class: 'muted' }, `#${b.id}`)),
              h('td', { class: 'hide-sm' }, b.venue),
              h('td', {}, badge(b.status, b.status_reason), b.status_reason ? h('div', { class: 'reason muted', style: 'font-size:12px' }, b.status_reason) : null, b.error ? h('div', { class: 'neg', style: 'font-size:12px' }, b.error) : null),
              h('td', { class: 'num' }, fmt(b.value, 2)),
              h('td', { class: `num ${signCls(b.profit_percent)}` }, fmtPct(b.profit_percent)),
              h('td', { class: `num ${signCls(b.excess_vs_hodl_percent)}` }, fmtPct(b.excess_vs_hodl_percent)),
              h('td', { class: 'num hide-sm', 'data-test': `bot-fees-${b.id}` }, fmt(b.fees, 2)),
              h('td', { class: 'num hide-sm' }, h('a', { href: `#/bots/${b.id}`, 'aria-label': `Details of ${b.name}` }, 'Details →')),
            ),
          ),
        );
      } catch (e) {
        err.textContent = e.message;
      } finally {
        busy = false;
      }
    }
    refresh();
    return { refresh };
  }
  function stat(k, v, cls, testId) {
    return h('div', { class: `stat ${cls === 'period' ? 'wide' : ''}` }, h('div', { class: 'k' }, k), h('div', { class: `v ${cls || ''}`, 'data-test': testId }, v));
  }

  // ---------------------------------------------------------------- the runner's log
  // What `ballast run` prints (the server words it: crates/ballast-server/src/runlog.rs),
  // every bot, newest at the bottom; new lines arrive with the live updates.
  const LOG_KEEP = 1000;
  function viewLog() {
    document.title = 'Log · ballast';
    const list = h('ol', { class: 'log', 'data-test': 'log-lines', 'aria-live': 'polite', 'aria-relevant': 'additions' });
    const err = h('div', { class: 'error' });
    const note = h('p', { class: 'muted' }, 'Trades, guard triggers, errors and every other event of every bot, as `ballast run` prints them.');
    mount(h('div', { 'data-test': 'log-view' }, h('div', { class: 'page-head' }, h('h1', {}, 'Runner log')), note, err, h('div', { class: 'panel' }, list)));
    let cursor = null;
    let busy = false;
    function add(entries) {
      for (const e of entries) {
        const kind = e.kind === 'error' || e.kind === 'rejected' || e.kind === 'key_revoked' ? 'neg' : e.kind === 'guard' || e.kind === 'stop' ? 'warn' : '';
        list.append(
          h(
            'li',
            { 'data-test': `log-${e.id}`, 'data-kind': e.kind, class: kind },
            h('time', { class: 'muted', datetime: new Date(e.time).toISOString() }, fmtTime(e.time)),
            ' ',
            h('a', { href: `#/bots/${e.bot}`, class: 'mono' }, e.line),
            ...(e.orders || []).map((o) => h('div', { class: 'mono order', 'data-test': 'log-order' }, o)),
          ),
        );
      }
      while (list.children.length > LOG_KEEP) list.firstChild.remove();
      if (!list.children.length) list.replaceChildren(h('li', { class: 'muted', 'data-test': 'log-empty' }, 'Nothing recorded yet.'));
      else list.querySelectorAll('[data-test="log-empty"]').forEach((x) => x.remove());
    }
    async function refresh() {
      if (busy) return;
      busy = true;
      try {
        const r = await api('GET', cursor == null ? '/api/log?limit=200' : `/api/log?after=${cursor}&limit=500`);
        err.textContent = '';
        if (cursor == null) list.replaceChildren();
        cursor = r.cursor;
        add(r.entries || []);
        markUpdated();
      } catch (e) {
        err.textContent = e.message;
      } finally {
        busy = false;
      }
    }
    refresh();
    return { refresh };
  }

  // ---------------------------------------------------------------- bot detail
  // A bot's chart ranges (the server's CHART_RANGES) and how many points are asked for.
  const RANGES = [
    ['24h', '24 h'],
    ['7d', '7 d'],
    ['30d', '30 d'],
    ['90d', '90 d'],
    ['1y', '1 y'],
    ['all', 'All'],
  ];
  const RANGE_MS = { '24h': 864e5, '7d': 7 * 864e5, '30d': 30 * 864e5, '90d': 90 * 864e5, '1y': 365 * 864e5, all: null };
  const HISTORY_PAGE = 20;
  const EVENTS_PAGE = 50;

  function viewNotFound(what) {
    document.title = 'Not found · ballast';
    mount(
      h(
        'div',
        { class: 'panel empty-state', 'data-test': 'not-found' },
        h('h1', {}, 'Not found'),
        h('p', {}, what),
        h('div', { class: 'actions' }, h('a', { class: 'btn primary', href: '#/bots' }, '← All bots')),
      ),
    );
    return {};
  }

  function viewBot(id) {
    if (!Number.isInteger(id) || id <= 0) return viewNotFound(`There is no bot #${id}.`);
    let bot = null;
    let cfg = null;
    let last = null;
    let busy = false;
    let gone = false;
    let range = 'all';
    let chartData = null; // {points, total, first, last, from}
    let lastEventId = null;
    let evList = [];
    let evNext = null;
    let histList = [];
    let histNext = null;
    const POINTS = Math.max(200, Math.min(1500, Math.round((window.innerWidth || 1200) * 0.8)));
    let pnlMethod = 'average';
    let pnlData = null;
    const title = h('h1', { 'data-test': 'bot-name' }, `Bot #${id}`);
    const headInfo = h('div', { class: 'sub' });
    const badgeBox = h('span', { 'data-test': 'bot-state' });
    const reason = h('div', { class: 'muted', 'data-test': 'bot-reason' });
    const err = h('div', { class: 'error', 'data-test': 'bot-error', role: 'alert' });
    const stats = h('div', { class: 'stats', 'data-test': 'pnl' });
    const stoppedBox = h('div', { 'data-test': 'stopped-summary', hidden: true });
    const returnsBox = h('div', { class: 'table-wrap' });
    const returnsPanel = h('div', { class: 'panel' }, h('h3', {}, 'Returns (time-weighted: deposits and withdrawals removed)'), returnsBox);
    // Profit bars by UTC day, ISO week or month (GET .../profit), fewer on a phone.
    let profitBy = 'day';
    let profitData = null;
    let profitFor = null;
    const PROFIT_LIMIT = { day: 30, week: 26, month: 24 };
    const profitLimit = () => Math.max(6, Math.round(PROFIT_LIMIT[profitBy] * Math.min(1, (window.innerWidth || 1200) / 900)));
    const chProfit = h('div', { class: 'chart', role: 'img', 'aria-label': 'Profit by day', 'data-test': 'chart-profit-box' });
    const profitNote = h('div', { class: 'muted chart-note', 'data-test': 'profit-note' });
    const profitSegs = segmented(
      [
        ['day', 'Daily'],
        ['week', 'Weekly'],
        ['month', 'Monthly'],
      ],
      profitBy,
      { key: 'by', test: 'profit-by-', label: 'Profit per' },
      (b) => setProfitBy(b),
    );
    const profitPanel = h(
      'div',
      { class: 'panel', 'data-test': 'profit-panel' },
      h('div', { class: 'panel-head' }, h('h3', {}, 'Profit (deposits and withdrawals removed)'), profitSegs.el),
      chProfit,
      profitNote,
    );
    const chValue = h('div', { class: 'chart', role: 'img', 'aria-label': 'Bot value against HODL over time', 'data-test': 'chart-value-box' });
    const chWeights = h('div', { class: 'chart', role: 'img', 'aria-label': 'Weights over time' });
    const chDrift = h('div', { class: 'chart', role: 'img', 'aria-label': 'Current weights against targets' });
    const chNote = h('div', { class: 'muted chart-note', 'data-test': 'chart-note' });
    const rangeSegs = segmented(RANGES, range, { key: 'range', test: 'range-', label: 'Chart range', attrs: { 'data-test': 'chart-range' } }, (r) => setRange(r));
    const rangeBar = rangeSegs.el;
    // The value chart's scale: linear, or log (equal moves in percent look equal).
    let logScale = false;
    const logBtn = h('button', { type: 'button', class: 'seg', 'aria-pressed': 'false', 'data-test': 'chart-log', onclick: () => {
      logScale = !logScale;
      logBtn.classList.toggle('active', logScale);
      logBtn.setAttribute('aria-pressed', String(logScale));
      drawCharts();
    } }, 'Log scale');
    const chartTools = h('div', { class: 'actions' }, h('div', { class: 'segs', role: 'group', 'aria-label': 'Value scale' }, logBtn), rangeBar);
    const chDrawdown = h('div', { class: 'chart', role: 'img', 'aria-label': 'Drawdown from peak over time', 'data-test': 'chart-drawdown-box' });
    const ddNote = h('div', { class: 'muted chart-note', 'data-test': 'drawdown-note' });
    const holdings = h('div', { class: 'table-wrap' });
    // Profit and loss by coin (GET .../pnl: the CLI's `bot pnl`), with the cost method,
    // and the fills and cash flows as the tax tools' CSV files.
    const pnlBox = h('div', { class: 'table-wrap' });
    const pnlNote = h('div', { class: 'muted chart-note', 'data-test': 'coin-pnl-note' });
    const methodSegs = segmented(
      [
        ['average', 'Average cost'],
        ['fifo', 'FIFO'],
      ],
      pnlMethod,
      { key: 'method', test: 'pnl-method-', label: 'Cost method' },
      (m) => setMethod(m),
    );
    const exportLinks = h(
      'div',
      { class: 'actions', 'data-test': 'exports' },
      h('span', { class: 'muted' }, 'Fills and cash flows:'),
      h('a', { class: 'btn', href: `/api/bots/${id}/transactions.csv?format=koinly`, download: `ballast-bot-${id}-koinly.csv`, 'data-test': 'export-koinly' }, 'Koinly CSV'),
      h('a', { class: 'btn', href: `/api/bots/${id}/transactions.csv?format=cointracking`, download: `ballast-bot-${id}-cointracking.csv`, 'data-test': 'export-cointracking' }, 'CoinTracking CSV'),
    );
    const paramsBox = h('dl', { class: 'params', 'data-test': 'parameters' });
    const paramsPanel = h('div', { class: 'panel' }, h('h3', {}, 'Parameters'), paramsBox);
    const pnlPanel = h(
      'div',
      { class: 'panel', 'data-test': 'coin-pnl-panel' },
      h('div', { class: 'panel-head' }, h('h3', {}, 'Profit and loss by coin'), methodSegs.el),
      pnlBox,
      pnlNote,
      exportLinks,
    );
    // The bot's orders: newest first, filtered by state, side and coin on the server,
    // paged back by row (GET .../orders), and the same as CSV.
    const ORDERS_PAGE = 25;
    const ORDER_STATES = ['pending', 'unknown', 'new', 'partially_filled', 'filled', 'canceled', 'rejected', 'expired', 'not_sent'];
    let ordersList = null;
    const fState = h('select', { 'aria-label': 'Order state', 'data-test': 'orders-state', onchange: () => reloadOrders() }, h('option', { value: '' }, 'Any state'), ORDER_STATES.map((x) => h('option', { value: x }, x.replace('_', ' '))));
    const fSide = h('select', { 'aria-label': 'Side', 'data-test': 'orders-side', onchange: () => reloadOrders() }, h('option', { value: '' }, 'Buys and sells'), h('option', { value: 'buy' }, 'Buys'), h('option', { value: 'sell' }, 'Sells'));
    const fAsset = h('select', { 'aria-label': 'Coin', 'data-test': 'orders-asset', onchange: () => reloadOrders() }, h('option', { value: '' }, 'Any coin'));
    const ordersCsv = h('a', { class: 'btn', 'data-test': 'orders-csv', download: `ballast-bot-${id}-orders.csv`, href: `/api/bots/${id}/orders?format=csv&limit=10000` }, 'CSV');
    const ordersBox = h('div', { class: 'table-wrap' });
    const ordersMore = h('button', { type: 'button', class: 'more', hidden: true, 'data-test': 'orders-more', onclick: () => moreOrders() }, 'Show older orders');
    const ordersPanel = h(
      'div',
      { class: 'panel', 'data-test': 'orders-panel' },
      h('div', { class: 'panel-head' }, h('h3', {}, 'Orders'), h('div', { class: 'actions filters' }, fState, fSide, fAsset, ordersCsv)),
      ordersBox,
      ordersMore,
    );
    const history = h('div', { 'data-test': 'history' });
    const histMore = h('button', { type: 'button', 'data-test': 'history-more', class: 'more', hidden: true, onclick: () => moreHistory() }, 'Show older rebalances');
    const events = h('div', { class: 'events', 'data-test': 'events' });
    const evMore = h('button', { type: 'button', 'data-test': 'events-more', class: 'more', hidden: true, onclick: () => moreEvents() }, 'Show older events');
    const manage = h('div', { 'data-test': 'manage' });
    const livePanels = h(
      'div',
      {},
      h('div', { class: 'grid grid-2' }, h('div', { class: 'panel' }, h('h3', {}, 'Current against target'), chDrift), h('div', { class: 'panel' }, h('h3', {}, 'Holdings'), holdings)),
      h('div', { class: 'panel' }, h('h3', {}, 'Manage'), manage),
    );
    mount(
      h(
        'div',
        { 'data-test': 'bot-view' },
        h('div', { class: 'page-head' }, h('div', { style: 'flex:1;min-width:200px' }, h('div', { class: 'actions' }, title, badgeBox), headInfo, reason), h('a', { class: 'btn', href: '#/bots' }, '← All bots')),
        err,
        stoppedBox,
        stats,
        returnsPanel,
        profitPanel,
        pnlPanel,
        paramsPanel,
        h('div', { class: 'panel' }, h('div', { class: 'panel-head' }, h('h3', {}, 'Value against HODL'), chartTools), chValue, chNote),
        h('div', { class: 'panel' }, h('h3', {}, 'Drawdown from peak (deposits and withdrawals removed)'), chDrawdown, ddNote),
        h('div', { class: 'panel' }, h('h3', {}, 'Weights over time'), chWeights),
        livePanels,
        h('div', { class: 'grid grid-2' }, h('div', { class: 'panel' }, h('h3', {}, 'Rebalance history'), history, histMore), h('div', { class: 'panel' }, h('h3', {}, 'Events'), events, evMore)),
        ordersPanel,
      ),
    );

    function orderQuery() {
      const p = new URLSearchParams();
      if (fState.value) p.set('state', fState.value);
      if (fSide.value) p.set('side', fSide.value);
      if (fAsset.value) p.set('asset', fAsset.value);
      return p;
    }

    let ordersAsked = 0;
    async function loadOrders(before) {
      const p = orderQuery();
      p.set('limit', String(ORDERS_PAGE));
      if (before != null) p.set('before', String(before));
      // Only the answer to the latest question is shown (filters changed quickly, a
      // refresh meanwhile).
      const asked = ++ordersAsked;
      const rows = await api('GET', `/api/bots/${id}/orders?${p}`);
      if (asked !== ordersAsked) return;
      ordersList = before == null ? rows : (ordersList || []).concat(rows);
      ordersMore.hidden = rows.length < ORDERS_PAGE;
      const c = orderQuery();
      c.set('format', 'csv');
      c.set('limit', '10000');
      ordersCsv.setAttribute('href', `/api/bots/${id}/orders?${c}`);
      renderOrders();
    }

    function reloadOrders() {
      loadOrders().catch((e) => (err.textContent = e.message));
    }

    function moreOrders() {
      const last = ordersList && ordersList[ordersList.length - 1];
      if (last) loadOrders(last.row).catch((e) => (err.textContent = e.message));
    }

    function renderOrders() {
      const rows = ordersList || [];
      const th = (t, cls) => h('th', { scope: 'col', class: cls || '' }, t);
      ordersBox.replaceChildren(
        rows.length
          ? h(
              'table',
              { 'data-test': 'orders' },
              h('thead', {}, h('tr', {}, th('Created'), th('Side'), th('Qty', 'num'), th('Coin'), th('Planned price', 'num hide-sm'), th('State'), th('Filled', 'num hide-sm'))),
              h(
                'tbody',
                {},
                rows.map((o) =>
                  h(
                    'tr',
                    { 'data-test': 'order-row', 'data-side': o.side, 'data-state': o.state, 'data-asset': o.base },
                    h('td', {}, fmtTime(o.created_at)),
                    h('td', { class: o.side === 'buy' ? 'pos' : 'neg' }, o.side),
                    h('td', { class: 'num' }, fmtQty(o.qty)),
                    h('td', {}, h('b', {}, o.base)),
                    h('td', { class: 'num hide-sm' }, fmtPrice(o.planned_price)),
                    h('td', {}, o.state.replace('_', ' ')),
                    h('td', { class: 'num hide-sm' }, fmtQty(o.filled)),
                  ),
                ),
              ),
            )
          : h('div', { class: 'muted', 'data-test': 'orders-empty' }, 'No orders match.'),
      );
    }

    async function loadConfig() {
      try {
        cfg = (await api('GET', `/api/bots/${id}/config`)).config;
      } catch {
        cfg = null;
      }
    }

    // The parameters in force (GET /api/bots/{id}: parameters), each a term and its value.
    function renderParams(b) {
      const p = b.parameters;
      paramsPanel.hidden = !p || !!b.summary;
      if (!p || b.summary) return;
      const rows = [];
      const row = (k, v, test) => rows.push(h('dt', {}, k), h('dd', { 'data-test': `param-${test}` }, v));
      row('Mode', p.mode === 'calendar' ? 'Calendar' : 'Threshold', 'mode');
      row('Rebalance', p.rebalance, 'rebalance');
      if (p.mode === 'threshold') {
        row('Threshold', `${p.threshold_percent}${p.threshold_kind === 'relative' ? '% of target' : ' points'}`, 'threshold');
        row('Cooldown', p.cooldown ? `${p.cooldown}${p.cooldown_until ? ` (until ${fmtTime(p.cooldown_until)})` : ''}` : 'none', 'cooldown');
      } else {
        row('Interval', p.every, 'interval');
        row('Minimum drift', p.min_drift_percent != null ? `${p.min_drift_percent}${p.min_drift_kind === 'relative' ? '% of target' : ' points'}` : 'none', 'min-drift');
      }
      row('Rebalance to', p.rebalance_to === 'band_edge' ? `band edge (${p.band_edge_percent}${p.band_edge_kind === 'relative' ? '% of target' : ' points'})` : 'target', 'band-edge');
      row('Weights', p.method, 'method');
      row('Weights estimated', p.weights_estimated_at != null ? fmtTime(p.weights_estimated_at) : 'fixed (not estimated from data)', 'estimated');
      if (p.reestimate_every) row('Re-estimated', `every ${p.reestimate_every} and at each rebalance`, 'reestimate');
      row('Stop-loss', p.stop_loss_percent != null ? `${fmt(p.stop_loss_percent, 2)}% below net invested` : 'none', 'stop-loss');
      row('Take-profit', p.take_profit_percent != null ? `${fmt(p.take_profit_percent, 2)}% above net invested` : 'none', 'take-profit');
      const entries = p.entry_prices || [];
      row('Entry prices', entries.length ? entries.map((e) => `${e.asset} ≤ ${fmtPrice(e.price)}${e.bought_into ? ' (bought into)' : ' (waiting)'}`).join(', ') : 'none', 'entry-prices');
      row('Fee assumed', p.fee, 'fee');
      row('Last rebalance', p.last_rebalance != null ? fmtTime(p.last_rebalance) : '–', 'last-rebalance');
      paramsBox.replaceChildren(...rows);
    }

    function setMethod(m) {
      pnlMethod = m;
      methodSegs.pick(m);
      loadPnl()
        .then(renderPnl)
        .catch((e) => (err.textContent = e.message));
    }

    async function loadPnl() {
      pnlData = await api('GET', `/api/bots/${id}/pnl?method=${pnlMethod}`);
    }

    function renderPnl() {
      const r = pnlData;
      if (!r) return;
      const q = r.quote || 'USDT';
      const th = (t, cls) => h('th', { scope: 'col', class: cls || 'num' }, t);
      const money = (x, cls) => h('td', { class: `num ${cls ? signCls(x) : ''}` }, fmt(x, 2));
      const coins = r.coins || [];
      pnlBox.replaceChildren(
        h(
          'table',
          { 'data-test': 'coin-pnl' },
          h('caption', { class: 'sr-only' }, `Profit and loss by coin, ${r.method === 'fifo' ? 'first in, first out' : 'average cost'}, in ${q}`),
          h('thead', {}, h('tr', {}, th('Coin', ''), th('Held', 'num hide-sm'), th('Avg cost', 'num hide-sm'), th('Cost basis', 'num hide-sm'), th('Value', 'num hide-sm'), th('Realised'), th('Unrealised'), th('Fees', 'num hide-sm'), th('Net'))),
          h(
            'tbody',
            {},
            coins.map((c) =>
              h(
                'tr',
                { 'data-test': `coin-pnl-${c.asset}` },
                h('td', {}, h('b', {}, c.asset)),
                h('td', { class: 'num hide-sm' }, fmtQty(c.held)),
                h('td', { class: 'num hide-sm' }, c.average_cost != null ? fmtPrice(c.average_cost) : '–'),
                h('td', { class: 'num hide-sm' }, fmt(c.cost_basis, 2)),
                h('td', { class: 'num hide-sm' }, fmt(c.value, 2)),
                h('td', { class: `num ${signCls(c.realised)}`, 'data-test': 'realised' }, fmt(c.realised, 2)),
                h('td', { class: `num ${signCls(c.unrealised)}`, 'data-test': 'unrealised' }, fmt(c.unrealised, 2)),
                h('td', { class: 'num hide-sm' }, fmt(c.fees, 4)),
                money(c.net, true),
              ),
            ),
          ),
          h(
            'tfoot',
            {},
            h(
              'tr',
              { 'data-test': 'coin-pnl-total' },
              h('th', { scope: 'row' }, 'Total'),
              h('td', { class: 'num hide-sm' }, ''),
              h('td', { class: 'hide-sm' }, ''),
              h('td', { class: 'num hide-sm' }, ''),
              h('td', { class: 'num hide-sm' }, fmt(num(r.value) - num(r.quote_held), 2)),
              money(r.realised, true),
              money(r.unrealised, true),
              h('td', { class: 'num hide-sm' }, fmt(r.fees, 4)),
              h('td', { class: `num ${signCls(r.net)}`, 'data-test': 'coin-pnl-net' }, fmt(r.net, 2)),
            ),
          ),
        ),
      );
      pnlNote.textContent = `${r.method === 'fifo' ? 'FIFO: a coin sold takes the cost of its oldest lots' : 'Average cost: a coin sold takes the average cost of what is held'}. Net = realised + unrealised − fees = value ${fmt(r.value, 2)} − net invested ${fmt(r.net_invested, 2)} ${q}; ${fmtQty(r.quote_held)} ${q} held${r.at != null ? `; prices of ${fmtTime(r.at)}` : ''}.`;
    }

    function setProfitBy(b) {
      profitBy = b;
      profitSegs.pick(b);
      loadProfit()
        .then(renderProfit)
        .catch((e) => (err.textContent = e.message));
    }

    async function loadProfit() {
      profitFor = chartData ? chartData.last : null;
      profitData = await api('GET', `/api/bots/${id}/profit?by=${profitBy}&limit=${profitLimit()}`);
    }

    function renderProfit() {
      const r = profitData;
      if (!r) return;
      const q = r.quote || 'USDT';
      const buckets = r.buckets || [];
      const per = { day: 'day', week: 'ISO week (from Monday)', month: 'month' }[r.by] || r.by;
      profitBars(chProfit, { buckets, by: r.by, q, testId: 'chart-profit' });
      const total = buckets.reduce((a, b) => a + (num(b.profit) || 0), 0);
      const text = buckets.map((b) => `${r.by === 'week' ? 'week of ' : ''}${profitLabel(b.start, r.by)} ${num(b.profit) >= 0 ? '+' : ''}${fmt(b.profit, 2)} (${fmtPct(b.return_percent)})`).join(', ');
      chProfit.setAttribute('aria-label', buckets.length ? `Profit per ${per} in ${q}, UTC, oldest first: ${text}.` : `Profit per ${per}: none yet.`);
      profitNote.textContent = buckets.length
        ? `Per ${per}, UTC: the value's change less deposits and withdrawals, in ${q}; the percentage is of the value at the start plus what was invested. ${buckets.length < r.total ? `The last ${buckets.length} of ${r.total}` : `${buckets.length}`} shown, together ${total >= 0 ? '+' : ''}${fmt(total, 2)} ${q}.`
        : '';
    }

    function setRange(r) {
      range = r;
      rangeSegs.pick(r);
      chartData = null;
      refresh().catch(() => {});
    }

    // The chart's points: the whole range at first (thinned on the server), then only
    // what is newer than the last point drawn.
    async function loadChart() {
      if (!chartData) {
        const c = await api('GET', `/api/bots/${id}/chart?range=${range}&points=${POINTS}`);
        chartData = { points: c.points || [], total: c.total || 0, first: c.first, last: c.last, from: c.from, rebalances: c.rebalances || [], max_drawdown: c.max_drawdown };
        return;
      }
      const lastT = chartData.points.length ? chartData.points[chartData.points.length - 1].time : null;
      const c = await api('GET', `/api/bots/${id}/chart?range=${range}&points=${POINTS}${lastT != null ? `&after=${lastT}` : ''}`);
      if (!c.points || !c.points.length) return;
      chartData.points.push(...c.points);
      chartData.rebalances.push(...(c.rebalances || []));
      chartData.max_drawdown = c.max_drawdown;
      chartData.total += c.points.length;
      chartData.last = c.last;
      const span = RANGE_MS[range];
      if (span != null) {
        const from = chartData.points[chartData.points.length - 1].time - span;
        const before = chartData.points.length;
        chartData.points = chartData.points.filter((p) => p.time >= from);
        chartData.rebalances = chartData.rebalances.filter((r) => r.time >= from);
        chartData.total -= before - chartData.points.length;
        chartData.from = from;
      }
      // Too many points appended: thin again on the server.
      if (chartData.points.length > 2 * POINTS) chartData = null;
      if (!chartData) await loadChart();
    }

    function drawCharts() {
      if (!last) return;
      const { b } = last;
      const snaps = chartData ? chartData.points : [];
      const q = b.quote || 'USDT';
      const assets = b.assets || [];
      const pts = snaps.map((x) => [x.time, num(x.value)]).filter((p) => isFinite(p[1]));
      const hodl = snaps.map((x) => [x.time, num(x.hodl_value)]).filter((p) => isFinite(p[1]));
      const marks = (chartData ? chartData.rebalances : []).map((r) => ({ time: r.time, label: `${fmtTime(r.time)}: ${r.message}` }));
      lineChart(chValue, {
        testId: 'chart-value',
        log: logScale,
        markers: marks,
        yFmt: (v, full) => (full ? fmt(v, 2) : Math.abs(v) >= 1e4 ? fmt(v / 1000, 1) + 'k' : fmt(v, Math.abs(v) >= 100 ? 0 : 2)),
        series: [
          { name: 'value', label: `Bot value (${q})`, color: '#f0b90b', points: pts, area: true },
          { name: 'hodl', label: `HODL (${q})`, color: '#8ab4f8', dash: '6,4', points: hodl },
        ],
      });
      if (chartData && snaps.length) {
        const firstV = num(snaps[0].value);
        const lastV = num(snaps[snaps.length - 1].value);
        const shown = snaps.length < chartData.total ? `${snaps.length.toLocaleString('en-US')} of ${chartData.total.toLocaleString('en-US')} snapshots shown (evenly thinned)` : `${chartData.total.toLocaleString('en-US')} snapshots`;
        const whole = range === 'all' ? 'whole life' : `last ${RANGES.find((r) => r[0] === range)[1]}`;
        chNote.textContent = `${fmtTime(snaps[0].time)} → ${fmtTime(snaps[snaps.length - 1].time)} (${whole}) · ${shown}`;
        const hodlLast = num(snaps[snaps.length - 1].hodl_value);
        chValue.setAttribute(
          'aria-label',
          `Bot value from ${fmt(firstV, 2)} to ${fmt(lastV, 2)} ${q}, ${fmtTime(snaps[0].time)} to ${fmtTime(snaps[snaps.length - 1].time)}; HODL ends at ${fmt(hodlLast, 2)} ${q}; ${marks.length} rebalance(s) marked${logScale ? '; log scale' : ''}`,
        );
        chNote.textContent += ` · ${marks.length.toLocaleString('en-US')} rebalance(s) marked`;
        // Drawdown from the peak, cash flows removed (the server computes it over every
        // snapshot of the range, as the backtest report does).
        const dd = snaps.map((x) => [x.time, x.drawdown == null ? NaN : x.drawdown * 100]).filter((p) => isFinite(p[1]));
        lineChart(chDrawdown, {
          testId: 'chart-drawdown',
          height: 180,
          areaBase: 0,
          yFmt: (v, full) => (full ? fmt(v, 2) + '%' : fmt(v, Math.abs(v) >= 10 ? 0 : 1) + '%'),
          series: [{ name: 'drawdown', label: 'Drawdown from peak', color: '#f6465d', points: dd, area: true }],
        });
        const worst = chartData.max_drawdown;
        const now = dd.length ? dd[dd.length - 1][1] : null;
        const text = worst != null && now != null ? `Largest drawdown in this range ${fmt(worst * 100, 2)}% (over every snapshot); now ${fmt(now, 2)}% from the peak` : 'No drawdown to show.';
        ddNote.textContent = text;
        chDrawdown.setAttribute('aria-label', `Drawdown from peak over time. ${text}.`);
      } else {
        chNote.textContent = chartData ? 'No snapshots in this range.' : '';
        ddNote.textContent = '';
      }
      const names = [...assets];
      for (const x of snaps) for (const a of Object.keys(x.weights || {})) if (!names.includes(a)) names.push(a);
      names.sort((a, c) => (a === q) - (c === q));
      stackedArea(chWeights, {
        testId: 'chart-weights',
        times: snaps.map((x) => x.time),
        layers: names.map((a) => ({ name: a, color: colorOf(a, assets, q), values: snaps.map((x) => num((x.weights || {})[a]) || 0) })),
      });
      const rb = (cfg && cfg.rebalance) || {};
      const mode = rb.mode || 'threshold';
      let threshold = b.status === 'stopped' ? null : mode === 'threshold' ? num(rb.threshold ?? 3) : rb.min_drift != null ? num(rb.min_drift) : null;
      if (!isFinite(threshold)) threshold = null;
      if (b.status !== 'stopped') {
        driftBars(chDrift, { testId: 'chart-drift', rows: b.weights || [], threshold, kind: rb.threshold_kind || 'absolute', assets, q, stopped: false });
        chDrift.setAttribute('aria-label', `Current weight against target: ${(b.weights || []).map((w) => `${w.asset} ${fmtW(w.weight)} of ${fmtW(w.target)}`).join(', ')}`);
      }
      chWeights.setAttribute('aria-label', `Weights over time of ${names.join(', ')}${snaps.length ? `, from ${fmtTime(snaps[0].time)} to ${fmtTime(snaps[snaps.length - 1].time)}` : ''}`);
    }

    function renderStats(b) {
      const p = b.pnl || {};
      const q = b.quote || 'USDT';
      if (b.summary) {
        const m = b.summary;
        stats.replaceChildren(
          stat(`Returned (${q})`, fmt(m.value, 2), '', 'pnl-value'),
          stat('Net invested', fmt(m.net_invested, 2), '', 'pnl-net-invested'),
          stat('Final profit', fmt(m.profit, 2), signCls(m.profit), 'pnl-profit'),
          stat('Final profit %', fmtPct(m.profit_percent), signCls(m.profit_percent), 'pnl-profit-percent'),
          stat('Fees paid', fmt(m.fees, 4), '', 'pnl-fees'),
          stat('Rebalances', String(b.rebalances ?? '–'), '', 'pnl-rebalances'),
          stat('Stopped', fmtTime(m.at), '', 'pnl-stopped-at'),
        );
        return;
      }
      stats.replaceChildren(
        stat(`Value (${q})`, fmt(p.value, 2), '', 'pnl-value'),
        stat('Net invested', fmt(p.net_invested, 2), '', 'pnl-net-invested'),
        stat('Profit', fmt(p.profit, 2), signCls(p.profit), 'pnl-profit'),
        stat('Profit %', fmtPct(p.profit_percent), signCls(p.profit_percent), 'pnl-profit-percent'),
        stat('HODL value', fmt(p.hodl_value, 2), '', 'pnl-hodl'),
        stat('Excess vs HODL', fmtPct(p.excess_vs_hodl_percent), signCls(p.excess_vs_hodl_percent), 'pnl-excess'),
        stat('TWR', fmtPct(p.time_weighted_return_percent), signCls(p.time_weighted_return_percent), 'pnl-twr'),
        stat('Fees paid', fmt(p.fees_paid, 4), '', 'pnl-fees'),
        stat('Rebalances', p.rebalances != null ? String(p.rebalances) : String(b.rebalances ?? '–'), '', 'pnl-rebalances'),
        stat('APR', p.apr_percent != null ? fmtPct(p.apr_percent) : '–', signCls(p.apr_percent), 'pnl-apr'),
        stat('Running', fmtSpan(p.running_ms), '', 'pnl-running'),
      );
      returnsBox.replaceChildren(
        h(
          'table',
          { 'data-test': 'returns' },
          h('caption', { class: 'sr-only' }, 'Returns by period'),
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Period'), h('th', { scope: 'col', class: 'num' }, 'Return'), h('th', { scope: 'col', class: 'num' }, `Profit (${q})`), h('th', { scope: 'col', class: 'hide-sm' }, 'From'))),
          h(
            'tbody',
            {},
            (p.returns || []).map((r) =>
              h(
                'tr',
                { 'data-test': `return-${r.period}` },
                h('td', {}, r.period === 'all' ? 'Since creation' : r.period, r.complete ? null : h('span', { class: 'muted', title: 'the bot is younger than the period: its whole life' }, ' *')),
                h('td', { class: `num ${signCls(r.return_percent)}` }, fmtPct(r.return_percent)),
                h('td', { class: `num ${signCls(r.profit)}` }, fmt(r.profit, 2)),
                h('td', { class: 'hide-sm muted' }, fmtTime(r.from)),
              ),
            ),
          ),
        ),
      );
    }

    // A stopped bot: what it returned, when; nothing left to manage.
    function renderStopped(b) {
      const m = b.summary;
      stoppedBox.hidden = !m;
      livePanels.hidden = !!m;
      returnsPanel.hidden = !!m;
      if (!m) return;
      const q = b.quote || 'USDT';
      const returned = Object.entries(m.returned || {}).filter(([, v]) => num(v) !== 0);
      stoppedBox.replaceChildren(
        h(
          'div',
          { class: 'panel stopped' },
          h('h3', {}, `Stopped on ${fmtTime(m.at)}`),
          h(
            'p',
            {},
            `It returned ${returned.length ? returned.map(([a, v]) => `${fmtQty(v)} ${a}`).join(', ') : 'nothing'} to the account, worth ${fmt(m.value, 2)} ${q}: `,
            h('b', { class: signCls(m.profit) }, `${num(m.profit) >= 0 ? '+' : ''}${fmt(m.profit, 2)} ${q} (${fmtPct(m.profit_percent)})`),
            ` on ${fmt(m.net_invested, 2)} ${q} invested, after ${fmt(m.fees, 4)} ${q} of fees.`,
          ),
          h(
            'table',
            { 'data-test': 'returned' },
            h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Asset'), h('th', { scope: 'col', class: 'num' }, 'Returned'))),
            h('tbody', {}, returned.map(([a, v]) => h('tr', {}, h('td', {}, h('b', {}, a)), h('td', { class: 'num' }, fmtQty(v))))),
          ),
        ),
      );
    }

    function renderHoldings(b) {
      const q = b.quote || 'USDT';
      const ws = Object.fromEntries((b.weights || []).map((w) => [w.asset, w]));
      const names = Object.keys(b.holdings || {}).sort((a, c) => (a === q) - (c === q) || a.localeCompare(c));
      holdings.replaceChildren(
        h(
          'table',
          { 'data-test': 'holdings' },
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Asset'), h('th', { scope: 'col', class: 'num' }, 'Quantity'), h('th', { scope: 'col', class: 'num' }, 'Price'), h('th', { scope: 'col', class: 'num' }, `Value (${q})`), h('th', { scope: 'col', class: 'num' }, 'Weight'), h('th', { scope: 'col', class: 'num' }, 'Target'))),
          h(
            'tbody',
            {},
            names.map((a) => {
              const qty = num(b.holdings[a]);
              const price = a === q ? 1 : num((b.prices || {})[a]);
              return h(
                'tr',
                {},
                h('td', {}, h('i', { style: `display:inline-block;width:8px;height:8px;border-radius:2px;margin-right:6px;background:${colorOf(a, b.assets || [], q)}` }), h('b', {}, a)),
                h('td', { class: 'num' }, fmtQty(qty)),
                h('td', { class: 'num' }, a === q ? '1' : fmtPrice(price)),
                h('td', { class: 'num' }, fmt(qty * price, 2)),
                h('td', { class: 'num' }, ws[a] ? fmtW(ws[a].weight) : '–'),
                h('td', { class: 'num' }, ws[a] ? (ws[a].reserve ? 'fee reserve' : fmtW(ws[a].target)) : '–'),
              );
            }),
          ),
        ),
      );
    }

    function skippedList(list) {
      if (!Array.isArray(list) || !list.length) return null;
      return list.map((x) =>
        h('div', { class: 'sk', 'data-test': 'skipped-leg' }, `skipped: ${x.side || ''} ${x.asset || ''}${x.notional ? ` (${fmt(x.notional, 2)})` : ''}: ${x.reason || 'no reason given'}`),
      );
    }

    // One entry per rebalance event, as the server groups them (GET .../history): its
    // own message, orders and skipped legs.
    function renderHistory() {
      histMore.hidden = histNext == null;
      if (!histList.length) {
        history.replaceChildren(h('div', { class: 'muted' }, 'No rebalances yet.'));
        return;
      }
      const out = histList.map((e) => {
        const list = e.orders || [];
        const hasFee = list.some((o) => o.fee != null || o.fees != null);
        const notional = list.reduce((a, o) => a + (num(o.qty) || 0) * (num(o.planned_price) || 0), 0);
        // A rebalance that sent nothing keeps the sequence number of the next one: it is
        // named by what it did, not by the number.
        const title = !list.length ? (e.kind === 'rebalance' ? 'Rebalance: nothing sent' : `Stop (${e.kind}): nothing sent`) : e.kind === 'rebalance' ? (e.seq === 1 ? 'First buy' : `Rebalance #${e.seq}`) : `Stop (${e.kind})`;
        return h(
          'div',
          { class: 'rb', 'data-test': 'rebalance', 'data-id': e.id },
          h(
            'div',
            { class: 'rb-head' },
            h('span', { class: 't' }, title),
            h('span', { class: 'muted' }, fmtTime(e.time)),
            list.length ? h('span', { class: 'muted' }, `${list.length} order${list.length > 1 ? 's' : ''} · ≈ ${fmt(notional, 2)} ${list[0].quote || ''}`) : null,
            h('span', { class: 'muted', 'data-test': 'rebalance-message' }, e.message),
          ),
          list.length
            ? h(
                'div',
                { class: 'table-wrap' },
                h(
                  'table',
                  {},
                  h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Side'), h('th', { scope: 'col' }, 'Asset'), h('th', { scope: 'col', class: 'num' }, 'Qty'), h('th', { scope: 'col', class: 'num' }, 'Price'), h('th', { scope: 'col', class: 'num' }, 'Filled'), hasFee ? h('th', { scope: 'col', class: 'num' }, 'Fee') : null, h('th', { scope: 'col' }, 'State'))),
                  h(
                    'tbody',
                    {},
                    list.map((o) =>
                      h(
                        'tr',
                        { 'data-test': 'history-order' },
                        h('td', {}, h('span', { class: `badge ${o.side}` }, o.side)),
                        h('td', {}, h('b', {}, o.base)),
                        h('td', { class: 'num' }, fmtQty(o.qty)),
                        h('td', { class: 'num' }, fmtPrice(o.price ?? o.planned_price)),
                        h('td', { class: 'num' }, fmtQty(o.filled)),
                        hasFee ? h('td', { class: 'num' }, o.fee != null ? `${fmtQty(o.fee)}${o.fee_asset ? ' ' + o.fee_asset : ''}` : fmtQty(o.fees)) : null,
                        h('td', {}, h('span', { class: `badge state ${o.state}` }, String(o.state || '').replace('_', ' '))),
                      ),
                    ),
                  ),
                ),
              )
            : null,
          Array.isArray(e.notes) && e.notes.length ? h('div', { class: 'muted' }, e.notes.map((n) => h('div', { 'data-test': 'leg-note' }, n))) : null,
          Array.isArray(e.skipped) && e.skipped.length ? h('div', { class: 'skipped' }, skippedList(e.skipped)) : null,
        );
      });
      history.replaceChildren(...out);
    }

    async function loadHistory() {
      const n = Math.min(500, Math.max(HISTORY_PAGE, histList.length));
      const r = await api('GET', `/api/bots/${id}/history?limit=${n}`);
      histList = r.entries || [];
      histNext = r.next_before;
    }

    async function moreHistory() {
      if (histNext == null) return;
      try {
        const r = await api('GET', `/api/bots/${id}/history?limit=${HISTORY_PAGE}&before=${histNext}`);
        histList.push(...(r.entries || []));
        histNext = r.next_before;
        renderHistory();
      } catch (e) {
        err.textContent = e.message;
      }
    }

    function renderEvents() {
      evMore.hidden = evNext == null;
      if (!evList.length) {
        events.replaceChildren(h('div', { class: 'muted' }, 'No events yet.'));
        return;
      }
      events.replaceChildren(
        ...evList.map((e) =>
          h(
            'div',
            { class: 'ev', 'data-test': `event-${e.kind}` },
            h('div', { class: 'muted' }, fmtTime(e.time)),
            h('div', { class: `kind ${/error|rejected|stop_loss|reconcile/.test(e.kind) ? 'neg' : e.kind === 'take_profit' ? 'pos' : ''}` }, e.kind),
            h('div', {}, e.message, e.data ? skippedList(e.data.skipped) : null),
          ),
        ),
      );
    }

    // Events: the newest page at first, then only the ones newer than the last seen.
    // Returns whether anything new arrived.
    async function loadEvents() {
      if (lastEventId == null) {
        evList = await api('GET', `/api/bots/${id}/events?limit=${EVENTS_PAGE}`);
        evNext = evList.length === EVENTS_PAGE ? evList[evList.length - 1].id : null;
        if (evList.length) lastEventId = evList[0].id;
        return true;
      }
      const fresh = await api('GET', `/api/bots/${id}/events?after=${lastEventId}&limit=${EVENTS_PAGE}`);
      if (!fresh.length) return false;
      if (fresh.length === EVENTS_PAGE) {
        lastEventId = null;
        return loadEvents();
      }
      evList = fresh.concat(evList);
      lastEventId = evList[0].id;
      return true;
    }

    async function moreEvents() {
      if (evNext == null) return;
      try {
        const older = await api('GET', `/api/bots/${id}/events?limit=${EVENTS_PAGE}&before=${evNext}`);
        evList.push(...older);
        evNext = older.length === EVENTS_PAGE ? older[older.length - 1].id : null;
        renderEvents();
      } catch (e) {
        err.textContent = e.message;
      }
    }

    async function refresh() {
      if (busy || gone) return;
      busy = true;
      try {
        let b;
        try {
          b = await api('GET', `/api/bots/${id}`);
        } catch (e) {
          if (e.status === 404) {
            gone = true;
            S.view = viewNotFound(`There is no bot #${id}.`);
            return;
          }
          throw e;
        }
        const [, changed] = await Promise.all([loadChart(), loadEvents()]);
        if (changed) await loadHistory();
        if (changed || !pnlData) await loadPnl();
        if (!profitData || profitFor !== (chartData ? chartData.last : null)) await loadProfit();
        if (fAsset.options.length === 1) for (const a of b.assets || []) fAsset.append(h('option', { value: a }, a));
        if (changed || !ordersList) await loadOrders();
        err.textContent = '';
        bot = b;
        last = { b };
        title.textContent = b.name;
        document.title = `${b.name} · ballast`;
        badgeBox.replaceChildren(badge(b.status, b.status_reason));
        badgeBox.dataset.status = b.status;
        reason.textContent = b.status_reason || '';
        headInfo.textContent = `#${b.id} · ${b.venue} · ${(b.assets || []).join(', ')} · created ${fmtTime(b.created_at)}`;
        renderStats(b);
        renderStopped(b);
        renderPnl();
        renderProfit();
        renderParams(b);
        drawCharts();
        if (!b.summary) renderHoldings(b);
        if (changed) {
          renderHistory();
          renderEvents();
        }
        manageApi.update(b);
        markUpdated();
      } catch (e) {
        err.textContent = e.message;
      } finally {
        busy = false;
      }
    }

    const manageApi = buildManage(id, manage, {
      refresh: () => {
        busy = false;
        return refresh();
      },
      reloadConfig: async () => {
        await loadConfig();
        drawCharts();
      },
      bot: () => bot,
    });
    loadConfig().then(refresh);
    return {
      refresh,
      redraw: () => {
        drawCharts();
        renderProfit();
      },
      dispose: () => {
        document.title = 'ballast';
      },
    };
  }

  function buildManage(id, el, ctx) {
    const err = h('div', { class: 'error', 'data-test': 'manage-error' });
    const pauseBtn = h('button', { 'data-test': 'pause' }, 'Pause');
    const resumeBtn = h('button', { 'data-test': 'resume' }, 'Resume');
    const stopBtn = h('button', { class: 'danger', 'data-test': 'stop' }, 'Stop…');
    const editBtn = h('button', { 'data-test': 'edit' }, 'Edit composition & parameters');
    const exportBtn = h('button', { 'data-test': 'export' }, 'Export profile');
    const exportBox = h('div', { 'data-test': 'export-box' });
    const editBox = h('div', { 'data-test': 'edit-box' });

    // Invest.
    const kind = h('select', { 'data-test': 'invest-kind' }, h('option', { value: 'quote' }, 'USDT'), h('option', { value: 'coin' }, 'Coins'));
    const asset = h('select', { 'data-test': 'invest-asset' });
    const assetField = h('div', { class: 'field', style: 'flex:0 0 120px', hidden: true }, h('label', {}, 'Coin'), asset);
    const qty = h('input', { type: 'text', inputmode: 'decimal', placeholder: 'amount', 'data-test': 'invest-amount' });
    const investBtn = h('button', { class: 'primary', 'data-test': 'invest-submit', type: 'submit' }, 'Add investment');
    const investErr = h('div', { class: 'error', 'data-test': 'invest-error' });
    kind.addEventListener('change', () => {
      assetField.hidden = kind.value !== 'coin';
      qty.placeholder = kind.value === 'coin' ? 'quantity' : 'amount';
    });
    const investForm = h(
      'form',
      {
        onsubmit: async (e) => {
          e.preventDefault();
          investErr.textContent = '';
          const v = qty.value.trim();
          if (!(num(v) > 0)) return void (investErr.textContent = 'Enter a positive number.');
          const body = kind.value === 'coin' ? { coins: { [asset.value]: v } } : { usdt: v };
          await busy(investBtn, investErr, async () => {
            const plan = await api('POST', `/api/bots/${id}/invest/preview`, body);
            const what = kind.value === 'coin' ? `${v} ${asset.value}` : `${v} ${quote()}`;
            confirmTrade('Add this investment?', `Add ${what}; the bot rebalances it in at once:`, plan, async () => {
              const r = await api('POST', `/api/bots/${id}/invest`, body);
              qty.value = '';
              toast(`Added ${what}: ${r.outcome || 'done'}`);
              await ctx.refresh();
            }, 'invest-dialog');
          });
        },
      },
      h('h3', {}, 'Add investment'),
      h('div', { class: 'row narrow' }, h('div', { class: 'field', style: 'flex:0 0 110px' }, h('label', {}, 'Add'), kind), assetField, h('div', { class: 'field' }, h('label', {}, 'Quantity'), qty), h('div', { class: 'field', style: 'flex:0 0 auto' }, investBtn)),
      investErr,
    );

    async function act(path, body, btn, okMsg) {
      await busy(btn, err, async () => {
        await api('POST', path, body);
        if (okMsg) toast(okMsg);
        await ctx.refresh();
      });
    }
    pauseBtn.addEventListener('click', () => act(`/api/bots/${id}/pause`, undefined, pauseBtn, 'Paused'));
    resumeBtn.addEventListener('click', () => act(`/api/bots/${id}/resume`, undefined, resumeBtn, 'Resumed'));
    stopBtn.addEventListener('click', () => {
      const mErr = h('div', { class: 'error', 'data-test': 'stop-error' });
      const opt = (value, label, hint, test) =>
        h('label', { class: 'opt' }, h('input', { type: 'radio', name: 'stop-mode', value, 'data-test': test }), label, h('div', { class: 'hint' }, hint));
      const body = h(
        'div',
        {},
        h('p', { class: 'muted', style: 'margin-top:0' }, 'A stopped bot never trades again. How should it end?'),
        opt('return-coins', 'Return coins', 'Keep the coins as they are; the bot stops trading.', 'stop-return-coins'),
        opt('to-usdt', 'Convert all to USDT', 'Sell every coin for the quote currency at market, then stop.', 'stop-to-usdt'),
        mErr,
      );
      const confirmBtn = h('button', { class: 'danger solid', 'data-test': 'stop-confirm' }, 'Stop the bot');
      const m = modal('Stop this bot?', body, [h('button', { onclick: () => m.close(), 'data-test': 'stop-cancel' }, 'Cancel'), confirmBtn], 'stop-dialog');
      confirmBtn.addEventListener('click', async () => {
        const sel = body.querySelector('input[name=stop-mode]:checked');
        if (!sel) return void (mErr.textContent = 'Choose how to stop.');
        await busy(confirmBtn, mErr, async () => {
          await api('POST', `/api/bots/${id}/stop`, { mode: sel.value });
          m.close();
          toast('Bot stopped');
          await ctx.refresh();
        });
      });
    });
    exportBtn.addEventListener('click', async () => {
      err.textContent = '';
      try {
        const r = await api('GET', `/api/bots/${id}/export`);
        const line = h('input', { type: 'text', readonly: true, value: r.profile, 'data-test': 'export-profile', class: 'mono' });
        exportBox.replaceChildren(
          h('div', { class: 'note' }, h('div', { class: 'row' }, h('div', { class: 'field', style: 'margin:0' }, h('label', {}, 'Profile (no amounts, no secrets)'), line), h('button', { onclick: () => copyText(r.profile), 'data-test': 'export-copy' }, 'Copy'), h('button', { onclick: () => exportBox.replaceChildren() }, 'Close'))),
        );
        line.select();
      } catch (e) {
        err.textContent = e.message;
      }
    });
    editBtn.addEventListener('click', async () => {
      err.textContent = '';
      if (editBox.childNodes.length) return void editBox.replaceChildren();
      let r;
      try {
        await catalog();
        r = await api('GET', `/api/bots/${id}/config`);
      } catch (e) {
        err.textContent = e.message;
        return;
      }
      const w = configToWiz(r.config);
      const b = ctx.bot();
      if (b && b.pnl && num(b.pnl.value) > 0 && !(num(w.amount) > 0)) w.amount = String(b.pnl.value);
      const eErr = h('div', { class: 'error', 'data-test': 'edit-error' });
      const save = h('button', { class: 'primary', 'data-test': 'edit-save' }, 'Save changes');
      save.addEventListener('click', async () => {
        await busy(save, eErr, async () => {
          const config = buildConfig(w);
          const plan = await api('POST', `/api/bots/${id}/edit/preview`, { config });
          confirmTrade('Save these changes?', 'The bot rebalances to the new parameters at once:', plan, async () => {
            await api('POST', `/api/bots/${id}/edit`, { config });
            toast('Bot updated');
            editBox.replaceChildren();
            await ctx.reloadConfig();
            await ctx.refresh();
          }, 'edit-dialog');
        });
      });
      const weights = weightsForm(w);
      editBox.replaceChildren(
        h(
          'div',
          { class: 'note', style: 'color:inherit' },
          h('p', { class: 'muted', style: 'margin-top:0' }, 'A removed coin is sold; the amount does not change here (use "Add investment").'),
          h('div', { class: 'grid grid-2' }, h('div', {}, h('h3', {}, 'Coins'), coinPicker(w, () => weights.update())), h('div', {}, h('h3', {}, 'Rebalancing'), modeForm(w), h('h3', { style: 'margin-top:14px' }, 'Guards'), guardsForm(w))),
          h('h3', { style: 'margin-top:14px' }, 'Entry prices'),
          entryForm(w),
          h('h3', { style: 'margin-top:14px' }, 'Weights'),
          weights,
          eErr,
          h('div', { class: 'actions end' }, h('button', { onclick: () => editBox.replaceChildren() }, 'Cancel'), save),
        ),
      );
    });
    el.append(
      h('div', { class: 'actions' }, pauseBtn, resumeBtn, editBtn, exportBtn, h('span', { style: 'flex:1' }), stopBtn),
      err,
      exportBox,
      editBox,
      h('div', { style: 'margin-top:12px' }, investForm),
    );
    return {
      update(b) {
        const stopped = b.status === 'stopped';
        pauseBtn.hidden = b.status !== 'active';
        resumeBtn.hidden = b.status !== 'paused';
        stopBtn.disabled = stopped;
        editBtn.disabled = stopped;
        investBtn.disabled = stopped;
        investForm.hidden = stopped;
        kind.options[0].textContent = b.quote || 'USDT';
        const cur = asset.value;
        const list = b.assets || [];
        if (asset.options.length !== list.length) asset.replaceChildren(...list.map((a) => h('option', { value: a }, a)));
        if (list.includes(cur)) asset.value = cur;
      },
    };
  }

  // ---------------------------------------------------------------- wizard state
  function newWiz() {
    return {
      base: {},
      name: '',
      venue: 'paper',
      amount: '1000',
      assets: [],
      method: 'equal',
      custom: {},
      max_weight: '',
      mode: 'threshold',
      threshold: '3',
      threshold_kind: 'absolute',
      cooldown: '',
      every: '1d',
      min_drift: '',
      entry_prices: {},
      stop_loss: '',
      take_profit: '',
      step: 1,
      maxStep: 1,
      preview: null,
    };
  }
  const str = (x) => (x == null ? '' : String(x));
  function configToWiz(c) {
    const w = newWiz();
    w.base = JSON.parse(JSON.stringify(c || {}));
    w.name = str(c.name);
    w.venue = c.venue || 'paper';
    if (c.amount != null) w.amount = str(c.amount);
    const wt = c.weights || {};
    w.method = wt.method || 'equal';
    w.assets = Array.isArray(c.assets) ? [...c.assets] : Object.keys(wt.custom || {});
    for (const [a, v] of Object.entries(wt.custom || {})) w.custom[a] = str(v);
    w.max_weight = str(wt.max_weight);
    const rb = c.rebalance || {};
    w.mode = rb.mode === 'calendar' ? 'calendar' : 'threshold';
    if (rb.threshold != null) w.threshold = str(rb.threshold);
    w.threshold_kind = rb.threshold_kind || 'absolute';
    w.cooldown = str(rb.cooldown);
    if (rb.every != null) w.every = str(rb.every);
    w.min_drift = str(rb.min_drift);
    const g = c.guards || {};
    w.stop_loss = str(g.stop_loss);
    w.take_profit = str(g.take_profit);
    for (const [a, v] of Object.entries(g.entry_prices || {})) w.entry_prices[a] = str(v);
    return w;
  }
  function defaultName(w) {
    return w.assets.length ? w.assets.join('-').toLowerCase().slice(0, 64) : 'ballast';
  }
  function buildConfig(w) {
    const c = JSON.parse(JSON.stringify(w.base || {}));
    c.name = w.name.trim() || defaultName(w);
    c.venue = w.venue || 'paper';
    c.amount = str(w.amount).trim();
    c.assets = [...w.assets];
    const wt = Object.assign({}, c.weights || {});
    wt.method = w.method;
    if (w.method === 'custom') {
      wt.custom = {};
      for (const a of w.assets) wt.custom[a] = str(w.custom[a]).trim() || '0';
    } else delete wt.custom;
    if (w.method === 'market-cap' && w.max_weight.trim()) wt.max_weight = w.max_weight.trim();
    else delete wt.max_weight;
    if (!['inverse-vol', 'min-variance', 'risk-parity', 'hrp'].includes(w.method)) {
      delete wt.lookback;
      delete wt.shrinkage;
    }
    c.weights = wt;
    const old = c.rebalance || {};
    const rb = { mode: w.mode };
    if (w.mode === 'threshold') {
      rb.threshold = w.threshold.trim();
      rb.threshold_kind = w.threshold_kind;
      if (w.cooldown) rb.cooldown = w.cooldown;
    } else {
      rb.every = w.every;
      if (w.min_drift.trim()) {
        rb.min_drift = w.min_drift.trim();
        rb.threshold_kind = w.threshold_kind;
      }
    }
    if (old.to) rb.to = old.to;
    c.rebalance = rb;
    const g = {};
    if (w.stop_loss.trim()) g.stop_loss = w.stop_loss.trim();
    if (w.take_profit.trim()) g.take_profit = w.take_profit.trim();
    const ep = {};
    for (const a of w.assets) if (str(w.entry_prices[a]).trim()) ep[a] = str(w.entry_prices[a]).trim();
    if (Object.keys(ep).length) g.entry_prices = ep;
    if (Object.keys(g).length) c.guards = g;
    else delete c.guards;
    return c;
  }
  const preview = (w) => api('POST', '/api/preview', { config: buildConfig(w) });

  // ---------------------------------------------------------------- wizard pieces
  function coinPicker(w, onChange) {
    const msg = h('div', { class: 'error', 'data-test': 'coin-error' });
    const search = h('input', { type: 'search', placeholder: 'Search coins (e.g. BTC)', 'data-test': 'coin-search', autocomplete: 'off' });
    const list = h('div', { class: 'coin-list', 'data-test': 'coin-list' });
    const chips = h('div', { class: 'chips', 'data-test': 'coin-chips' });
    const count = h('span', { class: 'muted', 'data-test': 'coin-count' });
    function toggle(a) {
      msg.textContent = '';
      const i = w.assets.indexOf(a);
      if (i >= 0) w.assets.splice(i, 1);
      else if (w.assets.length >= maxAssets()) {
        msg.textContent = `At most ${maxAssets()} coins per bot: remove one before adding ${a}.`;
        return;
      } else w.assets.push(a);
      render();
      onChange && onChange();
    }
    function render() {
      const q = search.value.trim().toUpperCase();
      shownQ = q;
      const all = S.catalog ? S.catalog.assets || [] : [];
      const shown = all.filter((x) => !q || x.asset.toUpperCase().includes(q));
      list.replaceChildren(
        ...shown.map((x) =>
          h(
            'div',
            {
              class: `coin${w.assets.includes(x.asset) ? ' on' : ''}`,
              'data-test': `coin-${x.asset}`,
              role: 'checkbox',
              tabindex: 0,
              'aria-checked': String(w.assets.includes(x.asset)),
              'aria-label': `${x.asset}, ${fmtPrice(x.price)} ${quote()}`,
              onclick: () => toggle(x.asset),
              onkeydown: (e) => {
                if (e.key === ' ' || e.key === 'Enter') {
                  e.preventDefault();
                  toggle(x.asset);
                  const again = list.querySelector(`[data-test=coin-${x.asset}]`);
                  if (again) again.focus();
                }
              },
            },
            h('input', { type: 'checkbox', checked: w.assets.includes(x.asset), tabindex: -1, 'aria-hidden': 'true' }),
            h('span', { class: 'sym' }, x.asset),
            h('span', { class: 'price' }, fmtPrice(x.price), h('span', { class: 'muted' }, ` ${quote()}`)),
            h('span', { class: 'min' }, x.min_notional != null ? `min ${fmt(x.min_notional, 2)}` : ''),
          ),
        ),
      );
      if (!shown.length) list.append(h('div', { class: 'coin muted' }, S.catalog ? 'No coin matches.' : 'The catalog is not available: type a symbol and press Enter.'));
      chips.replaceChildren(...w.assets.map((a) => h('span', { class: 'chip', 'data-test': `chip-${a}` }, a, h('button', { type: 'button', title: `remove ${a}`, onclick: () => toggle(a) }, '×'))));
      if (!w.assets.length) chips.append(h('span', { class: 'muted' }, 'No coin selected.'));
      count.textContent = `${w.assets.length} / ${maxAssets()} selected`;
    }
    // 'change' and 'search' catch a field cleared without an input event; re-rendering
    // only when the filter differs keeps a click that blurred the field on its row.
    let shownQ = '';
    const refilter = () => search.value.trim().toUpperCase() !== shownQ && render();
    search.addEventListener('input', render);
    search.addEventListener('change', refilter);
    search.addEventListener('search', refilter);
    search.addEventListener('keydown', (e) => {
      if (e.key !== 'Enter') return;
      e.preventDefault();
      const q = search.value.trim().toUpperCase();
      if (!q) return;
      const all = S.catalog ? S.catalog.assets || [] : [];
      const exact = all.find((x) => x.asset.toUpperCase() === q);
      const shown = all.filter((x) => x.asset.toUpperCase().includes(q));
      const pick = exact ? exact.asset : shown.length === 1 ? shown[0].asset : !S.catalog && /^[A-Z0-9]{2,10}$/.test(q) ? q : null;
      if (pick && !w.assets.includes(pick)) toggle(pick);
      search.value = '';
      render();
    });
    render();
    return h(
      'div',
      { 'data-test': 'coin-picker' },
      S.catalogError ? h('div', { class: 'error' }, `Catalog: ${S.catalogError}`) : null,
      h('div', { class: 'row' }, h('div', { class: 'field', style: 'margin:0' }, search), count),
      chips,
      msg,
      list,
    );
  }

  function radio(name, value, cur, label, onpick, test) {
    return h('label', { class: 'choice' }, h('input', { type: 'radio', name, value, checked: cur === value, 'data-test': test, onchange: () => onpick(value) }), label);
  }
  function numInput(w, key, attrs) {
    return h('input', Object.assign({ type: 'text', inputmode: 'decimal', value: w[key], oninput: (e) => (w[key] = e.target.value) }, attrs || {}));
  }
  const EVERY = ['30m', '1h', '4h', '12h', '1d', '3d', '7d', '14d', '28d'];
  const COOLDOWN = ['', '30m', '1h', '4h', '12h', '1d'];
  // A loaded profile may use a span the list does not offer: keep it selectable.
  const withCurrent = (list, cur) => (cur && !list.includes(cur) ? [...list, cur] : list);
  let radioSeq = 0;
  function modeForm(w) {
    const nm = `mode${++radioSeq}`;
    const box = h('div', { class: 'narrow' });
    const kindRadios = (label) =>
      h(
        'div',
        { class: 'field' },
        h('label', {}, label),
        radio(`${nm}k`, 'absolute', w.threshold_kind, 'absolute (percentage points)', (v) => (w.threshold_kind = v), 'kind-absolute'),
        radio(`${nm}k`, 'relative', w.threshold_kind, 'relative (of the target)', (v) => (w.threshold_kind = v), 'kind-relative'),
      );
    function render() {
      const thr = h(
        'div',
        {},
        h(
          'div',
          { class: 'row' },
          h('div', { class: 'field' }, h('label', {}, 'Threshold, percent (0.5 – 50)'), numInput(w, 'threshold', { 'data-test': 'threshold' })),
          h(
            'div',
            { class: 'field' },
            h('label', {}, 'Cooldown (optional)'),
            h('select', { 'data-test': 'cooldown', onchange: (e) => (w.cooldown = e.target.value) }, withCurrent(COOLDOWN, w.cooldown).map((c) => h('option', { value: c, selected: w.cooldown === c }, c || 'none'))),
          ),
        ),
        kindRadios('Drift measured as'),
        h('div', { class: 'hint' }, 'Rebalances when some coin drifts more than the threshold from its target (absolute: 28% against 25% is 3; relative: 12%).'),
      );
      const cal = h(
        'div',
        {},
        h(
          'div',
          { class: 'row' },
          h('div', { class: 'field' }, h('label', {}, 'Every'), h('select', { 'data-test': 'every', onchange: (e) => (w.every = e.target.value) }, withCurrent(EVERY, w.every).map((c) => h('option', { value: c, selected: w.every === c }, c)))),
          h('div', { class: 'field' }, h('label', {}, 'Minimum drift, percent (optional)'), numInput(w, 'min_drift', { 'data-test': 'min-drift', placeholder: 'none' })),
        ),
        kindRadios('Minimum drift measured as'),
        h('div', { class: 'hint' }, 'Rebalances on a schedule; with a minimum drift, a scheduled rebalance is skipped unless some coin drifts more than it.'),
      );
      box.replaceChildren(
        h(
          'div',
          { class: 'field' },
          radio(nm, 'threshold', w.mode, 'Threshold (on drift)', (v) => ((w.mode = v), render()), 'mode-threshold'),
          radio(nm, 'calendar', w.mode, 'Time (on a schedule)', (v) => ((w.mode = v), render()), 'mode-time'),
        ),
        w.mode === 'threshold' ? thr : cal,
      );
    }
    render();
    return box;
  }
  function entryForm(w) {
    if (!w.assets.length) return h('div', { class: 'muted' }, 'Pick coins first.');
    return h(
      'div',
      { 'data-test': 'entry-prices' },
      h('p', { class: 'hint', style: 'margin-top:0' }, 'Optional: buy a coin only at or below this price; until then its share stays in the quote currency.'),
      h(
        'table',
        {},
        h('thead', {}, h('tr', {}, h('th', {}, 'Coin'), h('th', { class: 'num' }, 'Price now'), h('th', {}, 'Buy at or below'))),
        h(
          'tbody',
          {},
          w.assets.map((a) => {
            const c = catAsset(a);
            return h(
              'tr',
              {},
              h('td', {}, h('b', {}, a)),
              h('td', { class: 'num' }, c ? fmtPrice(c.price) : '–'),
              h('td', {}, h('input', { type: 'text', inputmode: 'decimal', placeholder: 'any price', value: w.entry_prices[a] || '', 'data-test': `entry-${a}`, oninput: (e) => (w.entry_prices[a] = e.target.value) })),
            );
          }),
        ),
      ),
    );
  }
  function guardsForm(w) {
    return h(
      'div',
      { class: 'row narrow' },
      h('div', { class: 'field' }, h('label', {}, 'Stop-loss, % below net invested (optional)'), numInput(w, 'stop_loss', { placeholder: 'none', 'data-test': 'stop-loss' })),
      h('div', { class: 'field' }, h('label', {}, 'Take-profit, % above net invested (optional)'), numInput(w, 'take_profit', { placeholder: 'none', 'data-test': 'take-profit' })),
    );
  }
  const METHODS = ['equal', 'custom', 'market-cap', 'inverse-vol', 'min-variance', 'risk-parity', 'hrp'];
  const METHOD_LABEL = {
    equal: 'Equal',
    custom: 'Custom',
    'market-cap': 'Market cap',
    'inverse-vol': 'Inverse volatility',
    'min-variance': 'Minimum variance',
    'risk-parity': 'Risk parity',
    hrp: 'Hierarchical risk parity',
  };
  function weightsForm(w) {
    const box = h('div', { 'data-test': 'weights-form' });
    const bars = h('div', { 'data-test': 'weights-preview' });
    const perr = h('div', { class: 'error', 'data-test': 'weights-error' });
    const extra = h('div', {});
    let seq = 0;
    const run = debounce(async () => {
      const my = ++seq;
      perr.textContent = '';
      if (w.assets.length < 2) return void bars.replaceChildren(h('div', { class: 'muted' }, 'Pick at least 2 coins.'));
      if (w.method === 'custom') {
        const sum = w.assets.reduce((a, x) => a + (num(w.custom[x]) || 0), 0);
        if (Math.abs(sum - 100) > 1e-9) return void bars.replaceChildren(h('div', { class: 'muted' }, 'The custom weights must sum to 100 for a preview.'));
      }
      bars.replaceChildren(h('div', { class: 'muted' }, 'Computing…'));
      try {
        const p = await preview(w);
        if (my !== seq) return;
        w.preview = p;
        bars.replaceChildren(weightBars(p.targets, p.per_asset, w.assets));
      } catch (e) {
        if (my !== seq) return;
        bars.replaceChildren();
        perr.textContent = e.message;
      }
    }, 350);
    function renderExtra() {
      if (w.method === 'custom') {
        const sumEl = h('div', { class: 'hint', 'data-test': 'custom-sum' });
        const upd = () => {
          const sum = w.assets.reduce((a, x) => a + (num(w.custom[x]) || 0), 0);
          sumEl.textContent = `Sum: ${fmt(sum, 2)}% ${Math.abs(sum - 100) < 1e-9 ? '✓' : '(must be 100)'}`;
          sumEl.className = Math.abs(sum - 100) < 1e-9 ? 'hint pos' : 'hint neg';
        };
        extra.replaceChildren(
          h(
            'div',
            { class: 'row' },
            w.assets.map((a) =>
              h('div', { class: 'field', style: 'flex:0 1 120px' }, h('label', {}, `${a} %`), h('input', { type: 'text', inputmode: 'decimal', value: w.custom[a] || '', 'data-test': `custom-${a}`, oninput: (e) => ((w.custom[a] = e.target.value), upd(), run()) })),
            ),
          ),
          sumEl,
          h('button', { type: 'button', class: 'small', onclick: () => {
            const n = w.assets.length;
            const base = Math.floor((100 / n) * 100) / 100;
            w.assets.forEach((a, i) => (w.custom[a] = i === n - 1 ? String(+(100 - base * (n - 1)).toFixed(2)) : String(base)));
            renderExtra();
            run();
          } }, 'Split evenly'),
        );
        upd();
      } else if (w.method === 'market-cap') {
        extra.replaceChildren(h('div', { class: 'row' }, h('div', { class: 'field', style: 'max-width:260px' }, h('label', {}, 'Max weight of one coin, % (optional)'), numInput(w, 'max_weight', { placeholder: 'none', 'data-test': 'max-weight', oninput: (e) => ((w.max_weight = e.target.value), run()) }))));
      } else if (['inverse-vol', 'min-variance', 'risk-parity', 'hrp'].includes(w.method)) {
        extra.replaceChildren(h('div', { class: 'hint' }, 'Computed from the trailing window of daily closes (lookback 90 days unless the profile says otherwise).'));
      } else extra.replaceChildren();
    }
    const methods = (S.catalog && S.catalog.methods) || METHODS;
    const sel = h(
      'select',
      { 'data-test': 'method', onchange: (e) => ((w.method = e.target.value), renderExtra(), run()) },
      methods.map((m) => h('option', { value: m, selected: w.method === m }, METHOD_LABEL[m] || m)),
    );
    box.append(h('div', { class: 'field', style: 'max-width:320px' }, h('label', {}, 'Weight method'), sel), extra, h('h3', { style: 'margin-top:12px' }, 'Weights it computes'), bars, perr);
    renderExtra();
    run();
    box.update = () => {
      renderExtra();
      run();
    };
    return box;
  }

  // ---------------------------------------------------------------- wizard
  // A preset's provenance: a map of strings (how `ballast optimize` chose it).
  function provenanceLine(pv) {
    if (!pv) return null;
    if (typeof pv !== 'object') return h('div', { class: 'hint' }, String(pv));
    const all = Object.entries(pv).map(([k, v]) => `${k.replace(/_/g, ' ')}: ${v}`).join('\n');
    const parts = [];
    if (pv.oos_cagr) parts.push(`out-of-sample CAGR ${pv.oos_cagr}`);
    if (pv.oos_hodl_cagr) parts.push(`HODL ${pv.oos_hodl_cagr}`);
    if (pv.oos_sharpe) parts.push(`Sharpe ${pv.oos_sharpe}`);
    if (pv.votes) parts.push(`votes ${pv.votes}`);
    const text = parts.length ? parts.join(' · ') : all.split('\n').slice(0, 2).join(' · ');
    return text ? h('div', { class: 'hint', title: all }, text) : null;
  }
  const STEPS = ['Coins', 'Amount', 'Mode', 'Entry prices', 'Guards', 'Weights', 'Summary', 'Confirm'];
  function viewWizard() {
    if (!S.wiz) S.wiz = newWiz();
    const root = h('div', { 'data-test': 'wizard' });
    const stepper = h('div', { class: 'stepper', 'data-test': 'stepper' });
    const body = h('div', { class: 'panel' });
    const presetBox = h('div', {});
    let alive = true;
    const presetBtn = h('button', { 'data-test': 'presets-toggle', onclick: () => togglePresets() }, 'Start from a preset');
    const importBtn = h('button', { 'data-test': 'import-toggle', onclick: () => toggleImport() }, 'Import a profile');
    const resetBtn = h('button', { onclick: () => ((S.wiz = newWiz()), presetBox.replaceChildren(), render()) }, 'Reset');
    root.append(h('div', { class: 'page-head' }, h('h1', {}, 'New bot'), presetBtn, importBtn, resetBtn), presetBox, stepper, body);
    mount(root);

    async function useProfile(profile, amount, errEl) {
      errEl.textContent = '';
      try {
        const r = await api('POST', '/api/profiles/parse', { profile, amount: amount || S.wiz.amount || '1000' });
        S.wiz = configToWiz(r.config);
        if (!S.wiz.amount) S.wiz.amount = amount || '1000';
        presetBox.replaceChildren();
        toast('Profile loaded: review each step');
        render();
      } catch (e) {
        errEl.textContent = e.message;
      }
    }
    async function togglePresets() {
      if (presetBox.dataset.kind === 'presets') return void ((presetBox.dataset.kind = ''), presetBox.replaceChildren());
      presetBox.dataset.kind = 'presets';
      const perr = h('div', { class: 'error', 'data-test': 'preset-error' });
      const amt = h('input', { type: 'text', inputmode: 'decimal', value: S.wiz.amount || '1000', 'data-test': 'preset-amount' });
      const grid = h('div', { class: 'presets', 'data-test': 'presets' }, h('div', { class: 'muted' }, 'Loading presets…'));
      presetBox.replaceChildren(h('div', { class: 'panel' }, h('h3', {}, 'Start from a preset'), h('div', { class: 'field', style: 'max-width:220px' }, h('label', {}, `Amount (${quote()})`), amt), grid, perr));
      try {
        S.presets = S.presets || (await api('GET', '/api/presets'));
      } catch (e) {
        grid.replaceChildren();
        perr.textContent = e.message;
        return;
      }
      grid.replaceChildren(
        ...S.presets.map((p) =>
          h(
            'div',
            { class: 'preset', 'data-test': `preset-${p.name}` },
            h('b', {}, p.name),
            h('div', { class: 'muted' }, `${(p.assets || []).join(', ')} · ${METHOD_LABEL[p.method] || p.method || ''}`),
            h('div', { class: 'd' }, p.description || ''),
            provenanceLine(p.provenance),
            h('div', {}, h('button', { class: 'small primary', 'data-test': `preset-use-${p.name}`, onclick: () => useProfile(p.profile || p.name, amt.value.trim(), perr) }, 'Use')),
          ),
        ),
      );
      if (!S.presets.length) grid.replaceChildren(h('div', { class: 'muted' }, 'No presets.'));
    }
    function toggleImport() {
      if (presetBox.dataset.kind === 'import') return void ((presetBox.dataset.kind = ''), presetBox.replaceChildren());
      presetBox.dataset.kind = 'import';
      const perr = h('div', { class: 'error', 'data-test': 'import-error' });
      const ta = h('textarea', { placeholder: 'ballast-profile:1:…', 'data-test': 'import-profile' });
      const amt = h('input', { type: 'text', inputmode: 'decimal', value: S.wiz.amount || '1000', 'data-test': 'import-amount' });
      presetBox.replaceChildren(
        h(
          'div',
          { class: 'panel' },
          h('h3', {}, 'Import a profile'),
          h('div', { class: 'field' }, h('label', {}, 'Profile line (ballast-profile:1:…) or profile TOML'), ta),
          h('div', { class: 'row' }, h('div', { class: 'field', style: 'max-width:220px' }, h('label', {}, `Amount (${quote()})`), amt), h('div', { class: 'field', style: 'flex:0 0 auto' }, h('button', { class: 'primary', 'data-test': 'import-submit', onclick: () => useProfile(ta.value.trim(), amt.value.trim(), perr) }, 'Import'))),
          perr,
        ),
      );
    }

    function renderStepper() {
      const w = S.wiz;
      stepper.replaceChildren(
        ...STEPS.map((t, i) => {
          const n = i + 1;
          return h(
            'button',
            {
              type: 'button',
              class: n === w.step ? 'current' : n < w.step || n <= w.maxStep ? 'done' : '',
              disabled: n > w.maxStep,
              'data-test': `step-${n}`,
              onclick: () => ((w.step = n), render()),
            },
            h('span', { class: 'n' }, String(n)),
            h('span', { class: 't' }, t),
          );
        }),
      );
    }

    function render() {
      if (!alive) return;
      const w = S.wiz;
      renderStepper();
      const err = h('div', { class: 'error', 'data-test': 'step-error' });
      const back = h('button', { type: 'button', 'data-test': 'wizard-back', disabled: w.step === 1, onclick: () => ((w.step -= 1), render()) }, '← Back');
      const next = h('button', { type: 'button', class: 'primary', 'data-test': 'wizard-next' }, 'Next →');
      const status = h('span', { class: 'muted', 'data-test': 'step-status' });
      const go = () => {
        w.step += 1;
        w.maxStep = Math.max(w.maxStep, w.step);
        render();
      };
      // Steps 3..7 ask the server: a refused configuration stays on its step with the message.
      const checkThenGo = async () => {
        await busy(next, err, async () => {
          w.preview = await preview(w);
          go();
        });
      };
      next.addEventListener('click', () => (w.step <= 2 ? go() : checkThenGo()));
      let content;
      const title = h('h2', {}, `${w.step}. ${STEPS[w.step - 1]}`);
      if (w.step === 1) {
        const upd = () => {
          next.disabled = w.assets.length < 2;
          status.textContent = w.assets.length < 2 ? 'Pick at least 2 coins.' : '';
        };
        content = h('div', {}, h('p', { class: 'muted', style: 'margin-top:0' }, `Pick 2 to ${maxAssets()} coins. Prices are the venue's prices now.`), coinPicker(w, upd));
        upd();
      } else if (w.step === 2) content = amountStep(w, next, status, err);
      else if (w.step === 3) content = modeForm(w);
      else if (w.step === 4) content = entryForm(w);
      else if (w.step === 5) content = h('div', {}, h('p', { class: 'muted', style: 'margin-top:0' }, 'Both are optional. When triggered, the bot sells everything to the quote currency and stops.'), guardsForm(w));
      else if (w.step === 6) {
        content = weightsForm(w);
        const upd = () => {
          if (w.method !== 'custom') return void (next.disabled = false);
          const sum = w.assets.reduce((a, x) => a + (num(w.custom[x]) || 0), 0);
          next.disabled = Math.abs(sum - 100) > 1e-9;
        };
        content.addEventListener('input', upd);
        content.addEventListener('change', upd);
        upd();
      } else if (w.step === 7) {
        // Fresh figures even when the step was reached through the stepper.
        content = w.preview ? summary(w) : h('div', { class: 'muted' }, 'Computing the summary…');
        const box = content;
        const holder = h('div', {}, box);
        content = holder;
        preview(w)
          .then((p) => {
            w.preview = p;
            if (holder.isConnected) holder.replaceChildren(summary(w));
          })
          .catch((e) => (err.textContent = e.message));
      }
      else {
        next.remove();
        content = confirmStep(w, err);
      }
      body.replaceChildren(title, content, err, h('div', { class: 'wiz-foot' }, back, status, w.step < 8 ? next : h('span')));
    }

    function amountStep(w, next, status, err) {
      const q = quote();
      const input = h('input', { type: 'text', inputmode: 'decimal', value: w.amount, 'data-test': 'amount', style: 'font-size:18px;max-width:260px' });
      const min = h('div', { class: 'note', 'data-test': 'minimum' }, 'Computing the minimum…');
      const per = h('div', {});
      let seq = 0;
      const check = async () => {
        const my = ++seq;
        err.textContent = '';
        next.disabled = true;
        if (!(num(w.amount) > 0)) {
          min.textContent = 'Enter an amount.';
          return;
        }
        status.textContent = 'checking…';
        try {
          const p = await preview(w);
          if (my !== seq) return;
          w.preview = p;
          const m = p.minimum || {};
          const enough = p.enough != null ? p.enough : num(w.amount) >= num(m.amount);
          min.replaceChildren(
            h('span', {}, 'Minimum investment: '),
            h('b', { 'data-test': 'minimum-amount', class: enough ? '' : 'neg' }, `${fmt(m.amount, 2)} ${q}`),
            m.binding ? h('span', { class: 'muted' }, ` (bound by `, h('b', { 'data-test': 'minimum-binding' }, m.binding), ')') : null,
            enough ? h('span', { class: 'pos' }, '  ✓ enough') : h('span', { class: 'neg' }, '  below the minimum'),
          );
          per.replaceChildren(weightBars(p.targets, p.per_asset, w.assets));
          next.disabled = !enough;
          status.textContent = enough ? '' : `At least ${fmt(m.amount, 2)} ${q}.`;
        } catch (e) {
          if (my !== seq) return;
          err.textContent = e.message;
          min.textContent = 'No minimum: the configuration is refused.';
          status.textContent = '';
        }
      };
      const deb = debounce(check, 350);
      input.addEventListener('input', () => {
        w.amount = input.value.trim();
        next.disabled = true;
        deb();
      });
      check();
      setTimeout(() => input.focus(), 0);
      return h(
        'div',
        {},
        h('div', { class: 'field' }, h('label', {}, `Amount to invest (${q})`), input),
        min,
        h('h3', { style: 'margin-top:12px' }, 'Amount per coin (with the weights as configured so far)'),
        per,
      );
    }

    function summary(w) {
      const p = w.preview;
      const c = buildConfig(w);
      if (!p) return h('div', { class: 'muted' }, 'No preview.');
      const q = quote();
      const rb = c.rebalance;
      const mode =
        rb.mode === 'threshold'
          ? `Threshold ${rb.threshold}% ${rb.threshold_kind}${rb.cooldown ? `, cooldown ${rb.cooldown}` : ''}`
          : `Every ${rb.every}${rb.min_drift ? `, only if drift > ${rb.min_drift}% ${rb.threshold_kind}` : ''}`;
      const g = c.guards || {};
      const guards = [g.stop_loss ? `stop-loss ${g.stop_loss}%` : null, g.take_profit ? `take-profit ${g.take_profit}%` : null, g.entry_prices ? `entry prices: ${Object.entries(g.entry_prices).map(([a, v]) => `${a} ≤ ${v}`).join(', ')}` : null].filter(Boolean);
      const orders = p.orders || [];
      return h(
        'div',
        { 'data-test': 'summary' },
        h(
          'div',
          { class: 'grid grid-2' },
          h(
            'div',
            {},
            h('h3', {}, 'Coins'),
            h(
              'table',
              {},
              h('thead', {}, h('tr', {}, h('th', {}, 'Coin'), h('th', { class: 'num' }, 'Weight'), h('th', { class: 'num' }, `Amount (${q})`), h('th', { class: 'num' }, 'Price'))),
              h(
                'tbody',
                {},
                Object.entries(p.targets || {}).map(([a, t]) =>
                  h('tr', {}, h('td', {}, h('b', {}, a)), h('td', { class: 'num' }, fmtW(t)), h('td', { class: 'num' }, fmt((p.per_asset || {})[a], 2)), h('td', { class: 'num' }, (p.prices || {})[a] ? fmtPrice(p.prices[a]) : catAsset(a) ? fmtPrice(catAsset(a).price) : '–')),
                ),
              ),
            ),
          ),
          h(
            'div',
            { class: 'kv' },
            h('div', { class: 'k' }, 'Amount'),
            h('div', {}, h('b', {}, `${fmt(p.amount ?? c.amount, 2)} ${q}`)),
            h('div', { class: 'k' }, 'Minimum'),
            h('div', { 'data-test': 'summary-minimum' }, `${fmt((p.minimum || {}).amount, 2)} ${q}${(p.minimum || {}).binding ? ` (bound by ${p.minimum.binding})` : ''}`),
            h('div', { class: 'k' }, 'Weights'),
            h('div', {}, METHOD_LABEL[c.weights.method] || c.weights.method),
            h('div', { class: 'k' }, 'Rebalancing'),
            h('div', {}, mode),
            h('div', { class: 'k' }, 'Guards'),
            h('div', {}, guards.length ? guards.join('; ') : 'none'),
            h('div', { class: 'k' }, 'Fees (first orders)'),
            h('div', {}, `${fmt(p.fees, 4)} ${q}`),
            h('div', { class: 'k' }, 'Venue'),
            h('div', {}, c.venue),
          ),
        ),
        h('h3', { style: 'margin-top:14px' }, 'First orders'),
        orders.length
          ? h(
              'table',
              { 'data-test': 'summary-orders' },
              h('thead', {}, h('tr', {}, h('th', {}, 'Side'), h('th', {}, 'Coin'), h('th', { class: 'num' }, 'Quantity'), h('th', { class: 'num' }, 'Price'), h('th', { class: 'num' }, `Notional (${q})`), h('th', { class: 'num' }, 'Fee'))),
              h('tbody', {}, orders.map((o) => h('tr', {}, h('td', {}, h('span', { class: `badge ${o.side}` }, o.side)), h('td', {}, h('b', {}, o.asset)), h('td', { class: 'num' }, fmtQty(o.qty)), h('td', { class: 'num' }, fmtPrice(o.price)), h('td', { class: 'num' }, fmt(o.notional, 2)), h('td', { class: 'num' }, fmt(o.fee, 4))))),
            )
          : h('div', { class: 'muted' }, 'No order.'),
        (p.skipped || []).length ? h('div', { class: 'note warn' }, (p.skipped || []).map((x) => h('div', {}, `skipped: ${x.side} ${x.asset}: ${x.reason}`))) : null,
        p.enough === false ? h('div', { class: 'error' }, 'The amount is below the minimum: go back to step 2.') : null,
      );
    }

    function confirmStep(w, err) {
      const c = buildConfig(w);
      const name = h('input', { type: 'text', value: w.name || defaultName(w), 'data-test': 'bot-name-input', maxlength: 64, oninput: (e) => (w.name = e.target.value) });
      const venues = (S.catalog && S.catalog.venues) || ['paper'];
      const venue = h('select', { 'data-test': 'venue', onchange: (e) => (w.venue = e.target.value) }, venues.map((v) => h('option', { value: v, selected: w.venue === v }, v)));
      const create = h('button', { class: 'primary', 'data-test': 'wizard-create' }, 'Create the bot');
      create.addEventListener('click', async () => {
        err.textContent = '';
        if (!w.name.trim()) w.name = name.value.trim();
        await busy(create, err, async () => {
          const r = await api('POST', '/api/bots', { config: buildConfig(w) });
          S.wiz = null;
          toast(`Bot #${r.id} created`);
          location.hash = `#/bots/${r.id}`;
        });
      });
      const p = w.preview || {};
      return h(
        'div',
        { 'data-test': 'confirm' },
        h('div', { class: 'row' }, h('div', { class: 'field' }, h('label', {}, 'Name'), name), h('div', { class: 'field' }, h('label', {}, 'Venue'), venue)),
        h('div', { class: 'note' }, `${c.assets.join(', ')} · ${fmt(c.amount, 2)} ${quote()} · ${(p.orders || []).length} first order(s), fees ≈ ${fmt(p.fees, 4)} ${quote()}. The bot starts trading at once.`),
        h('div', { class: 'actions end' }, create),
      );
    }

    (async () => {
      body.replaceChildren(h('div', { class: 'muted' }, 'Loading the catalog…'));
      await catalog();
      render();
    })();
    return {
      dispose: () => {
        alive = false;
      },
    };
  }

  // ---------------------------------------------------------------- backtest
  const btDate = (x) => (x == null ? '–' : typeof x === 'number' ? fmtTime(x).slice(0, 10) : String(x).slice(0, 10));
  function viewBacktest() {
    const err = h('div', { class: 'error', 'data-test': 'backtest-error' });
    const result = h('div', { 'data-test': 'backtest-result' });
    const presetSel = h('select', { 'data-test': 'backtest-preset' }, h('option', { value: '' }, 'loading…'));
    const amount = h('input', { type: 'text', inputmode: 'decimal', value: (S.wiz && S.wiz.amount) || '1000', 'data-test': 'backtest-amount' });
    const hasWiz = S.wiz && S.wiz.assets.length >= 2;
    let src = hasWiz ? 'wizard' : 'preset';
    // The period and the intervals come from the bundled data (the catalog says what
    // it covers): by default its whole range.
    const start = h('input', { type: 'date', id: 'bt-start', 'data-test': 'backtest-start' });
    const end = h('input', { type: 'date', id: 'bt-end', 'data-test': 'backtest-end' });
    const interval = h('select', { id: 'bt-interval', 'data-test': 'backtest-interval' });
    const dataNote = h('div', { class: 'hint', 'data-test': 'backtest-data-range' });
    let ranges = [];
    let datesByUser = false;
    // The coins of the run: the preset's or the wizard's.
    function runCoins() {
      if (src === 'wizard') return hasWiz ? S.wiz.assets : [];
      const p = (S.presets || []).find((x) => x.name === presetSel.value);
      return p ? p.assets || [] : [];
    }
    // The period the data has for these coins at this interval: by default the whole
    // of it (dates the user typed are kept when they fit).
    function applyRange() {
      const r = ranges.find((x) => x.interval === interval.value);
      if (!r) return;
      const coins = runCoins().filter((c) => r.ranges && r.ranges[c]);
      let lo = r.start;
      let hi = r.end;
      if (coins.length) {
        lo = coins.map((c) => r.ranges[c][0]).sort().pop();
        hi = coins.map((c) => r.ranges[c][1]).sort()[0];
      }
      for (const el of [start, end]) {
        el.min = lo;
        el.max = hi;
      }
      if (!datesByUser || !start.value || start.value < lo || start.value > hi) start.value = lo;
      if (!datesByUser || !end.value || end.value > hi || end.value < lo) end.value = hi;
      const missing = runCoins().filter((c) => !(r.ranges && r.ranges[c]));
      dataNote.textContent = coins.length
        ? `The bundled ${r.interval} data of ${coins.join(', ')} covers ${lo} to ${hi}.${missing.length ? ` No ${r.interval} data for ${missing.join(', ')}.` : ''}`
        : `The bundled ${r.interval} data covers ${lo} to ${hi}.`;
    }
    interval.addEventListener('change', () => applyRange());
    presetSel.addEventListener('change', () => applyRange());
    for (const el of [start, end]) el.addEventListener('change', () => (datesByUser = true));
    const run = h('button', { class: 'primary', 'data-test': 'backtest-run' }, 'Run backtest');
    const srcBox = h('div', {});
    function renderSrc() {
      srcBox.replaceChildren(
        h(
          'div',
          { class: 'field' },
          radio('bt-src', 'preset', src, 'A preset', (v) => ((src = v), renderSrc()), 'backtest-src-preset'),
          radio('bt-src', 'wizard', src, hasWiz ? `The wizard's configuration (${S.wiz.assets.join(', ')})` : "The wizard's configuration (none yet)", (v) => ((src = v), renderSrc()), 'backtest-src-wizard'),
        ),
        src === 'preset' ? h('div', { class: 'row' }, h('div', { class: 'field' }, h('label', {}, 'Preset'), presetSel), h('div', { class: 'field' }, h('label', {}, `Amount (${quote()})`), amount)) : hasWiz ? h('div', { class: 'note' }, `${S.wiz.assets.join(', ')} · ${METHOD_LABEL[S.wiz.method] || S.wiz.method} · ${S.wiz.mode === 'threshold' ? `threshold ${S.wiz.threshold}%` : `every ${S.wiz.every}`} · ${S.wiz.amount} ${quote()}`, ' · ', h('a', { href: '#/new' }, 'edit in the wizard')) : h('div', { class: 'note' }, 'No configuration in the wizard yet: ', h('a', { href: '#/new' }, 'open the wizard'), '.'),
      );
      applyRange();
    }
    renderSrc();
    function body() {
      const b = {};
      if (src === 'preset') {
        b.preset = presetSel.value;
        b.amount = amount.value.trim();
      } else b.config = buildConfig(S.wiz);
      if (start.value) b.start = start.value;
      if (end.value) b.end = end.value;
      b.interval = interval.value;
      return b;
    }
    run.addEventListener('click', async () => {
      err.textContent = '';
      if (src === 'wizard' && !hasWiz) return void (err.textContent = 'Pick coins in the wizard first, or choose a preset.');
      const req = body();
      result.replaceChildren(h('div', { class: 'muted' }, 'Running the backtest…'));
      const ran = await busy(run, err, async () => {
        const r = await api('POST', '/api/backtests', req);
        showResult(r, req);
      });
      if (!ran) result.replaceChildren();
    });
    function showResult(r, req) {
      const sm = r.summary || {};
      const cerr = h('div', { class: 'error', 'data-test': 'backtest-create-error' });
      const create = h('button', { class: 'primary', 'data-test': 'backtest-create' }, 'Create this bot');
      create.addEventListener('click', async () => {
        await busy(create, cerr, async () => {
          const b = req.config ? { config: req.config } : { profile: req.preset, amount: req.amount };
          const res = await api('POST', '/api/bots', b);
          toast(`Bot #${res.id} created`);
          location.hash = `#/bots/${res.id}`;
        });
      });
      result.replaceChildren(
        h(
          'div',
          { class: 'stats', 'data-test': 'backtest-summary' },
          stat('Period', `${btDate(sm.start)} → ${btDate(sm.end)}`, 'period'),
          stat('Final value', fmt(sm.final_value, 2)),
          stat('HODL final value', fmt(sm.hodl_final_value, 2)),
          stat('Total return', fmtPct(sm.total_return_percent), signCls(sm.total_return_percent)),
          stat('HODL return', fmtPct(sm.hodl_return_percent), signCls(sm.hodl_return_percent)),
          stat('CAGR', fmtPct(sm.cagr_percent), signCls(sm.cagr_percent)),
          stat('Max drawdown', isFinite(num(sm.max_drawdown_percent)) ? `${fmt(Math.abs(num(sm.max_drawdown_percent)), 2)}%` : '–', 'neg'),
          stat('Rebalances', str(sm.rebalances ?? '–')),
          stat('Fees', fmt(sm.fees, 2)),
        ),
        sm.short_window ? h('div', { class: 'note warn', 'data-test': 'backtest-short' }, `Only ${sm.days} days: annualised figures such as the CAGR over less than a year are not a forecast.`) : null,
        (sm.notes || []).length ? h('ul', { class: 'notes muted', 'data-test': 'backtest-notes' }, sm.notes.filter((n) => !(sm.short_window && n.startsWith('a short window'))).map((n) => h('li', {}, n))) : null,
        h('div', { class: 'actions' }, create, r.report_url ? h('a', { class: 'btn', href: r.report_url, target: '_blank', rel: 'noopener', 'data-test': 'backtest-report-link' }, 'Open the report in a new tab ↗') : null),
        cerr,
        r.report_url ? h('iframe', { class: 'report', src: r.report_url, title: 'Backtest report', 'data-test': 'backtest-report' }) : null,
      );
    }
    mount(
      h(
        'div',
        { 'data-test': 'backtest-view' },
        h('div', { class: 'page-head' }, h('h1', {}, 'Backtest')),
        h(
          'div',
          { class: 'panel' },
          srcBox,
          h('div', { class: 'row' }, h('div', { class: 'field' }, h('label', { for: 'bt-start' }, 'Start'), start), h('div', { class: 'field' }, h('label', { for: 'bt-end' }, 'End'), end), h('div', { class: 'field' }, h('label', { for: 'bt-interval' }, 'Interval'), interval), h('div', { class: 'field', style: 'flex:0 0 auto' }, run)),
          dataNote,
          err,
        ),
        result,
      ),
    );
    (async () => {
      const cat = await catalog();
      ranges = (cat && cat.backtest && cat.backtest.intervals) || [];
      interval.replaceChildren(...ranges.map((r) => h('option', { value: r.interval }, r.interval)));
      if (!ranges.length) dataNote.textContent = 'No bundled market data found: backtests cannot run.';
      applyRange();
      try {
        S.presets = S.presets || (await api('GET', '/api/presets'));
        presetSel.replaceChildren(...S.presets.map((p) => h('option', { value: p.name, title: p.description || '' }, `${p.name} (${(p.assets || []).join(', ')})`)));
        if (!S.presets.length) presetSel.replaceChildren(h('option', { value: '' }, 'no presets'));
        applyRange();
      } catch (e) {
        presetSel.replaceChildren(h('option', { value: '' }, 'presets unavailable'));
        if (src === 'preset') err.textContent = e.message;
      }
    })();
    return {};
  }

  // ---------------------------------------------------------------- settings
  function viewSettings() {
    const err = h('div', { class: 'error', 'data-test': 'tokens-error' });
    const created = h('div', { 'data-test': 'token-created' });
    const tbody = h('tbody', { 'data-test': 'tokens' });
    const label = h('input', { type: 'text', placeholder: 'label, e.g. grafana', 'data-test': 'token-label', maxlength: 64 });
    const createBtn = h('button', { class: 'primary', 'data-test': 'token-create', type: 'submit' }, 'Create token');
    async function load() {
      try {
        const list = await api('GET', '/api/tokens');
        tbody.replaceChildren(
          ...list.map((t) =>
            h(
              'tr',
              { 'data-test': `token-${t.id}` },
              h('td', { class: 'mono' }, str(t.id)),
              h('td', {}, t.label || h('span', { class: 'muted' }, '(no label)')),
              h('td', {}, fmtTime(t.created_at)),
              h('td', { class: 'num' }, h('button', { class: 'danger small', 'data-test': `token-revoke-${t.id}`, onclick: () => revoke(t) }, 'Revoke')),
            ),
          ),
        );
        if (!list.length) tbody.replaceChildren(h('tr', {}, h('td', { colspan: 4, class: 'muted' }, 'No API tokens.')));
      } catch (e) {
        tbody.replaceChildren();
        err.textContent = e.message;
      }
    }
    async function revoke(t) {
      if (!confirm(`Revoke the token ${t.label || t.id}? It stops working at once.`)) return;
      err.textContent = '';
      try {
        await api('DELETE', `/api/tokens/${encodeURIComponent(t.id)}`);
        toast('Token revoked');
        load();
      } catch (e) {
        err.textContent = e.message;
      }
    }
    const form = h(
      'form',
      {
        onsubmit: async (e) => {
          e.preventDefault();
          await busy(createBtn, err, async () => {
            const body = label.value.trim() ? { label: label.value.trim() } : {};
            const r = await api('POST', '/api/tokens', body);
            label.value = '';
            created.replaceChildren(
              h('div', { class: 'ok-box' }, h('div', {}, 'Your new API token (shown once; store it now):'), h('div', { class: 'row', style: 'margin-top:6px;align-items:center' }, h('code', { 'data-test': 'token-value', style: 'flex:1;word-break:break-all' }, r.token), h('button', { type: 'button', onclick: () => copyText(r.token) }, 'Copy'))),
            );
            load();
          });
        },
      },
      h('div', { class: 'row narrow' }, h('div', { class: 'field' }, h('label', {}, 'Label (optional)'), label), h('div', { class: 'field', style: 'flex:0 0 auto' }, createBtn)),
    );
    mount(
      h(
        'div',
        { 'data-test': 'settings-view' },
        h('div', { class: 'page-head' }, h('h1', {}, 'Settings')),
        h(
          'div',
          { class: 'panel' },
          h('h3', {}, 'API tokens'),
          h('p', { class: 'muted', style: 'margin-top:0' }, 'Send a token as "Authorization: Bearer <token>" to use the API without the login (no CSRF header needed).'),
          form,
          created,
          err,
          h('div', { class: 'table-wrap' }, h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Id'), h('th', {}, 'Label'), h('th', {}, 'Created'), h('th', {}))), tbody)),
        ),
        notifyPanel(),
        keysPanel(),
        accountPanel(),
        h('div', { class: 'panel' }, h('h3', {}, 'Session'), h('div', { class: 'actions' }, h('button', { 'data-test': 'logout', onclick: logout }, 'Log out'), h('a', { class: 'btn', href: '/api/openapi.json', target: '_blank', rel: 'noopener' }, 'OpenAPI document ↗'))),
      ),
    );
    load();
    return {};
  }

  // A labelled field.
  function field(id, label, input, hint) {
    input.id = id;
    return h('div', { class: 'field' }, h('label', { for: id }, label), input, hint ? h('div', { class: 'hint' }, hint) : null);
  }

  // Notifications (notify.toml through the server's `notify::change`, the code of
  // `ballast notify set`): secrets are written, never shown again.
  function notifyPanel() {
    const state = h('div', { 'data-test': 'notify-state' });
    const msg = h('div', { 'data-test': 'notify-msg', role: 'status' });
    const err = h('div', { class: 'error', 'data-test': 'notify-error', role: 'alert' });
    const url = h('input', { type: 'url', 'data-test': 'notify-webhook', placeholder: 'https://…', autocomplete: 'off' });
    const headers = h('textarea', { 'data-test': 'notify-headers', rows: 2, placeholder: 'Authorization: Bearer …', autocomplete: 'off' });
    const token = h('input', { type: 'password', 'data-test': 'notify-telegram-token', autocomplete: 'off' });
    const chat = h('input', { type: 'text', 'data-test': 'notify-telegram-chat', placeholder: '-100… or @channel', autocomplete: 'off' });
    const kinds = h('input', { type: 'text', 'data-test': 'notify-kinds', autocomplete: 'off' });
    let cur = null;
    function show(n) {
      cur = n;
      kinds.value = (n.kinds || []).join(', ');
      token.placeholder = n.telegram ? 'stored: leave empty to keep it' : 'from @BotFather';
      state.replaceChildren(...[
        h('div', {}, h('b', {}, n.on ? 'On' : 'Off'), n.on ? '' : ': no target set.'),
        n.webhook ? h('div', { 'data-test': 'notify-webhook-set' }, 'Webhook: POST ', h('code', {}, n.webhook.url), n.webhook.headers.length ? ` with header(s) ${n.webhook.headers.join(', ')} (values hidden)` : '', ' ', h('button', { type: 'button', class: 'small danger', 'data-test': 'notify-remove-webhook', onclick: () => save({ remove_webhook: true }, 'Webhook removed') }, 'Remove')) : null,
        n.telegram ? h('div', { 'data-test': 'notify-telegram-set' }, `Telegram: chat ${n.telegram.chat_id} (token stored${n.telegram.token_sealed ? ', sealed in the key file' : ''}, never shown) `, h('button', { type: 'button', class: 'small danger', 'data-test': 'notify-remove-telegram', onclick: () => save({ remove_telegram: true }, 'Telegram removed') }, 'Remove')) : null,
        n.on ? h('div', { class: 'muted' }, `Kinds sent: ${n.kinds.join(', ')}`) : null,
      ].filter(Boolean));
    }
    async function load() {
      try {
        show(await api('GET', '/api/notify'));
      } catch (e) {
        err.textContent = e.message;
      }
    }
    async function save(body, done) {
      err.textContent = '';
      msg.textContent = '';
      try {
        show(await api('PUT', '/api/notify', body));
        url.value = headers.value = token.value = chat.value = '';
        msg.textContent = `${done}. The runner (ballast run, ballast serve) reads these settings when it starts.`;
      } catch (e) {
        err.textContent = e.message;
      }
    }
    const form = h(
      'form',
      {
        'data-test': 'notify-form',
        onsubmit: (e) => {
          e.preventDefault();
          const body = {};
          if (url.value.trim()) {
            body.webhook_url = url.value.trim();
            const hs = {};
            for (const line of headers.value.split('\n').map((l) => l.trim()).filter(Boolean)) {
              const i = line.indexOf(':');
              if (i <= 0) return void (err.textContent = `header "${line.slice(0, 40)}": expected "Name: value"`);
              hs[line.slice(0, i).trim()] = line.slice(i + 1).trim();
            }
            body.webhook_headers = hs;
          }
          if (token.value.trim()) body.telegram_token = token.value.trim();
          if (chat.value.trim()) body.telegram_chat = chat.value.trim();
          const k = kinds.value.split(',').map((x) => x.trim()).filter(Boolean);
          if (cur && k.join(',') !== (cur.kinds || []).join(',')) body.kinds = k;
          if (!Object.keys(body).length) return void (err.textContent = 'Nothing to change: give a webhook URL, a Telegram token and chat, or other kinds.');
          save(body, 'Notifications saved');
        },
      },
      h('div', { class: 'row narrow' }, field('notify-webhook', 'Webhook URL', url, 'Receives a JSON POST per event'), field('notify-headers', 'Webhook headers (one "Name: value" a line)', headers)),
      h('div', { class: 'row narrow' }, field('notify-telegram-token', 'Telegram bot token', token), field('notify-telegram-chat', 'Telegram chat id', chat)),
      h('div', { class: 'row narrow' }, field('notify-kinds', 'Event kinds, comma-separated', kinds, 'e.g. rebalance, guard, error, key_revoked, stop')),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', 'data-test': 'notify-save' }, 'Save notifications')),
    );
    load();
    return h('div', { class: 'panel', 'data-test': 'notify-panel' }, h('h3', {}, 'Notifications'), state, form, msg, err);
  }

  // Exchange keys (the encrypted key file through `KeyStore::put` / `forget`, the code
  // of `ballast keys add` / `remove`): write-only. The key file's passphrase is asked
  // for each change and not kept; a stored secret is never shown.
  function keysPanel() {
    const msg = h('div', { 'data-test': 'keys-msg', role: 'status' });
    const err = h('div', { class: 'error', 'data-test': 'keys-error', role: 'alert' });
    const fileNote = h('p', { class: 'muted', 'data-test': 'keys-file' });
    const list = h('tbody', { 'data-test': 'keys-list' });
    const venue = h('select', { 'data-test': 'key-venue' });
    const key = h('input', { type: 'text', 'data-test': 'key-api-key', autocomplete: 'off', spellcheck: 'false' });
    const secret = h('input', { type: 'password', 'data-test': 'key-secret', autocomplete: 'off' });
    const pass = h('input', { type: 'password', 'data-test': 'key-passphrase', autocomplete: 'off' });
    const pass2 = h('input', { type: 'password', 'data-test': 'key-passphrase2', autocomplete: 'off' });
    const pass2Field = field('key-passphrase2', 'Passphrase again (a new key file)', pass2);
    let fileExists = false;
    function showKeys(keys) {
      list.replaceChildren(
        ...keys.map((k) =>
          h(
            'tr',
            { 'data-test': `key-${k.venue}` },
            h('td', {}, k.venue),
            h('td', { class: 'mono' }, k.api_key),
            h('td', { class: 'num' }, h('button', { type: 'button', class: 'small danger', 'data-test': `key-delete-${k.venue}`, onclick: () => del(k.venue) }, 'Delete')),
          ),
        ),
      );
      if (!keys.length) list.replaceChildren(h('tr', {}, h('td', { colspan: 3, class: 'muted' }, 'No key stored.')));
    }
    function showFile(exists) {
      fileExists = exists;
      pass2Field.hidden = exists;
      fileNote.textContent = exists
        ? 'The key file exists: type its passphrase to store, replace, delete or list keys.'
        : 'No key file yet: the first key creates it, encrypted under the passphrase you choose (keep it: ballast asks for it at every start with live bots).';
    }
    async function load() {
      try {
        const r = await api('GET', '/api/keys');
        venue.replaceChildren(...r.venues.map((v) => h('option', { value: v }, v)));
        showFile(r.file);
      } catch (e) {
        err.textContent = e.message;
      }
    }
    function needPass() {
      if (!pass.value) {
        err.textContent = 'Type the key file\'s passphrase first.';
        pass.focus();
        return false;
      }
      return true;
    }
    async function del(v) {
      err.textContent = msg.textContent = '';
      if (!needPass() || !confirm(`Delete the ${v} key? Bots on ${v} cannot trade without one.`)) return;
      try {
        const r = await api('DELETE', `/api/keys/${encodeURIComponent(v)}`, { passphrase: pass.value });
        showKeys(r.keys);
        msg.textContent = `Deleted the ${v} key.`;
      } catch (e) {
        err.textContent = e.message;
      }
    }
    async function listKeys() {
      err.textContent = msg.textContent = '';
      if (!needPass()) return;
      try {
        showKeys((await api('POST', '/api/keys/list', { passphrase: pass.value })).keys);
      } catch (e) {
        err.textContent = e.message;
      }
    }
    const form = h(
      'form',
      {
        'data-test': 'keys-form',
        onsubmit: async (e) => {
          e.preventDefault();
          err.textContent = msg.textContent = '';
          if (!key.value.trim() || !secret.value.trim()) return void (err.textContent = 'Give the API key and its secret.');
          if (!needPass()) return;
          if (!fileExists && pass.value !== pass2.value) return void (err.textContent = 'The two passphrases differ.');
          try {
            const r = await api('PUT', `/api/keys/${encodeURIComponent(venue.value)}`, { api_key: key.value, secret: secret.value, passphrase: pass.value });
            key.value = secret.value = pass2.value = '';
            showKeys(r.keys);
            showFile(true);
            msg.textContent = `${r.replaced ? 'Replaced' : 'Stored'} the ${r.venue} key ${r.api_key}. Check what it may do: ballast keys check --venue ${r.venue}`;
          } catch (e2) {
            err.textContent = e2.message;
          }
        },
      },
      h('div', { class: 'row narrow' }, field('key-venue', 'Venue', venue), field('key-api-key', 'API key', key), field('key-secret', 'Secret', secret)),
      h('div', { class: 'row narrow' }, field('key-passphrase', 'Key file passphrase', pass), pass2Field),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', 'data-test': 'key-save' }, 'Store key'), h('button', { type: 'button', 'data-test': 'keys-show', onclick: listKeys }, 'Show stored keys')),
    );
    load();
    return h(
      'div',
      { class: 'panel', 'data-test': 'keys-panel' },
      h('h3', {}, 'Exchange keys'),
      fileNote,
      form,
      msg,
      err,
      h('div', { class: 'table-wrap' }, h('table', {}, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Venue'), h('th', { scope: 'col' }, 'API key (redacted)'), h('th', {}, h('span', { class: 'sr-only' }, 'Delete')))), list)),
    );
  }

  // The admin's password and authenticator, from a logged-in session. A lost
  // authenticator without a session: `ballast admin reset` (README).
  function accountPanel() {
    const msg = h('div', { 'data-test': 'account-msg', role: 'status' });
    const err = h('div', { class: 'error', 'data-test': 'account-error', role: 'alert' });
    const cur = h('input', { type: 'password', id: 'pw-current', 'data-test': 'pw-current', autocomplete: 'current-password' });
    const nw = h('input', { type: 'password', id: 'pw-new', 'data-test': 'pw-new', autocomplete: 'new-password' });
    const nw2 = h('input', { type: 'password', id: 'pw-new2', 'data-test': 'pw-new2', autocomplete: 'new-password' });
    const pwForm = h(
      'form',
      {
        onsubmit: async (e) => {
          e.preventDefault();
          err.textContent = '';
          msg.textContent = '';
          if (nw.value !== nw2.value) return void (err.textContent = 'The two new passwords differ.');
          try {
            await api('POST', '/api/account/password', { current: cur.value, new: nw.value });
            cur.value = nw.value = nw2.value = '';
            msg.textContent = 'Password changed; every other session has ended.';
          } catch (e2) {
            err.textContent = e2.message;
          }
        },
      },
      h('div', { class: 'row narrow' }, h('div', { class: 'field' }, h('label', { for: 'pw-current' }, 'Current password'), cur), h('div', { class: 'field' }, h('label', { for: 'pw-new' }, 'New password'), nw), h('div', { class: 'field' }, h('label', { for: 'pw-new2' }, 'New password again'), nw2)),
      h('div', { class: 'actions' }, h('button', { type: 'submit', 'data-test': 'pw-submit' }, 'Change the password')),
    );
    const enrolArea = h('div', { 'data-test': 'reenrol-area' });
    const rpw = h('input', { type: 'password', id: 'reenrol-password', 'data-test': 'reenrol-password', autocomplete: 'current-password' });
    const reForm = h(
      'form',
      {
        onsubmit: async (e) => {
          e.preventDefault();
          err.textContent = '';
          msg.textContent = '';
          try {
            const r = await api('POST', '/api/account/totp', { password: rpw.value });
            rpw.value = '';
            const box = enrolBox(
              r,
              async (code) => {
                await api('POST', '/api/account/totp/confirm', { code });
                enrolArea.replaceChildren();
                msg.textContent = 'The new authenticator is in force; the old one no longer works.';
              },
              'Check the code and switch',
            );
            enrolArea.replaceChildren(h('p', { class: 'muted' }, 'Scan the new code; the old authenticator stays in force until a code of the new one matches.'), box.form);
            box.focus();
          } catch (e2) {
            err.textContent = e2.message;
          }
        },
      },
      h('div', { class: 'row narrow' }, h('div', { class: 'field' }, h('label', { for: 'reenrol-password' }, 'Password'), rpw), h('div', { class: 'field', style: 'flex:0 0 auto' }, h('button', { type: 'submit', 'data-test': 'reenrol-start' }, 'Enrol a new authenticator'))),
    );
    return h('div', { class: 'panel', 'data-test': 'account' }, h('h3', {}, 'Password and two-factor code'), pwForm, reForm, enrolArea, msg, err);
  }

  boot();
})();
