/**
 * Inspection: scores images against a line's active bank in a pool of worker threads (piscina),
 * so the event loop only parses requests and formats answers. Requests beyond the pool's queue
 * limit are refused with 429 and a Retry-After estimate.
 */
import { Piscina } from 'piscina';
import type { Logger } from 'pino';
import { probeImage } from '../backbone/preprocess.js';
import type { ServiceConfig } from '../common/config.js';
import { AppError, appError, isAppError } from '../common/errors.js';
import type { LineRecord, Store } from '../store/index.js';
import type { LoadedBank } from '../store/banks.js';
import type { BankSearchIndexes, BankSet, FastIndexData } from '../engine/index.js';
import type {
  HeatmapKind,
  InspectImageResult,
  InspectTask,
  InspectTaskResult,
  InspectWorkerData,
  WarmupResult,
} from './inspect-protocol.js';
import type { MemoryBudget } from './capacity.js';
import type { ServiceMetrics } from './metrics.js';
import type { InspectionResponse, InspectionResultView } from './views.js';

/** Images per worker task: large requests are spread over the workers, small ones stay one batch. */
const TASK_BATCH = 8;

export interface InspectOptions {
  heatmap: HeatmapKind;
  threshold?: number;
  regions: boolean;
  opacity: number;
  /** A stored bank version to score with instead of the active one. */
  bank?: number;
}

export interface InspectFile {
  filename: string;
  bytes: Buffer;
}

export interface InspectionDeps {
  store: Store;
  config: ServiceConfig;
  metrics: ServiceMetrics;
  log: Logger;
  budget: MemoryBudget;
  /** The decision threshold of a request against `bank` (line policy, `?threshold=` override). */
  thresholdFor: (line: LineRecord, bank: LoadedBank, override?: number) => Promise<number>;
}

const round = (v: number): number => Math.round(v * 100) / 100;

function sharedIndex(d: FastIndexData): FastIndexData {
  const shared = (a: Float32Array): Float32Array => {
    const s = new Float32Array(new SharedArrayBuffer(a.byteLength));
    s.set(a);
    return s;
  };
  return { pdim: d.pdim, mu: shared(d.mu), basis: shared(d.basis), aug: shared(d.aug), augNorm2: shared(d.augNorm2) };
}

/** onnxruntime threads of one inspection worker: the workers share the cores. */
export function inspectThreads(config: Pick<ServiceConfig, 'ortThreads' | 'inspectWorkers'>): number {
  return Math.max(1, Math.floor(config.ortThreads / config.inspectWorkers));
}

export class InspectionService {
  private readonly pool: Piscina;
  private inFlight = 0;
  /** Tasks handed to the pool and not finished, shared with the workers (their search threads follow it). */
  private readonly running = new Int32Array(new SharedArrayBuffer(4));
  /** Moving average of one task's wall time, for Retry-After. */
  private taskMs = 200;
  private backbone: WarmupResult | null = null;
  /** Search indexes made by a worker, per loaded bank, in shared memory for every worker; they go with the bank. */
  private readonly searchIndexes = new WeakMap<BankSet, BankSearchIndexes>();
  /** Banks whose index a worker is making now. */
  private readonly making = new WeakMap<BankSet, Promise<void>>();

  constructor(private readonly deps: InspectionDeps) {
    const { config } = deps;
    const workerData: InspectWorkerData = {
      backboneDir: config.backboneDir,
      threads: inspectThreads(config),
      searchThreads: config.ortThreads,
      searchLanes: Math.min(config.searchLanes, config.ortThreads),
      inFlight: this.running,
      workers: config.inspectWorkers,
      cachedBankBytes: config.bankCacheBytes,
    };
    this.pool = new Piscina({
      filename: new URL('./inspect-worker.js', import.meta.url).href,
      minThreads: config.inspectWorkers,
      maxThreads: config.inspectWorkers,
      idleTimeout: Infinity,
      workerData,
    });
  }

  /** Loads the backbone in every worker; resolves with its identity. */
  async warmup(): Promise<WarmupResult> {
    const all = await Promise.all(
      Array.from({ length: this.deps.config.inspectWorkers }, () => this.pool.run({ type: 'warmup' }) as Promise<WarmupResult>),
    );
    this.backbone = all[0];
    return all[0];
  }

  get queued(): number {
    return this.pool.queueSize;
  }

  async inspect(lineId: string, files: InspectFile[], opts: InspectOptions): Promise<InspectionResponse> {
    const { store, metrics } = this.deps;
    if (files.length === 0) throw appError('NO_IMAGES_FIELD');
    const line = await store.lines.get(lineId);
    // From here on the line exists, so failures are counted under its label.
    try {
      const version = opts.bank ?? line.activeBank;
      if (version === null) throw appError('NO_ACTIVE_BANK', [lineId]);
      const { bank, threshold, outputs } = await this.score(line, version, files, opts, (b) =>
        this.deps.thresholdFor(line, b, opts.threshold),
      );
      const results = outputs.map((r, i) => this.view(lineId, files[i].filename, r, threshold));
      return { line: lineId, bank: { version: bank.version, method: bank.meta.method, active: bank.version === line.activeBank }, results };
    } catch (err) {
      metrics.inspections.inc({ line: lineId, result: 'error' }, files.length);
      throw err;
    }
  }

  /** Image scores of photos against one stored bank (the validation evaluation): no heatmaps, not counted as inspections. */
  async imageScores(lineId: string, version: number, files: InspectFile[]): Promise<number[]> {
    const line = await this.deps.store.lines.get(lineId);
    const { outputs } = await this.score(
      line,
      version,
      files,
      { heatmap: 'none', regions: false, opacity: 0 },
      async (b) => b.meta.threshold,
    );
    return outputs.map((r) => r.score);
  }

  private async score(
    line: LineRecord,
    version: number,
    files: InspectFile[],
    opts: InspectOptions,
    thresholdOf: (bank: LoadedBank) => Promise<number>,
  ): Promise<{ bank: LoadedBank; threshold: number; outputs: InspectImageResult[] }> {
    const { store, config } = this.deps;
    if (!this.backbone) throw appError('UNAVAILABLE', ['The backbone is not loaded yet; retry when /readyz answers 200']);
    const tasks = Math.ceil(files.length / TASK_BATCH);
    if (this.inFlight + tasks > config.inspectWorkers + config.inspectQueue) {
      const seconds = Math.max(1, Math.ceil(((this.inFlight / config.inspectWorkers) * this.taskMs) / 1000));
      throw appError('BUSY', [seconds], { retryAfterSeconds: seconds });
    }
    this.inFlight += tasks;
    try {
      for (const f of files) {
        try {
          await probeImage(f.bytes, config.maxPixels);
        } catch (err) {
          if (isAppError(err)) throw new AppError(err, [], { filename: f.filename });
          throw err;
        }
      }
      const bank = await this.deps.budget.loadBank(store, line.id, version);
      this.checkBackbone(bank);
      const threshold = await thresholdOf(bank);
      const bankKey = `${line.id}/${bank.version}/${bank.meta.files['cls.features.bin']?.sha256 ?? ''}`;
      const chunks: InspectFile[][] = [];
      for (let i = 0; i < files.length; i += TASK_BATCH) chunks.push(files.slice(i, i + TASK_BATCH));
      const run = (chunk: InspectFile[], searchIndex: BankSearchIndexes | null): Promise<InspectImageResult[]> =>
        this.runTask(
          {
            type: 'inspect',
            bankKey,
            bankSet: bank.bankSet,
            searchIndex,
            images: chunk.map((f) => new Uint8Array(f.bytes.buffer, f.bytes.byteOffset, f.bytes.byteLength)),
            preprocess: {
              resize: bank.meta.config.resize,
              crop: bank.meta.config.crop,
              align: bank.meta.config.align,
              maxPixels: config.maxPixels,
            },
            blurSigma: Number(bank.meta.engineConfig.blurSigma ?? 4),
            threshold,
            scale: bank.meta.colorScale,
            heatmap: opts.heatmap,
            opacity: opts.opacity,
            regions: opts.regions,
          },
          chunk,
          bank.bankSet,
        );
      const set = bank.bankSet;
      if (!this.searchIndexes.has(set) && this.making.has(set)) await this.making.get(set);
      let outputs: InspectImageResult[][];
      const index = this.searchIndexes.get(set) ?? null;
      if (index === null && !this.making.has(set)) {
        // This request makes the bank's search index: its first task alone, and every other task
        // (its own and other requests') then carries the index instead of making it again.
        let made!: () => void;
        this.making.set(
          set,
          new Promise<void>((r) => {
            made = r;
          }),
        );
        let first: InspectImageResult[];
        try {
          first = await run(chunks[0], null);
        } finally {
          this.making.delete(set);
          made();
        }
        const rest = await Promise.all(chunks.slice(1).map((c) => run(c, this.searchIndexes.get(set) ?? null)));
        outputs = [first, ...rest];
      } else {
        outputs = await Promise.all(chunks.map((c) => run(c, index)));
      }
      return { bank, threshold, outputs: outputs.flat() };
    } finally {
      this.inFlight -= tasks;
    }
  }

  private checkBackbone(bank: LoadedBank): void {
    const b = this.backbone!;
    if (bank.meta.backbone.sha256 !== b.backboneSha256) {
      throw appError('BANK_BACKBONE_MISMATCH', [`${bank.line}/${bank.version}`, bank.meta.backbone.id, b.backboneId]);
    }
  }

  private async runTask(task: InspectTask, chunk: InspectFile[], set: BankSet): Promise<InspectImageResult[]> {
    const t0 = performance.now();
    Atomics.add(this.running, 0, 1);
    let out: InspectTaskResult;
    try {
      out = (await this.pool.run(task)) as InspectTaskResult;
    } finally {
      Atomics.sub(this.running, 0, 1);
    }
    this.taskMs = 0.8 * this.taskMs + 0.2 * (performance.now() - t0);
    if (!out.ok) {
      throw new AppError({ code: out.error.code, status: out.error.status, message: out.error.message }, [], {
        filename: chunk[out.index].filename,
      });
    }
    if (out.searchIndex && !this.searchIndexes.has(set)) {
      this.searchIndexes.set(set, { cls: sharedIndex(out.searchIndex.cls), seg: out.searchIndex.seg && sharedIndex(out.searchIndex.seg) });
    }
    return out.results;
  }

  private view(lineId: string, filename: string, r: InspectImageResult, threshold: number): InspectionResultView {
    const { metrics } = this.deps;
    const anomalous = r.score > threshold;
    metrics.inspections.inc({ line: lineId, result: anomalous ? 'anomalous' : 'normal' });
    for (const stage of ['decode', 'backbone', 'search', 'render'] as const) {
      metrics.inspectDuration.observe({ line: lineId, stage }, r.timingsMs[stage] / 1000);
    }
    const view: InspectionResultView = {
      filename,
      width: r.width,
      height: r.height,
      score: r.score,
      normalizedScore: r.score / threshold,
      threshold,
      anomalous,
      timingsMs: {
        decode: round(r.timingsMs.decode),
        backbone: round(r.timingsMs.backbone),
        search: round(r.timingsMs.search),
        render: round(r.timingsMs.render),
      },
    };
    if (r.heatmap) view.heatmap = Buffer.from(r.heatmap.buffer, r.heatmap.byteOffset, r.heatmap.byteLength);
    if (r.regions) view.regions = r.regions;
    return view;
  }

  /** Waits for running tasks, then stops the workers. */
  async close(): Promise<void> {
    await this.pool.close();
  }
}
