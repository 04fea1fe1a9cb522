/**
 * The inspection service without HTTP: the store (after startup recovery), the build manager, the
 * inspection pool, metrics and readiness. `src/http` maps routes onto it; `close()` is the
 * graceful part of shutdown (finish inspections, stop builds cleanly).
 */
import type { Logger } from 'pino';
import { Gauge, Registry } from 'prom-client';
import { readManifest, verifyModelFiles } from '../backbone/manifest.js';
import type { BackboneManifest } from '../backbone/types.js';
import type { ServiceConfig } from '../common/config.js';
import { kernels } from '../engine/index.js';
import { Store } from '../store/index.js';
import { BuildManager } from './builds.js';
import { residentBytes } from '../common/process-memory.js';
import { MemoryBudget, SEARCH_INDEX_BYTES_PER_ROW } from './capacity.js';
import { ImageService } from './images.js';
import { InspectionService } from './inspection.js';
import { LineService } from './lines.js';
import { createServiceMetrics, registerDataMetrics, registerMemoryMetrics, type ServiceMetrics } from './metrics.js';
import { ValidationService } from './validation.js';

export interface ReadinessCheck {
  ok: boolean;
  message?: string;
}

export interface Readiness {
  ready: boolean;
  checks: { backbone: ReadinessCheck; dataDir: ReadinessCheck; shutdown: ReadinessCheck };
}

export interface Service {
  readonly config: ServiceConfig;
  readonly store: Store;
  readonly registry: Registry;
  readonly metrics: ServiceMetrics;
  readonly lines: LineService;
  readonly images: ImageService;
  readonly validation: ValidationService;
  readonly builds: BuildManager;
  readonly inspection: InspectionService;
  /** Resolves once the backbone is verified and loaded in every inspection worker (or failed to). */
  readonly backboneReady: Promise<void>;
  readiness(): Promise<Readiness>;
  /** True from `beginShutdown()` on: readiness is 503 and new requests are refused. */
  readonly shuttingDown: boolean;
  /** Readiness turns 503 (load balancers stop sending) while requests are still served. */
  beginDrain(): void;
  /** Marks the service as shutting down without stopping anything yet. */
  beginShutdown(): void;
  close(): Promise<void>;
}

export async function createService(config: ServiceConfig, log: Logger): Promise<Service> {
  // Loaded bank rows in shared WebAssembly memories: the inspection workers' exact distances run there.
  const store = new Store(config.dataDir, config.bankCacheBytes, kernels.sharedRows);
  const recovery = await store.open();
  log.info({ dataDir: config.dataDir, ...recovery }, 'data directory recovered');

  const registry = new Registry();
  const metrics = createServiceMetrics(registry);
  registerMemoryMetrics(registry, {
    bankBytes: () => store.bankCache.bytes,
    // The index made once (shared) plus each worker's private copy for onnxruntime: (128 + 2) float32 per row.
    searchIndexBytes: () => store.bankCache.rows * (config.inspectWorkers + 1) * SEARCH_INDEX_BYTES_PER_ROW,
    buildProcessBytes: async () => (await Promise.all(builds.processIds.map(residentBytes))).reduce((a, b) => a + b, 0),
  });
  registerDataMetrics(registry, () => store.usage());
  let manifest: BackboneManifest | null = null;
  let backboneError: string | null = 'loading';
  let shuttingDown = false;
  let draining = false;

  const readiness = async (): Promise<Readiness> => {
    const writable = await store.writable();
    const checks = {
      backbone:
        backboneError === null
          ? { ok: true }
          : { ok: false, message: backboneError === 'loading' ? 'the backbone is still loading' : `backbone not loaded: ${backboneError}` },
      // A full disk still serves inspections (ready); uploads and builds answer 507 meanwhile.
      dataDir:
        writable === 'ok'
          ? { ok: true }
          : writable === 'full'
            ? { ok: true, message: `DATA_DIR ${config.dataDir} is full: uploads and builds answer 507` }
            : { ok: false, message: `DATA_DIR ${config.dataDir} is not writable` },
      shutdown: shuttingDown || draining ? { ok: false, message: 'the service is shutting down' } : { ok: true },
    };
    return { ready: checks.backbone.ok && checks.dataDir.ok && checks.shutdown.ok, checks };
  };
  new Gauge({
    name: 'softpatch_ready',
    help: '1 when /readyz would answer 200 (alert rule SoftpatchNotReady)',
    registers: [registry],
    async collect() {
      this.set((await readiness()).ready ? 1 : 0);
    },
  });

  const budget = new MemoryBudget(config.memoryBudgetBytes, config.inspectWorkers);
  // Builds evaluate their bank and inspections resolve their threshold through the validation
  // service, which scores with the inspection pool: the closures are called only after construction.
  const builds: BuildManager = new BuildManager({
    store,
    config,
    metrics,
    log,
    budget,
    manifest: () => manifest,
    afterCommit: (line, version) => validation.afterBuild(line, version),
  });
  const inspection: InspectionService = new InspectionService({
    store,
    config,
    metrics,
    log,
    budget,
    thresholdFor: (line, bank, override) => validation.thresholdFor(line, bank, override),
  });
  const validation: ValidationService = new ValidationService(store, config, inspection, log);
  const lines = new LineService(store, builds, metrics, log, budget, validation);
  const images = new ImageService(store, config);
  await lines.publishBankRows();

  const backboneReady = (async () => {
    try {
      const m = await readManifest(config.backboneDir);
      const problems = await verifyModelFiles(config.backboneDir, m);
      if (problems.length) throw new Error(problems.join('; '));
      const loaded = await inspection.warmup();
      manifest = m;
      backboneError = null;
      log.info({ backbone: loaded.backboneId, sha256: loaded.backboneSha256, workers: config.inspectWorkers }, 'backbone loaded');
    } catch (err) {
      backboneError = (err as Error).message;
      log.error({ err, backboneDir: config.backboneDir }, 'backbone could not be loaded');
    }
  })();

  return {
    config,
    store,
    registry,
    metrics,
    lines,
    images,
    validation,
    builds,
    inspection,
    backboneReady,
    get shuttingDown(): boolean {
      return shuttingDown;
    },
    readiness,
    beginDrain(): void {
      draining = true;
    },
    beginShutdown(): void {
      shuttingDown = true;
    },
    async close(): Promise<void> {
      shuttingDown = true;
      await backboneReady;
      await Promise.all([builds.close(), inspection.close()]);
      log.info('service stopped');
    },
  };
}
