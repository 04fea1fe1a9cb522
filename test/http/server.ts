/** Test harness: a real service + Fastify app on 127.0.0.1, an ephemeral port and a temporary DATA_DIR. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { loadConfig, type ServiceConfig } from '../../src/common/config.js';
import { buildApp } from '../../src/http/app.js';
import { createLogger } from '../../src/http/logger.js';
import type { App } from '../../src/http/types.js';
import { createService, type Service } from '../../src/service/index.js';

export interface TestServer {
  url: string;
  app: App;
  service: Service;
  config: ServiceConfig;
  /** Closes app and service; keeps DATA_DIR unless `removeData`. */
  close(removeData?: boolean): Promise<void>;
}

export async function tempDataDir(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'sp-http-'));
}

/** Starts a server; `env` overrides the test defaults (one inspection worker, one ORT thread, quiet logs). */
export async function startServer(env: Record<string, string> = {}, opts: { waitForBackbone?: boolean } = {}): Promise<TestServer> {
  const dataDir = env.DATA_DIR ?? (await tempDataDir());
  const config = loadConfig({ INSPECT_WORKERS: '1', ORT_THREADS: '1', LOG_LEVEL: 'silent', MIN_TRAIN_IMAGES: '10', ...env, DATA_DIR: dataDir });
  const logger = createLogger(config.logLevel);
  const service = await createService(config, logger);
  if (opts.waitForBackbone !== false) await service.backboneReady;
  const app = await buildApp({ service, config, logger });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    app,
    service,
    config,
    async close(removeData = false) {
      service.beginShutdown();
      await app.close();
      await service.close();
      if (removeData) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Json {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export async function call(base: string, method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Json> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body instanceof FormData || body instanceof Uint8Array || typeof body === 'string') init.body = body as BodyInit;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] = 'application/json';
  }
  const res = await fetch(base + url, init);
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON (metrics, PNG): keep the text
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

export function form(files: { name: string; bytes: Uint8Array; type?: string }[], field = 'images'): FormData {
  const fd = new FormData();
  for (const f of files) fd.append(field, new Blob([new Uint8Array(f.bytes)], { type: f.type ?? 'image/png' }), f.name);
  return fd;
}

/** A defect painted on a part: a stain with a scratch, the square (x, y, size) of the image. */
export interface Defect {
  x: number;
  y: number;
  size: number;
}

/**
 * A synthetic part photo (square `size`, or `width` × `height`): a grey, horizontally striped
 * background with a dark ring near the middle;
 * brightness, stripe phase, ring position and pixel noise vary per seed; optionally a painted defect.
 */
export async function partImage(seed: number, opts: { size?: number; width?: number; height?: number; defect?: Defect; format?: 'png' | 'jpeg' } = {}): Promise<Buffer> {
  const width = opts.width ?? opts.size ?? 128;
  const height = opts.height ?? opts.size ?? 128;
  const size = Math.min(width, height);
  let s = (seed * 2654435761) >>> 0 || 1;
  const rand = (): number => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s / 4294967296;
  };
  const gain = 0.95 + 0.1 * rand();
  const phase = (rand() - 0.5) * 1.2;
  const cx = width / 2 + (rand() - 0.5) * 3;
  const cy = height / 2 + (rand() - 0.5) * 3;
  const px = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const r = Math.hypot(x - cx, y - cy);
      let v = 140 + 25 * Math.sin((2 * Math.PI * y) / 12 + phase);
      if (r > size * 0.22 && r < size * 0.32) v = 55;
      v = v * gain + (rand() - 0.5) * 12;
      let rgb = [v, v * 0.97, v * 0.9];
      const d = opts.defect;
      if (d && x >= d.x && x < d.x + d.size && y >= d.y && y < d.y + d.size) {
        // A stain: darker and warmer, with a scratch across it.
        const onScratch = Math.abs(x - d.x - (y - d.y)) < 1.5;
        rgb = onScratch ? [30, 30, 30] : [rgb[0] * 0.75, rgb[1] * 0.6, rgb[2] * 0.45];
      }
      const o = 3 * (y * width + x);
      for (let k = 0; k < 3; k++) px[o + k] = Math.max(0, Math.min(255, Math.round(rgb[k])));
    }
  }
  const img = sharp(px, { raw: { width, height, channels: 3 } });
  return opts.format === 'jpeg' ? img.jpeg({ quality: 95 }).toBuffer() : img.png().toBuffer();
}
