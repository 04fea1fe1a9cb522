/**
 * `softpatch bench service`: the service as a plant sees it. Starts `softpatch serve` as a child
 * process on 127.0.0.1 (free port, own temporary DATA_DIR, this environment otherwise), creates a
 * line, uploads the training photos (the shared MVTec bottle set when present, else generated
 * images), builds while polling /healthz, then measures sequential inspections and a fixed-length
 * load of concurrent clients. The service's RSS is read from /proc (its peak reset after the
 * build through clear_refs). Progress goes to stderr; the caller prints the returned report.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { loadBackbone, prepareImage } from '../backbone/index.js';
import { loadConfig, PROJECT_ROOT } from '../common/config.js';
import { appError } from '../common/errors.js';
import { median } from '../common/stats.js';
import { inspectThreads } from '../service/inspection.js';
import { benchPhotos, type Photo } from './bench-photos.js';
import { DEFAULT_LINE_CONFIG } from '../service/line-config.js';

export interface ServiceBenchOptions {
  images: number;
  clients: number;
  seconds: number;
  /** Sequential inspections timed per endpoint. */
  inspections: number;
  data: string;
  /** Settings of the bench line (POST /v1/lines `config`); the defaults when absent. */
  lineConfig?: Record<string, unknown>;
}

const LINE = 'bench';
const UPLOAD_BATCH = 50;
const HEALTH_POLL_MS = 50;
const RSS_POLL_MS = 50;
const TREE_POLL_MS = 500;

const progress = (msg: string): void => {
  process.stderr.write(`[bench service] ${msg}\n`);
};

function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
}

const round1 = (v: number): number => Math.round(v * 10) / 10;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** RSS and peak RSS (MB) of one process, from /proc. */
async function processRss(pid: number): Promise<{ rss: number; hwm: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  // A zombie (an exited build not yet reaped) has no VmRSS: it holds no memory.
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

/**
 * The process's descendants (the service forks its builds), from the `children` lists of its
 * threads: cheap enough to repeat, unlike a scan of every process's parent in /proc.
 */
async function descendants(pid: number): Promise<number[]> {
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => []);
  const lists = await Promise.all(tasks.map((t) => readFile(`/proc/${pid}/task/${t}/children`, 'utf8').catch(() => '')));
  const children = lists.flatMap((l) => l.split(' ').filter(Boolean).map(Number));
  return [...children, ...(await Promise.all(children.map(descendants))).flat()];
}

/** RSS (MB) of the service and of `others` (its descendants), and the service's own peak. */
async function rssOf(pid: number, others: readonly number[]): Promise<{ rss: number; hwm: number }> {
  const own = await processRss(pid);
  let rss = own.rss;
  for (const c of others) rss += (await processRss(c).catch(() => ({ rss: 0 }))).rss;
  return { rss, hwm: own.hwm };
}

/** RSS (MB) now of the service's process tree: a build's memory counts wherever it runs. */
async function treeRss(pid: number): Promise<number> {
  return (await rssOf(pid, await descendants(pid))).rss;
}

/**
 * Samples the RSS of the service's process tree until stopped; the maximum of the samples and of
 * the service's VmHWM. The tree is looked up less often than the RSS is read: the sampler shares
 * the two cores with the service it measures, so it must cost next to nothing.
 */
function rssSampler(pid: number): { stop(): Promise<number> } {
  let peak = 0;
  let running = true;
  const loop = (async () => {
    let tree: number[] = [];
    let treeAt = -Infinity;
    while (running) {
      if (performance.now() - treeAt > TREE_POLL_MS) {
        tree = await descendants(pid);
        treeAt = performance.now();
      }
      const r = await rssOf(pid, tree).catch(() => ({ rss: 0, hwm: 0 }));
      peak = Math.max(peak, r.rss, r.hwm);
      await new Promise((res) => setTimeout(res, RSS_POLL_MS));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return peak;
    },
  };
}

async function timedFetch(url: string, init?: RequestInit): Promise<{ ms: number; status: number; body: ArrayBuffer }> {
  const t = performance.now();
  const res = await fetch(url, init);
  const body = await res.arrayBuffer();
  return { ms: performance.now() - t, status: res.status, body };
}

function inspectForm(photo: Photo): FormData {
  const form = new FormData();
  form.append('images', new Blob([photo.bytes]), photo.name);
  return form;
}

async function json<T>(res: Response): Promise<T> {
  const body = await res.text();
  if (!res.ok) throw appError('INTERNAL', [`${res.url} answered ${res.status}: ${body.slice(0, 300)}`]);
  return JSON.parse(body) as T;
}

async function startService(env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'softpatch.js'), 'serve'], {
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw appError('INTERNAL', [`the service exited with code ${child.exitCode}`]);
    const ok = await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return { child, url };
    if (Date.now() > deadline) throw appError('INTERNAL', ['the service did not become ready within 120 s']);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Backbone alone, in this process and with the service's session settings: one image, and batches of 8. */
async function benchBackbone(photo: Photo): Promise<{ threads: number; batch1Ms: number; batchedImagesPerSecond: number }> {
  const config = loadConfig();
  const threads = inspectThreads(config);
  const prepared = await prepareImage(Buffer.from(photo.bytes), {
    resize: DEFAULT_LINE_CONFIG.resize,
    crop: DEFAULT_LINE_CONFIG.crop,
    maxPixels: config.maxPixels,
  });
  const one = await loadBackbone(config.backboneDir, { threads, verify: false, arena: true });
  let batch1Ms: number;
  try {
    await one.embed([prepared]);
    const times: number[] = [];
    for (let r = 0; r < 15; r++) {
      const t = performance.now();
      await one.embed([prepared]);
      times.push(performance.now() - t);
    }
    batch1Ms = median(times);
  } finally {
    await one.close();
  }
  // Throughput with every onnxruntime thread the service has, in batches of 8.
  const all = await loadBackbone(config.backboneDir, { threads: config.ortThreads, verify: false, maxBatch: 8, arena: true });
  let perImage: number;
  try {
    const batch = Array.from({ length: 8 }, () => prepared);
    await all.embed(batch);
    const times: number[] = [];
    for (let r = 0; r < 5; r++) {
      const t = performance.now();
      await all.embed(batch);
      times.push((performance.now() - t) / batch.length);
    }
    perImage = median(times);
  } finally {
    await all.close();
  }
  return { threads, batch1Ms: round1(batch1Ms), batchedImagesPerSecond: round1(1000 / perImage) };
}

interface BuildView {
  id: string;
  status: string;
  stage: string;
  startedAt: string | null;
  finishedAt: string | null;
  images: number;
  timingsMs: Record<string, number>;
  error: { code: string; message: string } | null;
}

async function runBuild(url: string, pid: number): Promise<{ build: BuildView; peakRssMb: number; health: number[] }> {
  const sampler = rssSampler(pid);
  const started = await json<BuildView>(await fetch(`${url}/v1/lines/${LINE}/builds`, { method: 'POST' }));
  const health: number[] = [];
  let build = started;
  let lastStage = '';
  let lastCheck = 0;
  while (build.status === 'queued' || build.status === 'running') {
    const t = performance.now();
    const h = await timedFetch(`${url}/healthz`);
    if (h.status !== 200) throw appError('INTERNAL', [`/healthz answered ${h.status} during the build`]);
    health.push(h.ms);
    if (t - lastCheck > 500) {
      lastCheck = t;
      build = await json<BuildView>(await fetch(`${url}/v1/lines/${LINE}/builds/${started.id}`));
      if (build.stage !== lastStage) progress(`build: ${(lastStage = build.stage)}`);
    }
    await new Promise((r) => setTimeout(r, Math.max(0, HEALTH_POLL_MS - (performance.now() - t))));
  }
  const peakRssMb = await sampler.stop();
  if (build.status !== 'succeeded') throw appError('INTERNAL', [`build ${build.status}: ${build.error?.message ?? ''}`]);
  return { build, peakRssMb, health };
}

async function sequential(url: string, photo: Photo, n: number, png: boolean): Promise<number> {
  const target = png ? `${url}/v1/lines/${LINE}/inspect.png` : `${url}/v1/lines/${LINE}/inspect`;
  const times: number[] = [];
  const stages: Record<string, number[]> = {};
  for (let i = 0; i < n + 2; i++) {
    const r = await timedFetch(target, { method: 'POST', body: inspectForm(photo) });
    if (r.status !== 200)
      throw appError('INTERNAL', [`inspection answered ${r.status}: ${Buffer.from(r.body).toString('utf8').slice(0, 300)}`]);
    // The first two warm the bank's search structures and the sessions.
    if (i < 2) continue;
    times.push(r.ms);
    if (!png) {
      const body = JSON.parse(Buffer.from(r.body).toString('utf8')) as { results?: { timingsMs: Record<string, number> }[] };
      for (const [stage, ms] of Object.entries(body.results?.[0]?.timingsMs ?? {})) (stages[stage] ??= []).push(ms);
    }
  }
  if (!png)
    progress(
      `inspect stages, median ms: ${Object.entries(stages)
        .map(([s, v]) => `${s} ${median(v).toFixed(1)}`)
        .join(', ')}`,
    );
  return median(times);
}

async function load(
  url: string,
  photo: Photo,
  clients: number,
  seconds: number,
): Promise<{ ok: number; errors: number; latencies: number[]; wallMs: number }> {
  const target = `${url}/v1/lines/${LINE}/inspect`;
  // The multipart body encoded once: the clients share the cores with the service, so each
  // request costs them no more than sending these bytes.
  const encoded = new Response(inspectForm(photo));
  const headers = { 'content-type': encoded.headers.get('content-type')! };
  const body = new Uint8Array(await encoded.arrayBuffer());
  const latencies: number[] = [];
  let ok = 0;
  let errors = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end) {
        try {
          const r = await timedFetch(target, { method: 'POST', headers, body });
          if (r.status === 200) {
            ok++;
            latencies.push(r.ms);
          } else errors++;
        } catch {
          errors++;
        }
      }
    }),
  );
  return { ok, errors, latencies, wallMs: performance.now() - t0 };
}

export async function benchService(opts: ServiceBenchOptions): Promise<Record<string, unknown>> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'sp-bench-service-'));
  const photos = await benchPhotos(opts.data, opts.images);
  progress(
    `${photos.train.length} training photos from ${photos.source}; DATA_DIR ${dataDir}; load average ${os
      .loadavg()
      .map((v) => v.toFixed(2))
      .join(' ')}`,
  );
  // Ratios are against this machine's own backbone, whose speed differs between CPU models.
  progress(`CPU: ${os.cpus()[0]?.model ?? 'unknown'}, ${os.availableParallelism()} cores`);
  const before = await benchBackbone(photos.test);
  progress(`backbone alone: ${JSON.stringify(before)}`);
  const { child, url } = await startService({ DATA_DIR: dataDir });
  const pid = child.pid!;
  const rssNow = async (): Promise<string> => `${Math.round(await treeRss(pid))} MB`;
  progress(`service ready, RSS ${await rssNow()}`);
  try {
    await json(
      await fetch(`${url}/v1/lines`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(opts.lineConfig ? { id: LINE, config: opts.lineConfig } : { id: LINE }),
      }),
    );
    for (let i = 0; i < photos.train.length; i += UPLOAD_BATCH) {
      const form = new FormData();
      for (const p of photos.train.slice(i, i + UPLOAD_BATCH)) form.append('images', new Blob([p.bytes]), p.name);
      await json(await fetch(`${url}/v1/lines/${LINE}/images`, { method: 'POST', body: form }));
    }
    progress(`uploaded ${photos.train.length} photos; building`);
    const { build, peakRssMb, health } = await runBuild(url, pid);
    const buildMs = Date.parse(build.finishedAt!) - Date.parse(build.startedAt!);
    progress(`build ${buildMs} ms ${JSON.stringify(build.timingsMs)}; RSS after it ${await rssNow()}`);

    // Peak RSS from here on: the serving state after the build.
    await writeFile(`/proc/${pid}/clear_refs`, '5').catch(() => progress('could not reset the peak RSS; sampling only'));
    const sampler = rssSampler(pid);
    const p50Ms = await sequential(url, photos.test, opts.inspections, false);
    const p50HeatmapMs = await sequential(url, photos.test, opts.inspections, true);
    progress(
      `inspect p50 ${p50Ms.toFixed(1)} ms, overlay ${p50HeatmapMs.toFixed(1)} ms, RSS ${await rssNow()}; load: ${opts.clients} clients × ${opts.seconds} s`,
    );
    const l = await load(url, photos.test, opts.clients, opts.seconds);
    const rssMb = await sampler.stop();
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const memory = [...metrics.matchAll(/^softpatch_process_memory_bytes\{component="(\w+)"\} (\d+)/gm)].map(
      (m) => `${m[1]} ${Math.round(Number(m[2]) / 2 ** 20)} MB`,
    );
    progress(`memory after the load (/metrics): ${memory.join(', ')}`);
    // This VM's speed drifts by a fifth within minutes: the backbone is timed again at the end
    // (the service idle) and the faster of the two timings is the floor, so a slow phase at the
    // start cannot flatter the ratios.
    const after = await benchBackbone(photos.test);
    progress(`backbone alone again: ${JSON.stringify(after)}`);
    const backbone = {
      threads: before.threads,
      batch1Ms: Math.min(before.batch1Ms, after.batch1Ms),
      batchedImagesPerSecond: Math.max(before.batchedImagesPerSecond, after.batchedImagesPerSecond),
    };
    const imagesPerSecond = (l.ok * 1000) / l.wallMs;
    const embedMs = build.timingsMs.embedding ?? NaN;
    return {
      backbone,
      inspect: {
        p50Ms: round1(p50Ms),
        ratio: +(p50Ms / backbone.batch1Ms).toFixed(2),
        p50HeatmapMs: round1(p50HeatmapMs),
        ratioHeatmap: +(p50HeatmapMs / backbone.batch1Ms).toFixed(2),
      },
      load: {
        clients: opts.clients,
        seconds: opts.seconds,
        imagesPerSecond: round1(imagesPerSecond),
        ratio: +(imagesPerSecond / backbone.batchedImagesPerSecond).toFixed(2),
        errors: l.errors,
        p99Ms: round1(quantile(l.latencies, 0.99)),
      },
      build: { images: build.images, ms: buildMs, embedMs, ratio: +(buildMs / embedMs).toFixed(2), peakRssMb: Math.round(peakRssMb) },
      rssMb: Math.round(rssMb),
      healthDuringBuildP99Ms: round1(quantile(health, 0.99)),
    };
  } finally {
    progress(
      `load average ${os
        .loadavg()
        .map((v) => v.toFixed(2))
        .join(' ')}`,
    );
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await rm(dataDir, { recursive: true, force: true });
  }
}
