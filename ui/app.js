// The review page: lines, training photos and builds, banks with their validation figures, the
// noise report gallery, validation photos, and inspection with a threshold slider. Plain DOM,
// hash routes (#/, #/lines/<id>/<tab>), everything from this service's own API.
import { api, apiKey, blobUrl, setUnauthorizedHandler, upload } from './api.js';

const STAGES = ['queued', 'embedding', 'denoising', 'coreset', 'calibrating', 'writing', 'done'];
const TABS = [
  ['train', 'Train'],
  ['banks', 'Banks'],
  ['noise', 'Noise report'],
  ['validation', 'Validation photos'],
  ['inspect', 'Inspect'],
  ['settings', 'Settings'],
];
const UPLOAD_CHUNK = 100;

// ---------- small DOM helpers ----------

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, v);
  }
  append(el, children);
  return el;
}

/** Children without the null / false placeholders of conditional parts. */
function kids(...children) {
  return children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false);
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const fmt = (v, digits = 1) =>
  typeof v === 'number' && Number.isFinite(v)
    ? v.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : '–';
const pct = (v) => (typeof v === 'number' ? `${(100 * v).toFixed(1)} %` : '–');
const when = (iso) => (iso ? new Date(iso).toLocaleString() : '–');
const short = (id) => (id ? `${id.slice(0, 6)}…${id.slice(-4)}` : '');

function toast(message, kind = 'error') {
  const t = h('div', { class: `toast ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message);
  const box = document.getElementById('toasts');
  box.append(t);
  while (box.children.length > 3) box.firstElementChild.remove();
  setTimeout(() => t.remove(), kind === 'error' ? 9000 : 4000);
}

/** Runs `fn`, showing the service's message when it fails; returns its result or undefined. */
async function attempt(fn, what) {
  try {
    return await fn();
  } catch (err) {
    if (err.status !== 401) toast(`${what}: ${err.message}${err.code ? ` (${err.code})` : ''}`);
    return undefined;
  }
}

function card(title, ...body) {
  return h('section', { class: 'card' }, title ? h('h2', {}, title) : null, ...body);
}

function progressBar(share, label) {
  const bar = h(
    'div',
    { class: 'progress', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100 },
    h('div', { class: 'fill' }),
    h('span', { class: 'label' }),
  );
  setProgress(bar, share, label);
  return bar;
}

function setProgress(bar, share, label) {
  const p = Math.max(0, Math.min(1, share || 0));
  bar.querySelector('.fill').style.width = `${(100 * p).toFixed(1)}%`;
  bar.querySelector('.label').textContent = label ?? '';
  bar.setAttribute('aria-valuenow', String(Math.round(100 * p)));
}

function dropZone({ title, hint, onFiles, id }) {
  const input = h('input', {
    type: 'file',
    accept: 'image/png,image/jpeg,image/webp,image/tiff,image/bmp',
    multiple: true,
    hidden: true,
    id,
  });
  const zone = h(
    'div',
    { class: 'drop', tabindex: 0, role: 'button' },
    h('div', { class: 'drop-icon', 'aria-hidden': 'true' }, '⇪'),
    h('strong', {}, title),
    h('span', { class: 'muted' }, hint),
    input,
  );
  const take = (files) => {
    const images = [...files].filter((f) => f.type.startsWith('image/') || /\.(png|jpe?g|webp|tiff?|bmp)$/i.test(f.name));
    if (images.length) onFiles(images);
  };
  zone.addEventListener('click', () => input.click());
  zone.addEventListener('keydown', (e) => (e.key === 'Enter' || e.key === ' ') && input.click());
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    take(e.dataTransfer.files);
  });
  input.addEventListener('change', () => {
    take(input.files);
    input.value = '';
  });
  return zone;
}

/** Loads images when they come near the viewport: a noise report may hold hundreds of photos. */
const lazy = new IntersectionObserver(
  (entries) => {
    for (const e of entries) {
      if (!e.isIntersecting) continue;
      lazy.unobserve(e.target);
      e.target.load();
    }
  },
  { rootMargin: '600px' },
);

/**
 * An <img> filled from an authenticated URL once it is near the viewport (`fallback` when the
 * first one fails); object URLs are revoked when the page changes.
 */
function authImage(path, attrs = {}, fallback = null) {
  const img = h('img', { alt: '', ...attrs, class: `${attrs.class ?? ''} loading` });
  const token = page.token;
  const fill = (p) =>
    blobUrl(p).then((url) => {
      if (token !== page.token) return URL.revokeObjectURL(url);
      page.urls.push(url);
      img.src = url;
      img.classList.remove('loading');
    });
  img.load = () =>
    fill(path)
      .catch(() => (fallback ? fill(fallback) : Promise.reject()))
      .catch(() => img.classList.add('broken'));
  lazy.observe(img);
  return img;
}

// ---------- page lifecycle ----------

const page = { timers: [], urls: [], token: 0 };

function resetPage() {
  page.timers.forEach(clearInterval);
  page.urls.forEach((u) => URL.revokeObjectURL(u));
  page.timers = [];
  page.urls = [];
  page.token++;
}

function every(ms, fn) {
  const t = setInterval(fn, ms);
  page.timers.push(t);
  return t;
}

function crumbs(...items) {
  const nav = document.getElementById('crumbs');
  nav.replaceChildren(
    ...kids(
      ...items.flatMap((it, i) => [
        i ? h('span', { class: 'sep' }, '/') : null,
        it.href ? h('a', { href: it.href }, it.text) : h('span', {}, it.text),
      ]),
    ),
  );
}

async function render() {
  resetPage();
  const view = document.getElementById('view');
  document.getElementById('key-button').hidden = !apiKey.get();
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  view.replaceChildren(...kids(h('p', { class: 'muted pad' }, 'Loading…')));
  if (parts[0] === 'lines' && parts[1]) await linePage(view, parts[1], parts[2] ?? 'train', parts.slice(3));
  else await linesPage(view);
}

// ---------- lines ----------

async function linesPage(view) {
  crumbs({ text: 'Lines' });
  const token = page.token;
  const data = await attempt(() => api('GET', '/v1/lines'), 'Could not list the lines');
  if (token !== page.token) return;
  const list = data ? data.lines : [];
  const table = list.length
    ? h(
        'table',
        { class: 'table', id: 'lines-table' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Line', 'Training photos', 'Active bank', 'Last build', 'Created'].map((t) => h('th', {}, t)),
          ),
        ),
        h(
          'tbody',
          {},
          list.map((l) =>
            h(
              'tr',
              { class: 'clickable', onclick: () => (location.hash = `#/lines/${l.id}`) },
              h('td', {}, h('a', { href: `#/lines/${l.id}` }, h('strong', {}, l.name)), h('div', { class: 'muted mono' }, l.id)),
              h('td', {}, String(l.images)),
              h('td', {}, l.activeBank ? h('span', { class: 'chip ok' }, `v${l.activeBank}`) : h('span', { class: 'muted' }, 'none')),
              h('td', {}, l.lastBuild ? statusChip(l.lastBuild.status) : h('span', { class: 'muted' }, '–')),
              h('td', { class: 'muted' }, when(l.createdAt)),
            ),
          ),
        ),
      )
    : h('p', { class: 'empty' }, 'No product line yet. Create the first one below.');

  const form = h(
    'form',
    { class: 'form-row', id: 'create-line' },
    h(
      'label',
      {},
      'Id',
      h('input', {
        name: 'id',
        required: true,
        pattern: '[a-z0-9][a-z0-9_\\-]{0,63}',
        placeholder: 'bottle',
        title: 'a-z, 0-9, "_" or "-"',
      }),
    ),
    h('label', {}, 'Name', h('input', { name: 'name', placeholder: 'Bottles, station 3' })),
    h('label', {}, 'Method', methodSelect('softpatch')),
    h('button', { class: 'primary', type: 'submit' }, 'Create line'),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = new FormData(form);
    const body = { id: f.get('id'), config: { method: f.get('method') } };
    if (f.get('name')) body.name = f.get('name');
    const line = await attempt(() => api('POST', '/v1/lines', body), 'Could not create the line');
    if (line) {
      toast(`Line "${line.id}" created`, 'ok');
      location.hash = `#/lines/${line.id}/train`;
    }
  });
  view.replaceChildren(...kids(h('div', { class: 'page' }, h('h1', {}, 'Product lines'), card(null, table), card('New line', form))));
}

function methodSelect(value) {
  return h(
    'select',
    { name: 'method' },
    ['softpatch', 'softpatch+', 'patchcore'].map((m) => h('option', { value: m, selected: m === value }, m)),
  );
}

function statusChip(status) {
  const kind = { succeeded: 'ok', failed: 'bad', cancelled: 'muted', running: 'run', queued: 'run' }[status] ?? 'muted';
  return h('span', { class: `chip ${kind}` }, status);
}

// ---------- one line ----------

async function linePage(view, id, tab, rest) {
  const token = page.token;
  const line = await attempt(() => api('GET', `/v1/lines/${encodeURIComponent(id)}`), 'Could not open the line');
  if (token !== page.token) return;
  if (!line) {
    view.replaceChildren(
      ...kids(
        h(
          'div',
          { class: 'page' },
          h('p', { class: 'empty' }, 'This line could not be loaded. ', h('a', { href: '#/' }, 'Back to the lines')),
        ),
      ),
    );
    return;
  }
  crumbs(
    { text: 'Lines', href: '#/' },
    { text: line.name, href: `#/lines/${line.id}` },
    { text: TABS.find((t) => t[0] === tab)?.[1] ?? tab },
  );
  const head = h(
    'div',
    { class: 'line-head' },
    h('div', {}, h('h1', {}, line.name), h('div', { class: 'muted mono' }, line.id)),
    h(
      'div',
      { class: 'stats' },
      stat('Training photos', line.images),
      stat(
        'Active bank',
        line.activeBank ? `v${line.activeBank.version} · ${line.activeBank.method}` : 'none',
        { 90: 'photos learnt at every 90°', 180: 'photos learnt at 0° and 180°' }[line.activeBank?.turns?.learned],
      ),
      stat('Threshold', line.threshold === null ? '–' : fmt(line.threshold), line.config.threshold.policy),
      stat('Last build', line.lastBuild ? line.lastBuild.status : '–'),
    ),
  );
  const tabs = h(
    'nav',
    { class: 'tabs', role: 'tablist' },
    TABS.map(([key, label]) =>
      h(
        'a',
        { href: `#/lines/${line.id}/${key}`, class: key === tab ? 'active' : '', role: 'tab', 'aria-selected': String(key === tab) },
        label,
      ),
    ),
  );
  const body = h('div', { class: 'tab-body' });
  view.replaceChildren(...kids(h('div', { class: 'page' }, head, tabs, body)));
  const pages = {
    train: trainTab,
    banks: banksTab,
    noise: noiseTab,
    validation: validationTab,
    inspect: inspectTab,
    settings: settingsTab,
  };
  await (pages[tab] ?? trainTab)(body, line, rest);
}

function stat(label, value, sub) {
  return h(
    'div',
    { class: 'stat' },
    h('span', { class: 'stat-label' }, label),
    h('span', { class: 'stat-value' }, String(value)),
    sub ? h('span', { class: 'stat-sub' }, sub) : null,
  );
}

const linePath = (line, rest = '') => `/v1/lines/${encodeURIComponent(line.id)}${rest}`;

/** Uploads in chunks of UPLOAD_CHUNK files with one progress bar over all of them. */
async function uploadAll(path, files, bar) {
  const total = files.reduce((s, f) => s + f.size, 0) || 1;
  let sent = 0;
  const sum = { stored: 0, duplicates: 0, rejected: 0, reasons: [] };
  for (let i = 0; i < files.length; i += UPLOAD_CHUNK) {
    const chunk = files.slice(i, i + UPLOAD_CHUNK);
    const size = chunk.reduce((s, f) => s + f.size, 0);
    const r = await upload(path, chunk, (p) =>
      setProgress(bar, (sent + p * size) / total, `Uploading ${Math.min(files.length, i + chunk.length)} of ${files.length}…`),
    );
    sent += size;
    sum.stored += r.stored;
    sum.duplicates += r.duplicates;
    sum.rejected += r.rejected;
    for (const f of r.files) if (f.status === 'rejected') sum.reasons.push(`${f.filename}: ${f.reason}`);
  }
  setProgress(bar, 1, `${sum.stored} stored, ${sum.duplicates} already there, ${sum.rejected} rejected`);
  return sum;
}

// ---------- train: upload and builds ----------

async function trainTab(body, line) {
  const bar = progressBar(0, '');
  bar.hidden = true;
  const count = h('span', { class: 'muted' }, `${line.images} photos in the training set`);
  const zone = dropZone({
    id: 'train-files',
    title: 'Drop training photos here',
    hint: 'or click to choose files: unlabelled, a few defective ones are fine',
    onFiles: async (files) => {
      bar.hidden = false;
      const r = await attempt(() => uploadAll(linePath(line, '/images'), files, bar), 'Upload failed');
      if (!r) return;
      toast(
        `${r.stored} photos stored${r.duplicates ? `, ${r.duplicates} duplicates` : ''}${r.rejected ? `, ${r.rejected} rejected` : ''}`,
        r.rejected ? 'error' : 'ok',
      );
      for (const reason of r.reasons.slice(0, 3)) toast(reason);
      const fresh = await attempt(() => api('GET', linePath(line, '/images?limit=1')), 'Could not count the photos');
      if (fresh) count.textContent = `${fresh.total} photos in the training set`;
    },
  });

  const status = h('div', { class: 'build-status', id: 'build-status' });
  const startBtn = h('button', { class: 'primary', type: 'button', id: 'start-build' }, 'Start build');
  const cancelBtn = h('button', { class: 'danger', type: 'button', id: 'cancel-build', hidden: true }, 'Cancel build');
  const history = h('div', {});

  const showHistory = async () => {
    const data = await attempt(() => api('GET', linePath(line, '/builds')), 'Could not list the builds');
    if (!data) return [];
    history.replaceChildren(
      ...kids(
        data.builds.length
          ? h(
              'table',
              { class: 'table compact' },
              h(
                'thead',
                {},
                h(
                  'tr',
                  {},
                  ['Build', 'Status', 'Started', 'Photos', 'Bank', 'Time'].map((t) => h('th', {}, t)),
                ),
              ),
              h(
                'tbody',
                {},
                data.builds
                  .slice(0, 8)
                  .map((b) =>
                    h(
                      'tr',
                      {},
                      h('td', { class: 'mono' }, b.id.slice(0, 12)),
                      h('td', {}, statusChip(b.status), b.error ? h('div', { class: 'muted small' }, b.error.message) : null),
                      h('td', { class: 'muted' }, when(b.startedAt ?? b.createdAt)),
                      h('td', {}, String(b.images)),
                      h('td', {}, b.bankVersion ? `v${b.bankVersion}` : '–'),
                      h(
                        'td',
                        {},
                        b.timingsMs && b.startedAt && b.finishedAt
                          ? `${((Date.parse(b.finishedAt) - Date.parse(b.startedAt)) / 1000).toFixed(1)} s`
                          : '–',
                      ),
                    ),
                  ),
              ),
            )
          : h('p', { class: 'muted' }, 'No build yet.'),
      ),
    );
    return data.builds;
  };

  let watching = null;
  const watch = (build) => {
    if (watching) clearInterval(watching);
    drawBuild(status, build);
    startBtn.disabled = true;
    cancelBtn.hidden = false;
    cancelBtn.onclick = async () => {
      cancelBtn.disabled = true;
      await attempt(() => api('POST', linePath(line, `/builds/${build.id}/cancel`)), 'Could not cancel');
    };
    watching = every(400, async () => {
      const b = await api('GET', linePath(line, `/builds/${build.id}`)).catch(() => null);
      if (!b) return;
      drawBuild(status, b);
      if (!['queued', 'running'].includes(b.status)) {
        clearInterval(watching);
        watching = null;
        startBtn.disabled = false;
        cancelBtn.hidden = true;
        cancelBtn.disabled = false;
        if (b.status === 'succeeded') toast(`Build finished: bank v${b.bankVersion} is active`, 'ok');
        else if (b.status === 'failed') toast(`Build failed: ${b.error?.message ?? ''}`);
        // The line's figures (active bank, threshold) changed: draw the page again.
        render();
      }
    });
  };
  startBtn.addEventListener('click', async () => {
    const b = await attempt(() => api('POST', linePath(line, '/builds')), 'Could not start the build');
    if (b) watch(b);
  });

  body.replaceChildren(
    ...kids(
      h(
        'div',
        { class: 'grid two' },
        card('Training photos', zone, bar, h('p', {}, count)),
        card(
          'Build a bank',
          h(
            'p',
            { class: 'muted' },
            `Method ${line.config.method}, τ ${line.config.removalQuantile}, ρ ${line.config.coresetRatio}, ${line.config.resize ?? 'original'} / ${line.config.crop ?? 'whole frame'}${{ auto: ', photos also turned where they show parts at any angle', 180: ', photos also turned by 180°', 90: ', photos also turned by 90°, 180° and 270°' }[line.config.trainRotations] ?? ''}${line.config.align === 'axis' ? ', parts aligned on their axis' : ''}. `,
            h('a', { href: `#/lines/${line.id}/settings` }, 'Change'),
          ),
          h('div', { class: 'actions' }, startBtn, cancelBtn),
          status,
        ),
      ),
      card('Recent builds', history),
    ),
  );
  const builds = await showHistory();
  const live = builds.find((b) => ['queued', 'running'].includes(b.status));
  if (live) watch(live);
  else if (builds[0]) drawBuild(status, builds[0]);
}

function drawBuild(el, b) {
  const at = STAGES.indexOf(b.stage);
  const finished = !['queued', 'running'].includes(b.status);
  const steps = h(
    'ol',
    { class: 'stages' },
    STAGES.slice(1).map((s, i) => {
      const idx = i + 1;
      let cls = idx < at || (finished && b.status === 'succeeded') ? 'done' : idx === at ? (finished ? 'stopped' : 'current') : '';
      if (s === 'done' && b.status === 'succeeded') cls = 'done';
      const ms = b.timingsMs?.[s];
      return h(
        'li',
        { class: cls },
        h('span', { class: 'dot' }),
        h('span', {}, s),
        ms !== undefined ? h('span', { class: 'muted small' }, `${(ms / 1000).toFixed(1)} s`) : null,
      );
    }),
  );
  const share = b.progress && b.progress.total ? b.progress.done / b.progress.total : 0;
  el.replaceChildren(
    ...kids(
      h(
        'div',
        { class: 'build-line' },
        statusChip(b.status),
        h('span', { class: 'mono muted' }, b.id),
        b.bankVersion ? h('span', {}, `→ bank v${b.bankVersion}`) : null,
      ),
      steps,
      finished ? null : progressBar(share, b.progress ? `${b.stage}: ${b.progress.done} / ${b.progress.total}` : b.stage),
      b.error ? h('p', { class: 'error' }, b.error.message) : null,
    ),
  );
}

// ---------- banks ----------

async function banksTab(body, line) {
  const data = await attempt(() => api('GET', linePath(line, '/banks')), 'Could not list the banks');
  if (!data) return;
  if (!data.banks.length) {
    body.replaceChildren(...kids(card(null, h('p', { class: 'empty' }, 'No bank yet: upload training photos and start a build.'))));
    return;
  }
  const activeVersion = data.banks.find((b) => b.active)?.version ?? null;
  const evals = await Promise.all(data.banks.map((b) => api('GET', linePath(line, `/banks/${b.version}/evaluation`)).catch(() => null)));
  const rows = data.banks.map((b, i) => {
    const e = evals[i];
    const act = b.active
      ? h('span', { class: 'chip ok' }, 'active')
      : h(
          'button',
          {
            class: 'small',
            type: 'button',
            onclick: async () => {
              if (await attempt(() => api('POST', linePath(line, `/banks/${b.version}/activate`)), 'Could not activate')) {
                toast(`Bank v${b.version} is active`, 'ok');
                render();
              }
            },
          },
          activeVersion !== null && b.version < activeVersion ? 'Roll back to this' : 'Activate',
        );
    return h(
      'tr',
      { class: b.active ? 'active-row' : '' },
      h('td', {}, h('strong', {}, `v${b.version}`)),
      h('td', {}, b.method),
      h('td', {}, b.rows.toLocaleString()),
      h('td', {}, fmt(b.threshold)),
      h('td', { class: 'muted' }, when(b.createdAt)),
      e
        ? [
            h('td', {}, fmt(e.auroc, 3)),
            h('td', {}, fmt(e.current.f1, 3)),
            h('td', {}, pct(e.current.accuracy)),
            h('td', {}, fmt(e.best.threshold)),
            h('td', {}, fmt(e.best.f1, 3)),
          ]
        : h(
            'td',
            { colspan: 5, class: 'muted' },
            'not evaluated ',
            h(
              'button',
              {
                class: 'small ghost',
                type: 'button',
                onclick: async () => {
                  if (await attempt(() => api('POST', linePath(line, `/banks/${b.version}/evaluate`)), 'Could not evaluate')) render();
                },
              },
              'Evaluate',
            ),
          ),
      h(
        'td',
        {},
        h(
          'div',
          { class: 'row-actions' },
          act,
          h('a', { class: 'button small ghost', href: `#/lines/${line.id}/inspect/${b.version}` }, 'Inspect with it'),
        ),
      ),
    );
  });
  body.replaceChildren(
    ...kids(
      card(
        'Banks',
        h(
          'p',
          { class: 'muted' },
          "Validation figures come from the labelled validation photos: image AUROC, F1 and accuracy at the line's threshold, and the best-F1 threshold.",
        ),
        h(
          'table',
          { class: 'table', id: 'banks-table' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              [
                'Version',
                'Method',
                'Rows',
                'Auto threshold',
                'Built',
                'AUROC',
                'F1 now',
                'Accuracy now',
                'Best-F1 threshold',
                'Best F1',
                '',
              ].map((t) => h('th', {}, t)),
            ),
          ),
          h('tbody', {}, rows),
        ),
      ),
    ),
  );
}

// ---------- noise report ----------

async function noiseTab(body, line) {
  const data = await attempt(() => api('GET', linePath(line, '/builds')), 'Could not list the builds');
  if (!data) return;
  const done = data.builds.filter((b) => b.status === 'succeeded');
  if (!done.length) {
    body.replaceChildren(...kids(card(null, h('p', { class: 'empty' }, 'The noise report appears after the first successful build.'))));
    return;
  }
  const select = h(
    'select',
    { id: 'noise-build' },
    done.map((b) => h('option', { value: b.id }, `bank v${b.bankVersion} · ${when(b.finishedAt)}`)),
  );
  const holder = h('div', {});
  const show = async () => {
    const report = await attempt(
      () => api('GET', linePath(line, `/builds/${select.value}/noise-report`)),
      'Could not read the noise report',
    );
    if (report) drawNoise(holder, line, report);
  };
  select.addEventListener('change', show);
  body.replaceChildren(...kids(h('div', { class: 'toolbar' }, h('label', {}, 'Build ', select)), holder));
  await show();
}

function drawNoise(holder, line, report) {
  const removed = new Set();
  const current = new Set();
  const summary = h('span', {});
  const rebuild = h('button', { class: 'primary', type: 'button', id: 'rebuild', disabled: true }, 'Rebuild without the removed photos');
  const showMask = h('input', { type: 'checkbox', checked: true, id: 'show-mask' });
  const refreshSummary = () => {
    summary.textContent = `${report.images.length} photos, ${report.suspects} suspects${removed.size ? `, ${removed.size} removed from the training set` : ''}`;
    rebuild.disabled = removed.size === 0;
  };
  const cards = report.images.map((e, rank) => {
    const thumbMask = `${linePath(line, `/banks/${report.bankVersion}/removal/${e.id}`)}?size=256`;
    const thumbPlain = linePath(line, `/images/${e.id}`);
    const frame = h('div', { class: 'thumb' });
    const setThumb = () => {
      const inTraining = current.has(e.id);
      // Banks built before removal masks were stored have none: the plain photo then.
      frame.replaceChildren(
        ...kids(authImage(showMask.checked || !inTraining ? thumbMask : thumbPlain, { alt: e.filename }, inTraining ? thumbPlain : null)),
      );
    };
    const removeBtn = h('button', { class: 'small danger', type: 'button' }, 'Remove from training');
    const el = h(
      'figure',
      { class: `noise-card${e.suspect ? ' suspect' : ''}`, 'data-filename': e.filename },
      frame,
      h(
        'figcaption',
        {},
        h(
          'div',
          { class: 'noise-title' },
          h('span', { class: 'rank' }, `#${rank + 1}`),
          h('span', { class: 'name', title: e.filename }, e.filename),
          e.suspect ? h('span', { class: 'chip bad' }, 'suspect') : null,
        ),
        h(
          'div',
          { class: 'share' },
          h('div', { class: 'share-bar' }, h('div', { style: { width: `${(100 * e.removedShare).toFixed(1)}%` } })),
          h('span', { class: 'share-value' }, `${(100 * e.removedShare).toFixed(0)} % removed`),
        ),
        h('div', { class: 'muted small' }, `max ${fmt(e.maxScore, 2)} · leave-one-out ${fmt(e.calibrationScore)}`),
        removeBtn,
      ),
    );
    removeBtn.addEventListener('click', async () => {
      removeBtn.disabled = true;
      const ok = await attempt(() => api('DELETE', linePath(line, `/images/${e.id}`)), `Could not remove ${e.filename}`);
      if (ok === undefined) {
        removeBtn.disabled = false;
        return;
      }
      removed.add(e.id);
      current.delete(e.id);
      el.classList.add('removed');
      removeBtn.replaceWith(h('span', { class: 'chip muted' }, 'removed from training'));
      refreshSummary();
    });
    el.setThumb = setThumb;
    return el;
  });
  const removeSuspects = h('button', { class: 'ghost', type: 'button', disabled: report.suspects === 0 }, 'Remove all suspects');
  removeSuspects.addEventListener('click', () =>
    cards.forEach((c, i) => report.images[i].suspect && !removed.has(report.images[i].id) && c.querySelector('button.danger')?.click()),
  );
  rebuild.addEventListener('click', async () => {
    const b = await attempt(() => api('POST', linePath(line, '/builds')), 'Could not start the build');
    if (b) location.hash = `#/lines/${line.id}/train`;
  });
  showMask.addEventListener('change', () => cards.forEach((c) => c.setThumb()));
  holder.replaceChildren(
    ...kids(
      card(
        null,
        h(
          'div',
          { class: 'noise-head' },
          h('div', {}, h('strong', {}, 'Most suspicious first. '), summary, h('p', { class: 'muted small' }, report.rule)),
          h('div', { class: 'actions' }, h('label', { class: 'check' }, showMask, ' show removed patches'), removeSuspects, rebuild),
        ),
        h(
          'div',
          { class: 'legend muted small' },
          h('span', { class: 'swatch removed' }),
          'patches the denoising left out of the bank',
          h('span', { class: 'swatch outside' }),
          'outside the crop (never seen)',
        ),
      ),
      h('div', { class: 'gallery', id: 'noise-gallery' }, cards),
    ),
  );
  // Which photos are still in the training set (a removed one keeps its bank's overlay).
  api('GET', linePath(line, '/images?limit=1000')).then(
    (page1) => {
      for (const i of page1.images) current.add(i.id);
      cards.forEach((c) => c.setThumb());
    },
    () => cards.forEach((c) => c.setThumb()),
  );
  refreshSummary();
}

// ---------- validation photos ----------

async function validationTab(body, line) {
  const data = await attempt(() => api('GET', linePath(line, '/validation?limit=1000')), 'Could not list the validation photos');
  if (!data) return;
  const makeZone = (label) => {
    const bar = progressBar(0, '');
    bar.hidden = true;
    const zone = dropZone({
      id: `validation-${label}`,
      title: label === 'good' ? 'Drop good photos' : 'Drop defective photos',
      hint: label === 'good' ? 'parts that must pass' : 'parts that must be flagged',
      onFiles: async (files) => {
        bar.hidden = false;
        const r = await attempt(() => uploadAll(linePath(line, `/validation?label=${label}`), files, bar), 'Upload failed');
        if (r) {
          toast(`${r.stored} ${label} validation photos stored`, 'ok');
          render();
        }
      },
    });
    return h('div', { class: `label-zone ${label}` }, zone, bar);
  };
  const grid = h(
    'div',
    { class: 'gallery small' },
    data.images.map((img) => {
      const fig = h(
        'figure',
        { class: `val-card ${img.label}` },
        h('div', { class: 'thumb' }, authImage(linePath(line, `/validation/${img.id}`), { alt: img.filename })),
        h(
          'figcaption',
          {},
          h('span', { class: `chip ${img.label === 'good' ? 'ok' : 'bad'}` }, img.label),
          h('span', { class: 'name', title: img.filename }, img.filename),
          h(
            'button',
            {
              class: 'icon',
              type: 'button',
              title: 'Delete',
              'aria-label': `Delete ${img.filename}`,
              onclick: async () => {
                if ((await attempt(() => api('DELETE', linePath(line, `/validation/${img.id}`)), 'Could not delete')) !== undefined)
                  fig.remove();
              },
            },
            '×',
          ),
        ),
      );
      return fig;
    }),
  );
  const enough = data.counts.good >= 3 && data.counts.defective >= 3;
  body.replaceChildren(
    ...kids(
      card(
        'Labelled validation photos',
        h(
          'p',
          { class: 'muted' },
          'Never used for training. Every build is scored on them (at least 3 of each label), and the threshold policy "validation" decides with the threshold chosen on them.',
        ),
        h('div', { class: 'grid two' }, makeZone('good'), makeZone('defective')),
        h(
          'p',
          {},
          h('span', { class: 'chip ok' }, `${data.counts.good} good`),
          ' ',
          h('span', { class: 'chip bad' }, `${data.counts.defective} defective`),
          ' ',
          enough
            ? h('span', { class: 'muted' }, 'enough to evaluate')
            : h('span', { class: 'muted' }, 'add at least 3 of each label to evaluate'),
        ),
      ),
      data.images.length ? card(null, grid) : null,
    ),
  );
}

// ---------- inspect ----------

async function inspectTab(body, line, rest) {
  const banks = await attempt(() => api('GET', linePath(line, '/banks')), 'Could not list the banks');
  if (!banks) return;
  if (!banks.banks.length) {
    body.replaceChildren(...kids(card(null, h('p', { class: 'empty' }, 'Inspection needs a bank: build one first.'))));
    return;
  }
  const wanted = Number(rest[0]) || banks.banks.find((b) => b.active)?.version || banks.banks[0].version;
  const select = h(
    'select',
    { id: 'inspect-bank' },
    banks.banks.map((b) =>
      h('option', { value: b.version, selected: b.version === wanted }, `v${b.version} · ${b.method}${b.active ? ' (active)' : ''}`),
    ),
  );
  select.addEventListener('change', () => (location.hash = `#/lines/${line.id}/inspect/${select.value}`));
  const results = h('div', { class: 'results', id: 'inspect-results' });
  const slider = h('div', {});
  const inspected = [];
  const state = { evaluation: null, threshold: null, current: null };

  const zone = dropZone({
    id: 'inspect-files',
    title: 'Drop photos to inspect',
    hint: 'scored with the selected bank; nothing is stored',
    onFiles: async (files) => {
      const busy = h('p', { class: 'muted' }, `Inspecting ${files.length} photo${files.length > 1 ? 's' : ''}…`);
      results.prepend(busy);
      const fd = new FormData();
      for (const f of files.slice(0, 32)) fd.append('images', f, f.name);
      const out = await attempt(
        () => api('POST', `${linePath(line, '/inspect')}?heatmap=overlay&regions=true&bank=${select.value}`, fd),
        'Inspection failed',
      );
      busy.remove();
      if (!out) return;
      for (const r of out.results.slice().reverse()) {
        const el = resultCard(r, out.bank);
        inspected.unshift({ r, el });
        results.prepend(el);
      }
      if (state.current === null) state.current = out.results[0]?.threshold ?? null;
      drawSlider();
    },
  });

  const drawSlider = () => drawThresholdPanel(slider, line, state, inspected);
  body.replaceChildren(
    ...kids(
      h(
        'div',
        { class: 'toolbar' },
        h('label', {}, 'Bank ', select),
        h('span', { class: 'muted' }, ' inspecting with a bank does not activate it'),
      ),
      h('div', { class: 'grid inspect' }, h('div', {}, card(null, zone), results), h('div', {}, slider)),
    ),
  );
  const bank = banks.banks.find((b) => b.version === wanted);
  state.evaluation = await api('GET', linePath(line, `/banks/${wanted}/evaluation`)).catch(() => null);
  state.current = state.evaluation ? state.evaluation.current.threshold : bank.active ? line.threshold : bank.threshold;
  state.threshold = state.current;
  drawSlider();
}

function resultCard(r, bank) {
  const frame = h(
    'div',
    { class: 'overlay-frame' },
    h('img', { src: `data:image/png;base64,${r.heatmap}`, alt: `heatmap overlay of ${r.filename}` }),
  );
  for (const [i, g] of (r.regions ?? []).slice(0, 8).entries()) {
    frame.append(
      h(
        'div',
        {
          class: 'region',
          style: {
            left: `${(100 * g.x) / r.width}%`,
            top: `${(100 * g.y) / r.height}%`,
            width: `${(100 * g.width) / r.width}%`,
            height: `${(100 * g.height) / r.height}%`,
          },
        },
        h('span', {}, String(i + 1)),
      ),
    );
  }
  const decision = h('span', { class: 'decision' });
  const el = h(
    'article',
    { class: 'result card' },
    frame,
    h(
      'div',
      { class: 'result-body' },
      h('div', { class: 'result-title' }, h('strong', { class: 'name', title: r.filename }, r.filename), decision),
      h(
        'dl',
        { class: 'figures' },
        h('dt', {}, 'Score'),
        h('dd', { class: 'score' }, fmt(r.score)),
        h('dt', {}, 'Threshold'),
        h('dd', { class: 'thr' }, fmt(r.threshold)),
        h('dt', {}, 'Normalized'),
        h('dd', { class: 'norm' }, `× ${fmt(r.normalizedScore, 2)}`),
        h('dt', {}, 'Bank'),
        h('dd', {}, `v${bank.version}${bank.active ? ' (active)' : ' (not active)'}`),
      ),
      r.regions && r.regions.length
        ? h(
            'ol',
            { class: 'regions' },
            r.regions.slice(0, 8).map((g) => h('li', {}, `${g.width}×${g.height} at (${g.x}, ${g.y}), max ${fmt(g.maxScore)}`)),
          )
        : h('p', { class: 'muted small' }, 'No region above the threshold.'),
    ),
  );
  el.decide = (t) => {
    const bad = r.score > t;
    decision.className = `decision ${bad ? 'bad' : 'ok'}`;
    decision.textContent = bad ? 'Anomalous' : 'Normal';
    el.querySelector('.thr').textContent = fmt(t);
    el.querySelector('.norm').textContent = `× ${fmt(r.score / t, 2)}`;
  };
  el.decide(r.threshold);
  return el;
}

function drawThresholdPanel(panel, line, state, inspected) {
  const ev = state.evaluation;
  const scores = [...(ev ? ev.scores.map((s) => s.score) : []), ...inspected.map((i) => i.r.score), state.current ?? 0].filter(
    Number.isFinite,
  );
  if (!scores.length || state.current === null) {
    panel.replaceChildren(
      ...kids(card('Threshold', h('p', { class: 'muted' }, 'Inspect a photo or add validation photos to try thresholds.'))),
    );
    return;
  }
  // A log scale: defective scores are often many times the threshold, and the interesting part is near it.
  const positive = scores.filter((v) => v > 0);
  const lo = Math.log(Math.min(...positive) * 0.8);
  const hi = Math.log(Math.max(...positive) * 1.25);
  const STEPS = 1000;
  const toT = (pos) => Math.exp(lo + ((hi - lo) * pos) / STEPS);
  const toPos = (t) => Math.round((STEPS * (Math.log(Math.max(t, 1e-12)) - lo)) / (hi - lo));
  const range = h('input', {
    type: 'range',
    id: 'threshold-slider',
    min: 0,
    max: STEPS,
    step: 1,
    value: toPos(state.threshold ?? state.current),
    'aria-label': 'decision threshold',
  });
  const value = h('output', { class: 'thr-value', id: 'threshold-value' });
  const strip = h('div', { class: 'strip' });
  const figures = h('div', { class: 'slider-figures', id: 'slider-figures' });
  const changes = h('div', { class: 'changes', id: 'slider-changes' });
  const apply = h('button', { class: 'ghost small', type: 'button' }, "Use as the line's fixed threshold");
  const reset = h('button', { class: 'ghost small', type: 'button' }, 'Back to the current threshold');
  const xOf = (s) => `${Math.max(0, Math.min(100, (100 * toPos(s)) / STEPS))}%`;
  const marker = h('div', { class: 'marker' });
  const currentMarker = h('div', { class: 'marker current', style: { left: xOf(state.current) }, title: 'current threshold' });
  if (ev)
    for (const s of ev.scores)
      strip.append(
        h('span', { class: `pt ${s.label}`, style: { left: xOf(s.score) }, title: `${s.filename}: ${fmt(s.score)} (${s.label})` }),
      );
  for (const i of inspected)
    strip.append(h('span', { class: 'pt probe', style: { left: xOf(i.r.score) }, title: `${i.r.filename}: ${fmt(i.r.score)}` }));
  strip.append(currentMarker, marker);
  const scale = h(
    'div',
    { class: 'strip-scale muted small' },
    h('span', {}, fmt(Math.exp(lo))),
    h('span', {}, 'log scale'),
    h('span', {}, fmt(Math.exp(hi))),
  );

  // Until the slider moves, the exact current threshold (a slider position is rounded).
  const update = (t = state.threshold ?? state.current) => {
    state.threshold = t;
    value.textContent = fmt(t);
    marker.style.left = xOf(t);
    for (const i of inspected) i.el.decide(t);
    if (!ev) {
      figures.replaceChildren(
        ...kids(
          h(
            'p',
            { class: 'muted' },
            'No evaluation of this bank: add at least 3 good and 3 defective validation photos to see how the decisions on them change.',
          ),
        ),
      );
      changes.replaceChildren(...kids());
      return;
    }
    const at = (thr) => {
      const c = { tp: 0, fp: 0, tn: 0, fn: 0 };
      for (const s of ev.scores) {
        const flagged = s.score > thr;
        if (s.label === 'defective') c[flagged ? 'tp' : 'fn']++;
        else c[flagged ? 'fp' : 'tn']++;
      }
      const n = ev.scores.length;
      return { c, f1: (2 * c.tp) / (2 * c.tp + c.fp + c.fn) || 0, acc: (c.tp + c.tn) / n };
    };
    const now = at(state.current);
    const here = at(t);
    const cell = (label, a, b, good) =>
      h(
        'div',
        { class: `fig ${a === b ? '' : b > a === good ? 'up' : 'down'}` },
        h('span', { class: 'fig-label' }, label),
        h('span', { class: 'fig-value' }, String(b)),
        a === b ? null : h('span', { class: 'fig-delta' }, `${b > a ? '+' : ''}${b - a}`),
      );
    figures.replaceChildren(
      ...kids(
        h(
          'div',
          { class: 'fig-grid' },
          cell('Defective caught', now.c.tp, here.c.tp, true),
          cell('Defective missed', now.c.fn, here.c.fn, false),
          cell('False alarms', now.c.fp, here.c.fp, false),
          cell('Good passed', now.c.tn, here.c.tn, true),
        ),
        h(
          'p',
          {},
          `F1 ${fmt(here.f1, 3)} (now ${fmt(now.f1, 3)}) · accuracy ${pct(here.acc)} (now ${pct(now.acc)}) · best-F1 threshold ${fmt(ev.best.threshold)}`,
        ),
      ),
    );
    const flipped = ev.scores.filter((s) => s.score > t !== s.score > state.current);
    changes.replaceChildren(
      ...kids(
        flipped.length
          ? h(
              'div',
              {},
              h('strong', {}, `${flipped.length} validation photo${flipped.length > 1 ? 's' : ''} would change:`),
              h(
                'ul',
                {},
                flipped.map((s) =>
                  h(
                    'li',
                    {},
                    h('span', { class: `chip ${s.label === 'good' ? 'ok' : 'bad'}` }, s.label),
                    ` ${s.filename}: ${s.score > state.current ? 'anomalous → normal' : 'normal → anomalous'}`,
                  ),
                ),
              ),
            )
          : h('p', { class: 'muted' }, 'No validation photo changes its decision at this threshold.'),
      ),
    );
  };
  range.addEventListener('input', () => update(toT(Number(range.value))));
  reset.addEventListener('click', () => {
    range.value = toPos(state.current);
    update(state.current);
  });
  apply.addEventListener('click', async () => {
    const t = state.threshold;
    if (
      await attempt(
        () => api('PATCH', linePath(line), { config: { threshold: { policy: 'fixed', value: t } } }),
        'Could not set the threshold',
      )
    ) {
      toast(`Threshold fixed at ${fmt(t)}`, 'ok');
      render();
    }
  });
  panel.replaceChildren(
    ...kids(
      card(
        'Threshold',
        h(
          'p',
          { class: 'muted small' },
          ev
            ? `How the decisions on the ${ev.scores.length} validation photos would change. Green dots: good, red: defective, blue: photos inspected here.`
            : 'Move the slider to re-decide the photos inspected here.',
        ),
        h('div', { class: 'slider-row' }, range, value),
        strip,
        scale,
        figures,
        changes,
        h('div', { class: 'actions' }, reset, apply),
      ),
    ),
  );
  update();
}

// ---------- settings ----------

async function settingsTab(body, line) {
  const c = line.config;
  const num = (name, label, value, attrs = {}) =>
    h('label', {}, label, h('input', { name, type: 'number', value: value ?? '', step: 'any', ...attrs }));
  const policy = h(
    'select',
    { name: 'policy' },
    ['auto', 'fixed', 'validation'].map((p) => h('option', { value: p, selected: p === c.threshold.policy }, p)),
  );
  const target = h(
    'select',
    { name: 'target' },
    ['f1', 'recall'].map((p) => h('option', { value: p, selected: p === (c.threshold.target ?? 'f1') }, p)),
  );
  const form = h(
    'form',
    { class: 'settings', id: 'settings-form' },
    h('fieldset', {}, h('legend', {}, 'Line'), h('label', {}, 'Name', h('input', { name: 'name', value: line.name }))),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Build (next build)'),
      h('label', {}, 'Method', methodSelect(c.method)),
      h(
        'label',
        {},
        'Discriminator',
        h(
          'select',
          { name: 'discriminator' },
          ['lof', 'nearest', 'gaussian'].map((d) => h('option', { value: d, selected: d === c.discriminator }, d)),
        ),
      ),
      num('lofK', 'LOF neighbours', c.lofK, { step: 1, min: 1 }),
      num('removalQuantile', 'τ removal share', c.removalQuantile, { min: 0, max: 0.99 }),
      num('coresetRatio', 'ρ coreset ratio', c.coresetRatio, { min: 0.001, max: 0.999 }),
      num('resize', 'Resize (shorter side, empty = original)', c.resize, { step: 1 }),
      num('crop', 'Centre crop (empty = whole frame)', c.crop, { step: 1 }),
      h(
        'label',
        {},
        'Training photos also turned (parts at any angle)',
        h(
          'select',
          { name: 'trainRotations' },
          [
            ['auto', 'auto: by the photos'],
            ['none', 'none: orientation matters'],
            ['180', 'by 180°'],
            ['90', 'by every 90° (square frames)'],
          ].map(([v, text]) => h('option', { value: v, selected: v === (c.trainRotations ?? 'auto') }, text)),
        ),
      ),
      h(
        'label',
        {},
        'Parts aligned (loose parts; not with turns)',
        h(
          'select',
          { name: 'align' },
          [
            ['none', 'none: orientation matters'],
            ['axis', 'on their axis'],
          ].map(([v, text]) => h('option', { value: v, selected: v === (c.align ?? 'none') }, text)),
        ),
      ),
      num('suspectShare', 'Suspect share', c.suspectShare, { min: 0, max: 1 }),
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Decision (applies at once)'),
      h('label', {}, 'Threshold policy', policy),
      num('sensitivity', 'Sensitivity k (auto)', c.threshold.sensitivity),
      num('value', 'Value (fixed)', c.threshold.value),
      h('label', {}, 'Target (validation)', target),
      num('recall', 'Recall (validation, target recall)', c.threshold.recall ?? 0.99, { min: 0.01, max: 1 }),
    ),
    h('div', { class: 'actions' }, h('button', { class: 'primary', type: 'submit' }, 'Save settings')),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = new FormData(form);
    const n = (k) => (f.get(k) === '' ? null : Number(f.get(k)));
    const threshold = { policy: f.get('policy'), sensitivity: n('sensitivity') };
    if (threshold.policy === 'fixed') threshold.value = n('value');
    if (threshold.policy === 'validation') {
      threshold.target = f.get('target');
      if (threshold.target === 'recall') threshold.recall = n('recall');
    }
    const body = {
      name: f.get('name'),
      config: {
        method: f.get('method'),
        discriminator: f.get('discriminator'),
        lofK: n('lofK'),
        removalQuantile: n('removalQuantile'),
        coresetRatio: n('coresetRatio'),
        resize: n('resize'),
        crop: n('crop'),
        trainRotations: f.get('trainRotations'),
        align: f.get('align'),
        suspectShare: n('suspectShare'),
        threshold,
      },
    };
    if (await attempt(() => api('PATCH', linePath(line), body), 'Could not save the settings')) {
      toast('Settings saved', 'ok');
      render();
    }
  });
  const del = h('button', { class: 'danger', type: 'button' }, 'Delete this line');
  del.addEventListener('click', async () => {
    if (!confirm(`Delete line "${line.id}" with all its photos, builds and banks?`)) return;
    if ((await attempt(() => api('DELETE', linePath(line)), 'Could not delete the line')) !== undefined) location.hash = '#/';
  });
  body.replaceChildren(
    ...kids(
      card('Settings', form),
      card('Danger zone', h('p', { class: 'muted' }, 'Deleting a line removes everything stored for it.'), del),
    ),
  );
}

// ---------- API key and start ----------

const dialog = document.getElementById('key-dialog');
setUnauthorizedHandler(() => {
  if (dialog.open) return;
  document.getElementById('key-error').hidden = !apiKey.get();
  document.getElementById('key-error').textContent = apiKey.get() ? 'The service did not accept this key.' : '';
  dialog.showModal();
  document.getElementById('key-input').focus();
});
document.getElementById('key-form').addEventListener('submit', () => {
  apiKey.set(document.getElementById('key-input').value.trim());
  document.getElementById('key-input').value = '';
  render();
});
document.getElementById('key-button').addEventListener('click', () => {
  apiKey.clear();
  render();
});
window.addEventListener('hashchange', render);
render();
