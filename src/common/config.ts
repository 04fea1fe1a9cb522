/**
 * The process configuration: read from the environment once, with every default in this file.
 * Everything else receives a `ServiceConfig` (or part of it) as an argument; nothing else reads
 * `process.env`.
 */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { appError } from './errors.js';

/** Repository root (two levels above dist/src/common or src/common). */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), fileURLToPath(import.meta.url).includes(`${path.sep}dist${path.sep}`) ? '../../..' : '../..');

export const DEFAULT_BACKBONE_ID = 'resnet50-keras-imagenet';

export interface ServiceConfig {
  port: number;
  host: string;
  dataDir: string;
  backboneDir: string;
  apiKeys: string[];
  logLevel: string;
  maxFileBytes: number;
  maxRequestBytes: number;
  maxUploadFiles: number;
  maxInspectFiles: number;
  maxPixels: number;
  minTrainImages: number;
  maxBankBytes: number;
  buildConcurrency: number;
  inspectWorkers: number;
  inspectQueue: number;
  bankCacheBytes: number;
  ortThreads: number;
}

export const DEFAULTS: Readonly<ServiceConfig> = Object.freeze({
  port: 3000,
  host: '0.0.0.0',
  dataDir: './data',
  backboneDir: path.join(PROJECT_ROOT, 'models', DEFAULT_BACKBONE_ID),
  apiKeys: [],
  logLevel: 'info',
  maxFileBytes: 20 * 1024 * 1024,
  maxRequestBytes: 512 * 1024 * 1024,
  maxUploadFiles: 500,
  maxInspectFiles: 32,
  maxPixels: 50_000_000,
  minTrainImages: 10,
  maxBankBytes: 4 * 1024 * 1024 * 1024,
  buildConcurrency: 1,
  inspectWorkers: Math.max(1, os.availableParallelism()),
  inspectQueue: 64,
  bankCacheBytes: 512 * 1024 * 1024,
  ortThreads: Math.max(1, os.availableParallelism()),
});

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min) throw appError('CONFIG_INVALID', [`${name} must be an integer >= ${min}, got "${raw}"`]);
  return v;
}

/** Parse the environment; throws with the variable's name on a bad value. */
export function loadConfig(env: Env = process.env): ServiceConfig {
  return {
    port: int(env, 'PORT', DEFAULTS.port),
    host: env.HOST || DEFAULTS.host,
    dataDir: path.resolve(env.DATA_DIR || DEFAULTS.dataDir),
    backboneDir: path.resolve(env.BACKBONE_DIR || DEFAULTS.backboneDir),
    apiKeys: (env.API_KEYS ?? '').split(',').map((k) => k.trim()).filter((k) => k.length > 0),
    logLevel: env.LOG_LEVEL || DEFAULTS.logLevel,
    maxFileBytes: int(env, 'MAX_FILE_BYTES', DEFAULTS.maxFileBytes, 1),
    maxRequestBytes: int(env, 'MAX_REQUEST_BYTES', DEFAULTS.maxRequestBytes, 1),
    maxUploadFiles: int(env, 'MAX_FILES', DEFAULTS.maxUploadFiles, 1),
    maxInspectFiles: int(env, 'MAX_INSPECT_FILES', DEFAULTS.maxInspectFiles, 1),
    maxPixels: int(env, 'MAX_PIXELS', DEFAULTS.maxPixels, 1),
    minTrainImages: int(env, 'MIN_TRAIN_IMAGES', DEFAULTS.minTrainImages, 1),
    maxBankBytes: int(env, 'MAX_BANK_BYTES', DEFAULTS.maxBankBytes, 1),
    buildConcurrency: int(env, 'BUILD_CONCURRENCY', DEFAULTS.buildConcurrency, 1),
    inspectWorkers: int(env, 'INSPECT_WORKERS', DEFAULTS.inspectWorkers, 1),
    inspectQueue: int(env, 'INSPECT_QUEUE', DEFAULTS.inspectQueue, 1),
    bankCacheBytes: int(env, 'BANK_CACHE_BYTES', DEFAULTS.bankCacheBytes, 1),
    ortThreads: int(env, 'ORT_THREADS', DEFAULTS.ortThreads, 1),
  };
}
