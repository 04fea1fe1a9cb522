/** Test harness: a real service + Fastify app on 127.0.0.1, an ephemeral port and a temporary DATA_DIR. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
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
  const config = loadConfig({
    INSPECT_WORKERS: '1',
    ORT_THREADS: '1',
    LOG_LEVEL: 'silent',
    MIN_TRAIN_IMAGES: '10',
    ...env,
    DATA_DIR: dataDir,
  });
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

export { partImage, type Defect } from '../../src/eval/synthetic-parts.js';
