/**
 * `softpatch bench soak --seconds N [--clients C] [--warmup W]`: the whole service in this process
 * on 127.0.0.1 (a temporary DATA_DIR, removed afterwards), one line built from synthetic part
 * photos, then C clients inspecting in a loop for N seconds (a mix of plain, heatmap and regions
 * requests, plus line reads). Reports errors, latency percentiles and the RSS drift between the
 * end of the warm-up and the end of the run. Bounded: at most an hour and 64 clients.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../common/config.js';
import { appError } from '../common/errors.js';
import { partImage } from '../eval/synthetic-parts.js';
import { buildApp } from '../http/app.js';
import { createLogger } from '../http/logger.js';
import { createService } from '../service/index.js';

export interface SoakOptions {
  seconds: number;
  clients: number;
  /** Seconds excluded from latency figures; the RSS baseline is taken at its end. */
  warmup: number;
}

const MAX_SECONDS = 3600;
const MAX_CLIENTS = 64;
const LINE = 'soak';
const TRAIN_IMAGES = 12;

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

const mb = (bytes: number): number => Math.round((bytes / (1024 * 1024)) * 10) / 10;

/** The request a client sends on its k-th turn: mostly inspections, some with maps, some reads. */
function requestFor(base: string, k: number, photo: Buffer): [string, RequestInit] {
  const body = (): FormData => {
    const fd = new FormData();
    fd.append('images', new Blob([new Uint8Array(photo)], { type: 'image/png' }), 'probe.png');
    return fd;
  };
  switch (k % 5) {
    case 3:
      return [`${base}/v1/lines/${LINE}/inspect?heatmap=overlay&regions=true`, { method: 'POST', body: body() }];
    case 4:
      return [`${base}/v1/lines/${LINE}`, { method: 'GET' }];
    default:
      return [`${base}/v1/lines/${LINE}/inspect`, { method: 'POST', body: body() }];
  }
}

export async function benchSoak(opts: SoakOptions): Promise<Record<string, unknown>> {
  if (!(opts.seconds > 0 && opts.seconds <= MAX_SECONDS)) throw appError('USAGE', [`bench soak --seconds 1..${MAX_SECONDS}`]);
  if (!(Number.isInteger(opts.clients) && opts.clients >= 1 && opts.clients <= MAX_CLIENTS))
    throw appError('USAGE', [`bench soak --clients 1..${MAX_CLIENTS}`]);
  if (!(opts.warmup >= 0 && opts.warmup < opts.seconds)) throw appError('USAGE', ['bench soak --warmup must be below --seconds']);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'softpatch-soak-'));
  const config = { ...loadConfig(), dataDir, port: 0, host: '127.0.0.1', logLevel: 'warn', apiKeys: [] };
  const logger = createLogger(config.logLevel);
  const service = await createService(config, logger);
  const app = await buildApp({ service, config, logger });
  try {
    await service.backboneReady;
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const base = address.replace('[::1]', '127.0.0.1');
    const post = async (url: string, init: RequestInit): Promise<Record<string, unknown>> => {
      const res = await fetch(base + url, init);
      const body = (await res.json()) as Record<string, unknown>;
      if (!res.ok) throw appError('INTERNAL', [`soak setup ${url}: ${res.status} ${JSON.stringify(body)}`]);
      return body;
    };
    await post('/v1/lines', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: LINE, config: { resize: 128, crop: 112, coresetRatio: 0.25 } }),
    });
    const train = new FormData();
    for (let i = 0; i < TRAIN_IMAGES; i++)
      train.append('images', new Blob([new Uint8Array(await partImage(100 + i))], { type: 'image/png' }), `t${i}.png`);
    await post(`/v1/lines/${LINE}/images`, { method: 'POST', body: train });
    const build = await post(`/v1/lines/${LINE}/builds`, { method: 'POST' });
    for (;;) {
      const b = (await (await fetch(`${base}/v1/lines/${LINE}/builds/${String(build.id)}`)).json()) as { status: string; error?: unknown };
      if (b.status === 'succeeded') break;
      if (b.status !== 'queued' && b.status !== 'running')
        throw appError('INTERNAL', [`soak build ${b.status}: ${JSON.stringify(b.error)}`]);
      await new Promise((r) => setTimeout(r, 100));
    }
    const photos = [await partImage(300), await partImage(301, { defect: { x: 30, y: 62, size: 16 } })];

    const t0 = performance.now();
    const end = t0 + opts.seconds * 1000;
    const warmEnd = t0 + opts.warmup * 1000;
    const latencies: number[] = [];
    const errors: Record<string, number> = {};
    let requests = 0;
    const rss: { t: number; bytes: number }[] = [];
    const sampler = setInterval(() => rss.push({ t: performance.now(), bytes: process.memoryUsage().rss }), 1000);
    const client = async (c: number): Promise<void> => {
      for (let k = c; performance.now() < end; k++) {
        const [url, init] = requestFor(base, k, photos[k % 2]);
        const start = performance.now();
        try {
          const res = await fetch(url, init);
          await res.arrayBuffer();
          if (!res.ok) errors[String(res.status)] = (errors[String(res.status)] ?? 0) + 1;
        } catch (err) {
          const key = (err as Error).name;
          errors[key] = (errors[key] ?? 0) + 1;
        }
        requests++;
        if (start >= warmEnd) latencies.push(performance.now() - start);
      }
    };
    await Promise.all(Array.from({ length: opts.clients }, (_, c) => client(c)));
    clearInterval(sampler);
    const elapsed = (performance.now() - t0) / 1000;

    // RSS: median of the samples in the first and in the last 10 % of the measured window, so a
    // single GC cycle does not decide the drift.
    const measured = rss.filter((s) => s.t >= warmEnd);
    const span = Math.max(1, Math.floor(measured.length / 10));
    const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];
    const rssAfterWarmup = measured.length ? med(measured.slice(0, span).map((s) => s.bytes)) : NaN;
    const rssEnd = measured.length ? med(measured.slice(-span).map((s) => s.bytes)) : NaN;
    latencies.sort((a, b) => a - b);
    const errorCount = Object.values(errors).reduce((a, b) => a + b, 0);
    return {
      benchmark: 'soak',
      backbone: config.backboneDir,
      seconds: opts.seconds,
      warmupSeconds: opts.warmup,
      clients: opts.clients,
      inspectWorkers: config.inspectWorkers,
      requests,
      requestsPerSecond: Math.round((requests / elapsed) * 10) / 10,
      errors: errorCount,
      errorsByKind: errors,
      latencyMs: {
        p50: Math.round(percentile(latencies, 0.5) * 10) / 10,
        p95: Math.round(percentile(latencies, 0.95) * 10) / 10,
        p99: Math.round(percentile(latencies, 0.99) * 10) / 10,
        max: Math.round((latencies.at(-1) ?? NaN) * 10) / 10,
      },
      rssMB: { afterWarmup: mb(rssAfterWarmup), end: mb(rssEnd), max: mb(Math.max(...rss.map((s) => s.bytes))) },
      rssDriftPercent: Math.round(((rssEnd - rssAfterWarmup) / rssAfterWarmup) * 1000) / 10,
      loadAverage: os.loadavg().map((v) => Math.round(v * 100) / 100),
    };
  } finally {
    service.beginShutdown();
    await app.close();
    await service.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}
