/**
 * The process configuration: read from the environment once, with every default in this file.
 * Everything else receives a `ServiceConfig` (or part of it) as an argument; nothing else reads
 * `process.env`.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import v8 from 'node:v8';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { appError } from './errors.js';

/** Repository root (two levels above dist/src/common or src/common). */
export const PROJECT_ROOT = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  fileURLToPath(import.meta.url).includes(`${path.sep}dist${path.sep}`) ? '../../..' : '../..',
);

export const DEFAULT_BACKBONE_ID = 'resnet50-keras-imagenet';

/** The container's limits (cgroup v2, else v1); null where there is none. */
export interface ContainerLimits {
  cpus: number | null;
  memoryBytes: number | null;
}

function readTrimmed(file: string): string | null {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
}

/**
 * CPU quota (cpu.max "quota period", rounded up to whole cores) and memory limit (memory.max) of
 * the cgroup at `root`; "max", absent files and v1's "unlimited" values are null.
 */
export function readContainerLimits(root = '/sys/fs/cgroup'): ContainerLimits {
  let cpus: number | null = null;
  const cpuMax = readTrimmed(path.join(root, 'cpu.max'))?.split(/\s+/);
  const v1Quota = Number(readTrimmed(path.join(root, 'cpu', 'cpu.cfs_quota_us')));
  const v1Period = Number(readTrimmed(path.join(root, 'cpu', 'cpu.cfs_period_us')));
  if (cpuMax && cpuMax[0] !== 'max' && Number(cpuMax[0]) > 0) cpus = Math.ceil(Number(cpuMax[0]) / Number(cpuMax[1] ?? 100000));
  else if (!cpuMax && v1Quota > 0 && v1Period > 0) cpus = Math.ceil(v1Quota / v1Period);
  let memoryBytes: number | null = null;
  const memMax = readTrimmed(path.join(root, 'memory.max')) ?? readTrimmed(path.join(root, 'memory', 'memory.limit_in_bytes'));
  // v1 reports "no limit" as a huge number near 2^63.
  if (memMax && memMax !== 'max' && Number(memMax) > 0 && Number(memMax) < 2 ** 60) memoryBytes = Number(memMax);
  return { cpus: Number.isFinite(cpus) ? cpus : null, memoryBytes };
}

/** Share of the memory limit the service plans to use; the rest is headroom (libvips, onnxruntime arenas, GC). */
const MEMORY_BUDGET_SHARE = 0.8;

/** Worker, thread and memory defaults from the container's limits, else from the host. */
export function sizingDefaults(limits: ContainerLimits): Pick<ServiceConfig, 'inspectWorkers' | 'ortThreads' | 'memoryBudgetBytes'> {
  const cores = Math.max(1, Math.min(os.availableParallelism(), limits.cpus ?? Infinity));
  const memory = Math.min(os.totalmem(), limits.memoryBytes ?? Infinity);
  return { inspectWorkers: cores, ortThreads: cores, memoryBudgetBytes: Math.floor(MEMORY_BUDGET_SHARE * memory) };
}

const SIZING = sizingDefaults(readContainerLimits());

/** `inspect`: inspection routes and every read; `admin`: everything. */
export type KeyScope = 'inspect' | 'admin';

export interface ApiKey {
  key: string;
  scope: KeyScope;
}

export interface ServiceConfig {
  port: number;
  host: string;
  dataDir: string;
  backboneDir: string;
  apiKeys: ApiKey[];
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
  /**
   * Threads a lone inspection's search walks its candidate tree on (each past the first is a lane
   * thread per inspection worker, with its own tree, about 10 MB on a 15,680-row bank); at most
   * `ortThreads`; 1: no lanes.
   */
  searchLanes: number;
  /** SIGTERM: /readyz answers 503 for this long while requests are still served, then the server stops. */
  drainMs: number;
  /** Load shedding (503 + Retry-After): mean event-loop delay over a second, heap in use; 0 = off. */
  pressureMaxEventLoopDelayMs: number;
  pressureMaxHeapBytes: number;
  /** Memory the process may plan for: a build or bank load that would go past it is refused. */
  memoryBudgetBytes: number;
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
  inspectWorkers: SIZING.inspectWorkers,
  inspectQueue: 64,
  bankCacheBytes: 512 * 1024 * 1024,
  ortThreads: SIZING.ortThreads,
  searchLanes: SIZING.ortThreads,
  drainMs: 5000,
  pressureMaxEventLoopDelayMs: 1000,
  // Near V8's heap limit the process would die of "heap out of memory": shed load before.
  pressureMaxHeapBytes: Math.floor(0.9 * v8.getHeapStatistics().heap_size_limit),
  memoryBudgetBytes: SIZING.memoryBudgetBytes,
});

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min) throw appError('CONFIG_INVALID', [`${name} must be an integer >= ${min}, got "${raw}"`]);
  return v;
}

/**
 * API_KEYS and the file API_KEYS_FILE (container secrets) hold entries separated by commas or
 * newlines: `admin:<key>`, `inspect:<key>`, or a bare `<key>`, which is an admin key (the format
 * before scopes existed).
 */
function apiKeys(env: Env): ApiKey[] {
  let text = env.API_KEYS ?? '';
  if (env.API_KEYS_FILE) {
    try {
      text += `\n${readFileSync(env.API_KEYS_FILE, 'utf8')}`;
    } catch (err) {
      throw appError('CONFIG_INVALID', [`API_KEYS_FILE ${env.API_KEYS_FILE} cannot be read: ${(err as Error).message}`]);
    }
  }
  return text
    .split(/[,\n]/)
    .map((e) => e.trim())
    .filter((e) => e.length > 0)
    .map((entry) => {
      const m = /^(admin|inspect):(.*)$/.exec(entry);
      const key = m ? m[2].trim() : entry;
      if (key.length === 0) throw appError('CONFIG_INVALID', [`API key entry "${m![1]}:" has no key`]);
      return { key, scope: m ? (m[1] as KeyScope) : 'admin' };
    });
}

/** Parse the environment; throws with the variable's name on a bad value. */
export function loadConfig(env: Env = process.env): ServiceConfig {
  return {
    port: int(env, 'PORT', DEFAULTS.port),
    host: env.HOST || DEFAULTS.host,
    dataDir: path.resolve(env.DATA_DIR || DEFAULTS.dataDir),
    backboneDir: path.resolve(env.BACKBONE_DIR || DEFAULTS.backboneDir),
    apiKeys: apiKeys(env),
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
    searchLanes: int(env, 'SEARCH_LANES', DEFAULTS.searchLanes, 1),
    drainMs: int(env, 'DRAIN_MS', DEFAULTS.drainMs),
    pressureMaxEventLoopDelayMs: int(env, 'PRESSURE_MAX_EVENT_LOOP_DELAY_MS', DEFAULTS.pressureMaxEventLoopDelayMs),
    pressureMaxHeapBytes: int(env, 'PRESSURE_MAX_HEAP_BYTES', DEFAULTS.pressureMaxHeapBytes),
    memoryBudgetBytes: int(env, 'MEMORY_BUDGET_BYTES', DEFAULTS.memoryBudgetBytes, 1),
  };
}
