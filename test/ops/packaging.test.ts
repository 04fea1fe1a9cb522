/**
 * No container engine runs here, so the packaging is checked by reading it: the compose file,
 * Prometheus' scrape config, the Grafana dashboard (every metric it queries must be one a live
 * server exports) and the Dockerfile (its commands must be package.json's).
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { PROJECT_ROOT } from '../helpers/paths.js';
import { startServer } from '../http/server.js';
import { spawnServer } from '../helpers/child-server.js';

const read = (p: string) => fs.readFile(path.join(PROJECT_ROOT, p), 'utf8');

interface Compose {
  services: Record<
    string,
    {
      build?: unknown;
      image?: string;
      ports?: string[];
      volumes?: string[];
      environment?: Record<string, string>;
      cpus?: number;
      mem_limit?: string;
    }
  >;
  volumes: Record<string, unknown>;
}

interface Dashboard {
  panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
}

const PROMQL_WORDS = new Set([
  'sum',
  'by',
  'without',
  'rate',
  'irate',
  'increase',
  'histogram_quantile',
  'avg',
  'max',
  'min',
  'count',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'offset',
  'bool',
  'topk',
  'bottomk',
  'clamp_min',
  'clamp_max',
  'abs',
  'delta',
  'deriv',
  'label_replace',
  'vector',
  'scalar',
  'time',
]);

/** Metric names a PromQL expression reads: identifiers outside label matchers, groupings, ranges and strings. */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, ' ');
  const names = stripped.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? [];
  return [...new Set(names.filter((n) => !PROMQL_WORDS.has(n)))];
}

/** Sample names a scrape can contain, from its `# TYPE` lines (present even before any observation). */
function exportedSamples(scrape: string): Set<string> {
  const out = new Set<string>();
  for (const m of scrape.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m;
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) out.add(name + s);
    else if (type === 'summary') for (const s of ['', '_sum', '_count']) out.add(name + s);
    else out.add(name);
  }
  return out;
}

test('metricNames reads PromQL the way the dashboard writes it', () => {
  assert.deepEqual(
    metricNames('histogram_quantile(0.95, sum by (le, stage) (rate(softpatch_inspect_duration_seconds_bucket{line="a"}[5m])))'),
    ['softpatch_inspect_duration_seconds_bucket'],
  );
  assert.deepEqual(metricNames('sum by (line) (rate(a_total{result="anomalous"}[15m])) / sum by (line) (rate(b_total[15m]))'), [
    'a_total',
    'b_total',
  ]);
});

test('every metric the Grafana dashboard queries is exported by a live server', async () => {
  const dashboard = JSON.parse(await read('ops/grafana/dashboards/softpatch.json')) as Dashboard;
  const queried = new Set(dashboard.panels.flatMap((p) => p.targets.flatMap((t) => metricNames(t.expr))));
  assert.ok(queried.size >= 8, `dashboard queries only ${[...queried].join(', ')}`);
  const server = await startServer();
  try {
    const res = await fetch(`${server.url}/metrics`);
    assert.equal(res.status, 200);
    const exported = exportedSamples(await res.text());
    const missing = [...queried].filter((m) => !exported.has(m));
    assert.deepEqual(missing, [], `dashboard metrics not exported: ${missing.join(', ')}`);
  } finally {
    await server.close(true);
  }
  // The panels: latency by stage, rate and anomaly rate by line, builds, bank sizes, memory.
  const titles = dashboard.panels.map((p) => p.title.toLowerCase()).join(' | ');
  for (const word of ['latency', 'per second', 'anomaly rate', 'build durations', 'build outcomes', 'bank rows', 'memory'])
    assert.ok(titles.includes(word), `no panel about ${word}`);
});

test('docker-compose runs the service on a named volume, Prometheus scraping it, Grafana provisioned', async () => {
  const compose = parse(await read('docker-compose.yml')) as Compose;
  const svc = compose.services.inspect;
  assert.ok(svc.build, 'the service is built from this repository');
  assert.ok(svc.ports?.includes('3000:3000'));
  const dataVolume = svc.volumes?.find((v) => v.endsWith(':/data'));
  assert.ok(dataVolume && dataVolume.split(':')[0] in compose.volumes, 'DATA_DIR must be a named volume');
  assert.equal(svc.environment?.DATA_DIR, '/data');

  const prom = compose.services.prometheus;
  const promMount = prom.volumes?.find((v) => v.includes('/etc/prometheus/prometheus.yml'));
  assert.ok(promMount, 'prometheus.yml is mounted');
  const promConfig = parse(await read(promMount.split(':')[0])) as {
    scrape_configs: Array<{ metrics_path?: string; static_configs: Array<{ targets: string[] }> }>;
  };
  const job = promConfig.scrape_configs[0];
  assert.equal(job.metrics_path ?? '/metrics', '/metrics');
  assert.deepEqual(job.static_configs[0].targets, ['inspect:3000'], 'Prometheus scrapes the compose service by name');

  // Monitoring is not published beyond this host; Grafana's admin password is not a default.
  for (const name of ['prometheus', 'grafana']) {
    for (const p of compose.services[name].ports ?? []) assert.match(p, /^127\.0\.0\.1:/, `${name} publishes ${p} on every interface`);
  }
  assert.match(compose.services.grafana.environment?.GF_SECURITY_ADMIN_PASSWORD ?? '', /^\$\{GRAFANA_ADMIN_PASSWORD:\?/);
  // The service runs with CPU and memory limits (it sizes itself from them).
  assert.ok(Number(svc.cpus) > 0, 'cpus limit');
  assert.match(String(svc.mem_limit), /^\d+[kmg]$/i);
  // The alert rules are mounted where prometheus.yml loads them from.
  const rulesPath = (promConfig as { rule_files?: string[] }).rule_files?.[0];
  assert.ok(prom.volumes?.includes(`./ops/alerts.yml:${rulesPath}:ro`), `alerts.yml mounted at ${rulesPath}`);

  const grafana = compose.services.grafana;
  const mounts = (grafana.volumes ?? []).map((v) => v.split(':')[0]);
  for (const m of mounts.filter((v) => v.startsWith('./'))) await fs.access(path.join(PROJECT_ROOT, m));
  const provider = parse(await read('ops/grafana/provisioning/dashboards/softpatch.yml')) as {
    providers: Array<{ options: { path: string } }>;
  };
  assert.ok(
    (grafana.volumes ?? []).some((v) => v.startsWith('./ops/grafana/dashboards:') && v.includes(provider.providers[0].options.path)),
  );
});

test("the Dockerfile's commands are package.json's, it runs as non-root with a health check and a data volume", async () => {
  const dockerfile = await read('Dockerfile');
  const pkg = JSON.parse(await read('package.json')) as { scripts: Record<string, string> };
  const froms = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
  assert.ok(froms.length >= 2 && froms.every((f) => f.startsWith('node:20')), `multi-stage on node:20, got ${froms.join(', ')}`);
  for (const m of dockerfile.matchAll(/npm run (\S+)/g))
    assert.ok(m[1] in pkg.scripts, `Dockerfile runs npm run ${m[1]}, not in package.json`);
  assert.match(dockerfile, /npm ci/);
  const cmd = /^CMD \[(.*)\]$/m.exec(dockerfile);
  assert.ok(cmd, 'CMD in exec form');
  const argv = JSON.parse(`[${cmd[1]}]`) as string[];
  assert.equal(argv.join(' '), pkg.scripts.start, 'the container starts exactly as `npm start` does');
  assert.match(dockerfile, /^USER (?!root)\S+/m);
  assert.match(dockerfile, /^VOLUME \["\/data"\]/m);
  assert.match(dockerfile, /^HEALTHCHECK[\s\S]*\/readyz/m);
  assert.match(dockerfile, /^STOPSIGNAL SIGTERM/m);
  const ignore = (await read('.dockerignore')).split('\n');
  for (const p of ['node_modules', 'data']) assert.ok(ignore.includes(p), `.dockerignore keeps ${p} out`);
  // onnxruntime-node's install script would download CUDA files: package.json denies it (npm 11
  // allowScripts), the image's older npm gets --ignore-scripts and the installer's own switch.
  const allow = (JSON.parse(await read('package.json')) as { allowScripts?: Record<string, boolean> }).allowScripts ?? {};
  assert.equal(allow['onnxruntime-node'], false);
  assert.doesNotMatch(await read('.npmrc'), /onnxruntime/, 'no project config key npm warns about');
  assert.match(dockerfile, /ONNXRUNTIME_NODE_INSTALL=skip/);
  assert.match(dockerfile, /npm ci --ignore-scripts/);
});

/** The HEALTHCHECK command of the Dockerfile, run as the container would (exit status). */
async function runHealthcheck(port: string): Promise<number | null> {
  const dockerfile = await read('Dockerfile');
  const m = /^HEALTHCHECK[^\n]*\\\n\s*CMD (\[.*\])$/m.exec(dockerfile);
  assert.ok(m, 'HEALTHCHECK ... CMD [exec form]');
  const [bin, ...args] = JSON.parse(m[1]) as string[];
  assert.equal(bin, 'node');
  return new Promise((resolve) =>
    execFile(process.execPath, args, { env: { ...process.env, PORT: port }, timeout: 10_000 }, (err) =>
      resolve(err ? (typeof err.code === 'number' ? err.code : 1) : 0),
    ),
  );
}

test('the container health check fails while the backbone is missing and passes once the service is ready', async () => {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'sp-health-'));
  const broken = await spawnServer({ DATA_DIR: dataDir, BACKBONE_DIR: path.join(dataDir, 'missing') }, 'any');
  try {
    assert.notEqual(await runHealthcheck(new URL(broken.base).port), 0);
  } finally {
    broken.child.kill('SIGKILL');
    await broken.exited;
  }
  const healthy = await spawnServer({ DATA_DIR: dataDir });
  try {
    assert.equal(await runHealthcheck(new URL(healthy.base).port), 0);
  } finally {
    healthy.child.kill('SIGKILL');
    await healthy.exited;
    await fs.rm(dataDir, { recursive: true, force: true });
  }
});

const hasPromtool = spawnSync('promtool', ['--version']).status === 0;
// In CI the rules must be checked: a missing promtool fails there instead of skipping.
const promtoolSkip = hasPromtool || process.env.CI === 'true' ? false : 'promtool is not installed (apt-get install prometheus)';

test('the alert rules pass promtool (syntax and unit tests) and read only metrics the server exports', { skip: promtoolSkip }, async () => {
  assert.ok(hasPromtool, 'promtool is required in CI (Debian package prometheus; .ci/run installs it)');
  const check = spawnSync('promtool', ['check', 'rules', 'alerts.yml'], { cwd: path.join(PROJECT_ROOT, 'ops'), encoding: 'utf8' });
  assert.equal(check.status, 0, check.stdout + check.stderr);
  const unit = spawnSync('promtool', ['test', 'rules', 'alerts.test.yml'], { cwd: path.join(PROJECT_ROOT, 'ops'), encoding: 'utf8' });
  assert.equal(unit.status, 0, unit.stdout + unit.stderr);

  const rules = parse(await read('ops/alerts.yml')) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> };
  const all = rules.groups.flatMap((g) => g.rules);
  for (const name of [
    'SoftpatchDown',
    'SoftpatchNotReady',
    'SoftpatchDiskAlmostFull',
    'SoftpatchErrorRate',
    'SoftpatchInspectLatencyP95',
    'SoftpatchBuildsFailing',
  ]) {
    assert.ok(
      all.some((r) => r.alert === name),
      `alert ${name}`,
    );
  }
  const server = await startServer();
  try {
    const exported = exportedSamples(await (await fetch(`${server.url}/metrics`)).text());
    exported.add('up'); // Prometheus' own
    const missing = [...new Set(all.flatMap((r) => metricNames(r.expr)))].filter((m) => !exported.has(m));
    assert.deepEqual(missing, [], `alert rules read metrics the server does not export: ${missing.join(', ')}`);
  } finally {
    await server.close(true);
  }
});
