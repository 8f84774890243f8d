// kidslearn analytics dashboard. Plain browser JavaScript, no build step.
// Signs an admin in (POST /auth/login), keeps the tokens in memory only (never
// in storage: a reload signs out), and draws the app's /admin/reports with
// Chart.js (served by this server, see dashboard.routes.ts). Relies only on
// the documented report shapes (docs/analytics.md).
'use strict';

(() => {
  // Everything is relative to where the page is served, so it also works under a path prefix (an API Gateway stage).
  const BASE = location.pathname.replace(/\/admin\/dashboard\/?$/, '');
  const DAY_MS = 86_400_000;
  /** A pending event older than this, or a flush older than this while events wait, is worth a look. */
  const STALE_MS = 10 * 60_000;
  const COLORS = { blue: '#3b6fe0', blueSoft: 'rgba(59,111,224,0.14)', orange: '#f08a24', green: '#1f9d6b', red: '#d0343f', grid: '#edf0f6', muted: '#647089' };

  const $ = (selector, root = document) => root.querySelector(selector);
  const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];
  const int = new Intl.NumberFormat('en');
  const dec1 = new Intl.NumberFormat('en', { maximumFractionDigits: 1 });
  const pct = (num, den) => (den > 0 ? `${dec1.format((100 * num) / den)}%` : '–');
  const dayLabel = new Intl.DateTimeFormat('en', { month: 'short', day: 'numeric', timeZone: 'UTC' });
  const dateTime = new Intl.DateTimeFormat('en', { dateStyle: 'medium', timeStyle: 'short' });
  const isoDay = (ms) => new Date(ms).toISOString().slice(0, 10);
  const shortDay = (day) => dayLabel.format(new Date(`${day}T00:00:00Z`));

  /** The session, in memory only. */
  const session = { appId: '', email: '', accessToken: '', refreshToken: '' };
  /** Charts drawn, by name, destroyed before they are drawn again. */
  const charts = new Map();
  /** Bumped on each load: answers to an older range are dropped. */
  let generation = 0;

  class ApiError extends Error {
    constructor(status, code, message, retryAfter) {
      super(message);
      this.status = status;
      this.code = code;
      this.retryAfter = retryAfter;
    }
  }

  /** One request to the API: JSON in and out, errors as ApiError with the server's code and message. */
  async function call(path, { method = 'GET', body, token } = {}) {
    const headers = { accept: 'application/json', 'x-app-id': session.appId };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token) headers.authorization = `Bearer ${token}`;
    let res;
    try {
      res = await fetch(BASE + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store', credentials: 'omit' });
    } catch {
      throw new ApiError(0, 'network', 'The server could not be reached.');
    }
    const text = await res.text();
    let json;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const error = json && json.error ? json.error : { code: `http_${res.status}`, message: res.statusText || 'Request failed' };
      throw new ApiError(res.status, error.code, error.message, Number(res.headers.get('retry-after')) || undefined);
    }
    return json;
  }

  let refreshing;
  /** Exchanges the refresh token once for every request that met a 401 at the same time. */
  function refresh() {
    refreshing ??= call('/auth/refresh', { method: 'POST', body: { refreshToken: session.refreshToken } })
      .then((pair) => {
        session.accessToken = pair.accessToken;
        session.refreshToken = pair.refreshToken;
      })
      .finally(() => {
        refreshing = undefined;
      });
    return refreshing;
  }

  /** A signed-in GET: on 401 the tokens are refreshed once; if that fails too, the page asks to sign in again. */
  async function get(path) {
    const used = session.accessToken;
    try {
      return await call(path, { token: used });
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 401 || !session.refreshToken) throw error;
      try {
        // Another request may have refreshed already: then only the retry is needed.
        if (session.accessToken === used) await refresh();
      } catch {
        signOut('Your session has ended. Please sign in again.');
        throw error;
      }
      return call(path, { token: session.accessToken });
    }
  }

  function describe(error) {
    if (!(error instanceof ApiError)) return `Something went wrong: ${error && error.message ? error.message : String(error)}`;
    if (error.status === 0) return error.message;
    return `${error.message} (HTTP ${error.status}, ${error.code})`;
  }

  // ---------------------------------------------------------------- sign-in

  function showSignIn(message) {
    $('#dashboard').hidden = true;
    $('#who').hidden = true;
    $('#sign-in').hidden = false;
    const text = $('#sign-in-error');
    text.textContent = message || '';
    text.hidden = !message;
  }

  function signOut(message) {
    const refreshToken = session.refreshToken;
    if (refreshToken) call('/auth/logout', { method: 'POST', body: { refreshToken } }).catch(() => {});
    session.accessToken = '';
    session.refreshToken = '';
    generation++;
    for (const chart of charts.values()) chart.destroy();
    charts.clear();
    for (const card of $$('[data-report]')) {
      card.dataset.state = 'idle';
      delete card.dataset.rows;
      $('.status', card).textContent = '';
    }
    showSignIn(message);
  }

  async function onSignIn(event) {
    event.preventDefault();
    const form = event.currentTarget;
    const appId = form.appId.value.trim();
    const email = form.email.value.trim();
    const password = form.password.value;
    if (!appId || !email || !password) {
      showSignIn('Enter the app id, your email and your password.');
      return;
    }
    const button = $('#sign-in-button');
    button.disabled = true;
    button.textContent = 'Signing in…';
    session.appId = appId;
    try {
      const signedIn = await call('/auth/login', { method: 'POST', body: { email, password } });
      session.email = email;
      session.accessToken = signedIn.accessToken;
      session.refreshToken = signedIn.refreshToken;
      form.password.value = '';
      $('#sign-in-error').hidden = true;
      $('#sign-in').hidden = true;
      $('#who-text').textContent = `${email} · ${appId}`;
      $('#who').hidden = false;
      $('#dashboard').hidden = false;
      load();
    } catch (error) {
      let message = describe(error);
      if (error instanceof ApiError && error.code === 'invalid_credentials') message = 'Wrong email or password.';
      else if (error instanceof ApiError && error.status === 429) message = `Too many attempts. Try again${error.retryAfter ? ` in ${error.retryAfter} s` : ' later'}.`;
      else if (error instanceof ApiError && error.status === 404) message = `No app “${appId}” here: ${error.message}`;
      showSignIn(message);
    } finally {
      button.disabled = false;
      button.textContent = 'Sign in';
    }
  }

  // ---------------------------------------------------------------- range

  function setRange(days) {
    const today = Date.now();
    $('#to').value = isoDay(today);
    $('#from').value = isoDay(today - (days - 1) * DAY_MS);
  }

  /** Marks the quick-range button matching the chosen range, if any. */
  function markPreset() {
    const from = $('#from').value;
    const to = $('#to').value;
    for (const button of $$('.presets button')) {
      const days = Number(button.dataset.days);
      const pressed = to === isoDay(Date.now()) && from === isoDay(Date.now() - (days - 1) * DAY_MS);
      button.setAttribute('aria-pressed', String(pressed));
    }
  }

  function onRange(event) {
    event.preventDefault();
    load();
  }

  // ---------------------------------------------------------------- drawing

  function card(name) {
    return $(`[data-report="${name}"]`);
  }

  function setState(name, state, message, rows) {
    const el = card(name);
    el.dataset.state = state;
    if (rows !== undefined) el.dataset.rows = String(rows);
    else delete el.dataset.rows;
    $('.status', el).textContent = message || '';
  }

  function draw(name, config) {
    charts.get(name)?.destroy();
    const canvas = $(`canvas[data-chart="${name}"]`);
    charts.set(name, new Chart(canvas, config));
  }

  function axis(title, extra = {}) {
    return { title: { display: true, text: title, color: COLORS.muted }, grid: { color: COLORS.grid }, ...extra };
  }

  const countAxis = (title) => axis(title, { beginAtZero: true, ticks: { precision: 0 } });

  function renderActive(body) {
    const rows = body.rows;
    // The 7 days ending on the range's last day: one quiet day does not read as "nobody".
    $('[data-kpi="active"]').textContent = rows.length ? int.format(rows[rows.length - 1].weekly) : '–';
    if (!rows.some((r) => r.daily > 0 || r.weekly > 0)) return ['empty', `No learner was active from ${body.from} to ${body.to}.`];
    draw('active-learners', {
      type: 'line',
      data: {
        labels: rows.map((r) => shortDay(r.day)),
        datasets: [
          { label: 'Daily active', data: rows.map((r) => r.daily), borderColor: COLORS.blue, backgroundColor: COLORS.blueSoft, fill: true, cubicInterpolationMode: 'monotone', pointRadius: 2 },
          { label: 'Weekly active (7 days)', data: rows.map((r) => r.weekly), borderColor: COLORS.orange, backgroundColor: COLORS.orange, cubicInterpolationMode: 'monotone', pointRadius: 0, borderDash: [6, 4] },
        ],
      },
      options: { scales: { x: axis('Day (UTC)', { ticks: { maxTicksLimit: 12 } }), y: countAxis('Learners') } },
    });
    return ['ready'];
  }

  function renderAccuracy(body) {
    const byConcept = new Map();
    for (const r of body.rows) {
      const c = byConcept.get(r.conceptId) ?? { answers: 0, correct: 0 };
      c.answers += r.answers;
      c.correct += r.correct;
      byConcept.set(r.conceptId, c);
    }
    const concepts = [...byConcept].filter(([, c]) => c.answers > 0).map(([id, c]) => ({ id, ...c, accuracy: c.correct / c.answers }));
    concepts.sort((a, b) => a.accuracy - b.accuracy || a.id.localeCompare(b.id));
    const answers = concepts.reduce((s, c) => s + c.answers, 0);
    const correct = concepts.reduce((s, c) => s + c.correct, 0);
    $('[data-kpi="answers"]').textContent = int.format(answers);
    $('[data-kpi="accuracy"]').textContent = pct(correct, answers);
    if (!concepts.length) return ['empty', `No answers were recorded from ${body.from} to ${body.to}.`];
    draw('accuracy', {
      type: 'bar',
      data: {
        labels: concepts.map((c) => c.id),
        datasets: [
          {
            label: 'Accuracy',
            data: concepts.map((c) => Math.round(c.accuracy * 1000) / 10),
            backgroundColor: concepts.map((c) => (c.accuracy < 0.6 ? COLORS.red : c.accuracy < 0.8 ? COLORS.orange : COLORS.green)),
            borderRadius: 4,
          },
        ],
      },
      options: {
        indexAxis: 'y',
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: { label: (ctx) => `${ctx.parsed.x}% of ${int.format(concepts[ctx.dataIndex].answers)} answers` } },
        },
        scales: { x: axis('Correct answers (%)', { min: 0, max: 100, ticks: { callback: (v) => `${v}%` } }), y: axis('Concept', { grid: { display: false } }) },
      },
    });
    return ['ready'];
  }

  function renderFunnel(body) {
    const rows = [...body.rows].sort((a, b) => b.started - a.started || a.lessonId.localeCompare(b.lessonId));
    const totals = body.totals ?? { started: rows.reduce((s, r) => s + r.started, 0), completed: rows.reduce((s, r) => s + r.completed, 0) };
    $('[data-total="started"]').textContent = int.format(totals.started);
    $('[data-total="completed"]').textContent = int.format(totals.completed);
    $('[data-total="completionRate"]').textContent = pct(totals.completed, totals.started);
    $('[data-kpi="completion"]').textContent = pct(totals.completed, totals.started);
    if (!rows.length) return ['empty', `No lesson was started from ${body.from} to ${body.to}.`];
    draw('funnel', {
      type: 'bar',
      data: {
        labels: rows.map((r) => r.lessonId),
        datasets: [
          { label: 'Started', data: rows.map((r) => r.started), backgroundColor: COLORS.blue, borderRadius: 4 },
          { label: 'Completed', data: rows.map((r) => r.completed), backgroundColor: COLORS.green, borderRadius: 4 },
        ],
      },
      options: {
        plugins: { tooltip: { callbacks: { footer: (items) => `Completion: ${pct(rows[items[0].dataIndex].completed, rows[items[0].dataIndex].started)}` } } },
        scales: { x: axis('Lesson', { grid: { display: false } }), y: countAxis('Learners') },
      },
    });
    return ['ready'];
  }

  function renderMastery(body) {
    const rows = body.rows;
    const pairs = rows.reduce((s, r) => s + r.count, 0);
    const threshold = typeof body.threshold === 'number' ? body.threshold : undefined;
    $('[data-total="mastered"]').textContent = typeof body.mastered === 'number' ? int.format(body.mastered) : '–';
    $('[data-total="threshold"]').textContent = threshold === undefined ? '–' : `≥ ${dec1.format(threshold * 100)}%`;
    $('[data-total="pairs"]').textContent = int.format(pairs);
    if (!pairs) return ['empty', `No mastery estimate exists up to ${body.to}: no answers were recorded yet.`];
    const shade = (i) => `hsl(${20 + (i * 130) / Math.max(1, rows.length - 1)}, 62%, 48%)`;
    draw('mastery', {
      type: 'bar',
      data: {
        labels: rows.map((r) => `${Math.round(r.from * 100)}–${Math.round(r.to * 100)}%`),
        datasets: [{ label: 'Learner × concepts', data: rows.map((r) => r.count), backgroundColor: rows.map((_, i) => shade(i)), borderRadius: 3, categoryPercentage: 0.95, barPercentage: 0.95 }],
      },
      options: { plugins: { legend: { display: false } }, scales: { x: axis('Mastery (latest estimate)', { grid: { display: false } }), y: countAxis('Learner × concepts') } },
    });
    return ['ready'];
  }

  function renderSessions(body) {
    const rows = body.rows;
    const learnerDays = rows.reduce((s, r) => s + r.learners, 0);
    const minutes = rows.reduce((s, r) => s + r.minutes, 0);
    $('[data-kpi="minutes"]').textContent = learnerDays ? dec1.format(minutes / learnerDays) : '–';
    if (!rows.some((r) => r.sessions > 0)) return ['empty', `No session was recorded from ${body.from} to ${body.to}.`];
    draw('sessions', {
      data: {
        labels: rows.map((r) => shortDay(r.day)),
        datasets: [
          { type: 'bar', label: 'Sessions per learner', data: rows.map((r) => r.sessionsPerLearner), backgroundColor: COLORS.blueSoft, borderColor: COLORS.blue, borderWidth: 1, yAxisID: 'y' },
          { type: 'line', label: 'Minutes per learner', data: rows.map((r) => r.minutesPerLearner), borderColor: COLORS.orange, backgroundColor: COLORS.orange, cubicInterpolationMode: 'monotone', pointRadius: 2, yAxisID: 'y1' },
        ],
      },
      options: {
        scales: {
          x: axis('Day (UTC)', { grid: { display: false }, ticks: { maxTicksLimit: 12 } }),
          y: axis('Sessions per learner', { beginAtZero: true, position: 'left' }),
          y1: axis('Minutes per learner', { beginAtZero: true, position: 'right', grid: { display: false } }),
        },
      },
    });
    return ['ready'];
  }

  function renderErrors(body) {
    const tbody = $('[data-table="errors"] tbody');
    tbody.replaceChildren();
    for (const r of body.rows) {
      const tr = document.createElement('tr');
      const cell = (text, className) => {
        const td = document.createElement('td');
        td.textContent = text;
        if (className) td.className = className;
        tr.append(td);
      };
      cell(r.code);
      cell(int.format(r.events), 'num');
      cell(int.format(r.learners), 'num');
      cell(int.format(r.fatal), r.fatal > 0 ? 'num fatal' : 'num');
      tbody.append(tr);
    }
    if (!body.rows.length) return ['empty', `No app errors were reported from ${body.from} to ${body.to}.`];
    return ['ready'];
  }

  function ago(iso, now) {
    if (!iso) return 'never';
    const ms = Math.max(0, now - Date.parse(iso));
    if (ms < 60_000) return `${Math.round(ms / 1000)} s ago`;
    if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min ago`;
    if (ms < DAY_MS) return `${dec1.format(ms / 3_600_000)} h ago`;
    return dateTime.format(new Date(iso));
  }

  function bytes(n) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let value = n;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit++;
    }
    return `${unit ? dec1.format(value) : int.format(value)} ${units[unit]}`;
  }

  function renderLake(status) {
    const now = Date.now();
    const el = card('lake-status');
    const field = (name, text, level) => {
      const box = $(`[data-field="${name}"]`, el);
      $('dd', box).textContent = text;
      box.classList.toggle('alert', level === 'alert');
      box.classList.toggle('warning', level === 'warning');
    };
    const pendingAge = status.oldestPendingAt ? now - Date.parse(status.oldestPendingAt) : 0;
    const staleBacklog = status.backlog > 0 && pendingAge > STALE_MS;
    const staleFlush = status.backlog > 0 && (!status.lastFlushAt || now - Date.parse(status.lastFlushAt) > STALE_MS);
    field('backlog', `${int.format(status.backlog)} events`, staleBacklog ? 'warning' : undefined);
    field('oldestPendingAt', status.oldestPendingAt ? ago(status.oldestPendingAt, now) : 'none waiting', staleBacklog ? 'warning' : undefined);
    field('lastFlushAt', ago(status.lastFlushAt, now), staleFlush ? 'warning' : undefined);
    field('lastFlushEvents', status.lastFlushEvents === null || status.lastFlushEvents === undefined ? '–' : int.format(status.lastFlushEvents));
    field('deadLetters', int.format(status.deadLetters), status.deadLetters > 0 ? 'alert' : undefined);
    field('files', int.format(status.files));
    field('bytes', bytes(status.bytes));
    const problems = [];
    if (status.deadLetters > 0) problems.push(`${int.format(status.deadLetters)} dead letter${status.deadLetters === 1 ? '' : 's'}: events the writer could not store; inspect and redrive them`);
    if (staleBacklog) problems.push(`the oldest pending event has waited ${ago(status.oldestPendingAt, now).replace(' ago', '')}; is the lake writer running`);
    else if (staleFlush) problems.push('events are waiting and the writer has not flushed recently; is the lake writer running');
    el.dataset.health = status.deadLetters > 0 ? 'alert' : problems.length ? 'warning' : 'ok';
    return ['ready', problems.length ? `Needs attention — ${problems.join('. Also, ')}${staleBacklog || staleFlush ? '?' : '.'}` : 'Healthy: no dead letters, and the backlog is moving.'];
  }

  const REPORTS = [
    { name: 'active-learners', path: '/admin/reports/active-learners', render: renderActive },
    { name: 'accuracy', path: '/admin/reports/accuracy', render: renderAccuracy },
    { name: 'funnel', path: '/admin/reports/funnel', render: renderFunnel },
    { name: 'mastery', path: '/admin/reports/mastery', render: renderMastery },
    { name: 'sessions', path: '/admin/reports/sessions', render: renderSessions },
    { name: 'errors', path: '/admin/reports/errors', render: renderErrors },
    { name: 'lake-status', path: '/admin/lake/status', render: renderLake, ranged: false },
  ];

  /** Loads every report for the chosen range, each on its own: one failing shows its error and leaves the others drawn. */
  function load() {
    const from = $('#from').value;
    const to = $('#to').value;
    const rangeError = $('#range-error');
    if (!from || !to || from > to) {
      rangeError.textContent = 'Choose a range whose start is not after its end.';
      rangeError.hidden = false;
      return;
    }
    rangeError.hidden = true;
    markPreset();
    const days = Math.round((Date.parse(to) - Date.parse(from)) / DAY_MS) + 1;
    $('#range-note').textContent = `${shortDay(from)} – ${shortDay(to)} ${to.slice(0, 4)} · ${days} day${days === 1 ? '' : 's'}, UTC`;
    const mine = ++generation;
    const query = `?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`;
    for (const report of REPORTS) {
      setState(report.name, 'loading', 'Loading…');
      get(report.path + (report.ranged === false ? '' : query))
        .then((body) => {
          if (mine !== generation) return;
          const rows = Array.isArray(body.rows) ? body.rows.length : undefined;
          const [state, message] = report.render(body);
          setState(report.name, state, message, rows);
        })
        .catch((error) => {
          if (mine !== generation) return;
          if (error instanceof ApiError && error.status === 403) {
            // Signed in, but not as an admin: every report would say the same.
            signOut(`${session.email} is not an admin of “${session.appId}”: the reports are for the app’s admins. Sign in with an admin account.`);
            return;
          }
          charts.get(report.name)?.destroy();
          charts.delete(report.name);
          setState(report.name, 'error', `Could not load this report. ${describe(error)}`);
        });
    }
  }

  // ---------------------------------------------------------------- start

  function start() {
    Chart.defaults.font.family = getComputedStyle(document.documentElement).fontFamily;
    Chart.defaults.color = COLORS.muted;
    Chart.defaults.animation = false;
    Chart.defaults.responsive = true;
    Chart.defaults.maintainAspectRatio = false;
    Chart.defaults.plugins.legend.labels.boxWidth = 14;
    Chart.defaults.plugins.legend.position = 'bottom';
    setRange(30);
    $('#sign-in-form').addEventListener('submit', onSignIn);
    $('#range-form').addEventListener('submit', onRange);
    $('#sign-out').addEventListener('click', () => signOut());
    for (const button of $$('.presets button')) {
      button.addEventListener('click', () => {
        setRange(Number(button.dataset.days));
        load();
      });
    }
    showSignIn();
  }

  start();
})();
