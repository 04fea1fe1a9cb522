/**
 * The build manager: one build per line, at most BUILD_CONCURRENCY running (the rest queued), each
 * in its own child process, so the HTTP event loop stays free and every byte the build used goes
 * back to the system when it ends (a thread's native memory stays in this process's allocator). It owns the live build records,
 * persists them at every stage change, and on success renames the staged bank into place, records
 * the build and only then activates the new bank (guide §4).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { BackboneManifest } from '../backbone/types.js';
import type { ServiceConfig } from '../common/config.js';
import { appError, catalogued } from '../common/errors.js';
import type { Store } from '../store/index.js';
import { newBuildId } from '../store/ids.js';
import type { BuildError, BuildRecord } from '../store/types.js';
import type { BuildJob, ManagerMessage, StagedBank, WorkerMessage } from './build-protocol.js';
import { assertWithinCapacity, estimateBuild, type MemoryBudget, turnedEstimate } from './capacity.js';
import { engineConfigFor, mergeLineConfig, withDefaults, type LineConfigPatch } from './line-config.js';
import type { ServiceMetrics } from './metrics.js';
import { applyRetention } from './retention.js';

/** How long a running build may take to stop after `cancel` before its process is killed. */
const CANCEL_GRACE_MS = 5000;
/** Images per backbone run while embedding. */
const EMBED_BATCH = 8;
const BUILD_PROCESS = fileURLToPath(new URL('./build-worker.js', import.meta.url));

/** A message to a build process; one that has already exited ignores it (its exit settles the build). */
function send(child: ChildProcess, msg: ManagerMessage): void {
  if (child.connected) child.send(msg, () => undefined);
}

type StopReason = 'cancel' | 'shutdown' | 'delete';

interface ActiveBuild {
  record: BuildRecord;
  worker: ChildProcess | null;
  stopReason: StopReason | null;
  /** Settles when the build reached its final state. */
  done: Promise<void>;
  resolveDone: () => void;
  /** Serialises record writes of this build. */
  writes: Promise<void>;
  /** Peak memory estimate, reserved in the memory budget while the build is active. */
  estimatedBytes: number;
}

export interface BuildManagerDeps {
  store: Store;
  config: ServiceConfig;
  metrics: ServiceMetrics;
  log: Logger;
  budget: MemoryBudget;
  /** The backbone's manifest once it is known to be loadable; builds are refused before. */
  manifest: () => BackboneManifest | null;
  /** Runs once a new bank is in place, before the build is recorded and the bank activated (the validation evaluation). */
  afterCommit?: (lineId: string, version: number) => Promise<void>;
}

/** A stored record with the settings added since it was written. */
function completed(b: BuildRecord): BuildRecord {
  return { ...b, config: withDefaults(b.config) };
}

export class BuildManager {
  private readonly active = new Map<string, ActiveBuild>();
  private readonly byLine = new Map<string, string>();
  private readonly queue: string[] = [];
  private readonly jobs = new Map<string, BuildJob>();
  private running = 0;
  private closing = false;

  constructor(private readonly deps: BuildManagerDeps) {}

  get queueLength(): number {
    return this.queue.length;
  }

  /** Process ids of the running builds. */
  get processIds(): number[] {
    const ids: number[] = [];
    for (const a of this.active.values()) if (a.worker?.pid !== undefined) ids.push(a.worker.pid);
    return ids;
  }

  /** Validates and queues a build; answers at once with the queued record. */
  async start(lineId: string, overrides: LineConfigPatch | undefined): Promise<BuildRecord> {
    const { store, config } = this.deps;
    if (this.closing) throw appError('UNAVAILABLE', ['The service is shutting down']);
    const manifest = this.deps.manifest();
    if (!manifest) throw appError('UNAVAILABLE', ['The backbone is not loaded yet; retry when /readyz answers 200']);
    const line = await store.lines.get(lineId);
    const buildConfig = mergeLineConfig(withDefaults(line.config), overrides);
    const engineConfig = engineConfigFor(buildConfig);
    const all = await store.images.list(lineId);
    const images = buildConfig.trainImages === null ? all : all.slice(-buildConfig.trainImages);
    if (this.byLine.has(lineId)) throw appError('BUILD_IN_PROGRESS', [lineId]);
    if (images.length < config.minTrainImages) throw appError('TOO_FEW_IMAGES', [config.minTrainImages, images.length]);
    let estimate = estimateBuild(images, buildConfig, engineConfig, manifest);
    assertWithinCapacity(estimate, config.maxBankBytes);
    // Builds already queued or running will need their share too.
    const reserved = [...this.active.values()].reduce((sum, b) => sum + b.estimatedBytes, 0);
    const what = reserved > 0 ? 'This build (with the builds already queued or running)' : 'This build';
    this.deps.budget.assertFits(estimate.bytes + reserved, what);
    // `auto` may learn quarter turns: reserve them when they fit, else the build learns none.
    const turned =
      buildConfig.trainRotations === 'auto' && buildConfig.align === 'none'
        ? turnedEstimate(images, buildConfig, engineConfig, manifest)
        : null;
    const turnsFit = turned !== null && turned.bytes <= config.maxBankBytes && this.deps.budget.fits(turned.bytes + reserved);
    if (turnsFit) estimate = turned;

    const now = new Date().toISOString();
    const record: BuildRecord = {
      id: newBuildId(),
      line: lineId,
      status: 'queued',
      stage: 'queued',
      progress: null,
      createdAt: now,
      startedAt: null,
      finishedAt: null,
      config: buildConfig,
      images: images.length,
      timingsMs: {},
      bankVersion: null,
      error: null,
    };
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => {
      resolveDone = r;
    });
    const entry: ActiveBuild = {
      record,
      worker: null,
      stopReason: null,
      done,
      resolveDone,
      writes: Promise.resolve(),
      estimatedBytes: estimate.bytes,
    };
    this.byLine.set(lineId, record.id);
    this.active.set(record.id, entry);
    try {
      await store.builds.save(record);
    } catch (err) {
      this.forget(entry);
      throw err;
    }
    const job: BuildJob = {
      dataDir: store.layout.dataDir,
      line: lineId,
      buildId: record.id,
      images: images.map((i) => ({ id: i.id, filename: i.filename, ext: i.ext })),
      config: buildConfig,
      engineConfig,
      backboneDir: config.backboneDir,
      threads: config.ortThreads,
      maxPixels: config.maxPixels,
      maxBankBytes: config.maxBankBytes,
      turnsFit,
      minTrainImages: config.minTrainImages,
      batch: EMBED_BATCH,
    };
    this.queue.push(record.id);
    this.jobs.set(record.id, job);
    this.deps.metrics.buildQueue.set(this.queue.length);
    this.pump();
    return { ...record };
  }

  /** Whether a build of the line is queued or running. */
  runsOn(lineId: string): boolean {
    return this.byLine.has(lineId);
  }

  /** The live record of an active build, else the stored one. */
  async get(lineId: string, buildId: string): Promise<BuildRecord> {
    const a = this.active.get(buildId);
    if (a && a.record.line === lineId) return structuredClone(a.record);
    return completed(await this.deps.store.builds.get(lineId, buildId));
  }

  async list(lineId: string): Promise<BuildRecord[]> {
    const stored = await this.deps.store.builds.list(lineId);
    return stored.map((b) => {
      const a = this.active.get(b.id);
      return a ? structuredClone(a.record) : completed(b);
    });
  }

  /** Cancels a queued or running build; waits briefly so the answer usually shows the final state. */
  async cancel(lineId: string, buildId: string): Promise<BuildRecord> {
    const a = this.active.get(buildId);
    if (!a || a.record.line !== lineId) {
      const rec = await this.deps.store.builds.get(lineId, buildId);
      throw appError('BUILD_FINISHED', [rec.id]);
    }
    this.stop(a, 'cancel');
    await Promise.race([a.done, new Promise((r) => setTimeout(r, 2000).unref())]);
    return this.get(lineId, buildId);
  }

  /** Stops the line's build (if any) and waits until it is gone; used before deleting the line. */
  async stopLine(lineId: string): Promise<void> {
    const id = this.byLine.get(lineId);
    const a = id ? this.active.get(id) : undefined;
    if (!a) return;
    this.stop(a, 'delete');
    await a.done;
  }

  /** Shutdown: queued and running builds end as failed ("interrupted"); running threads are stopped cleanly. */
  async close(): Promise<void> {
    this.closing = true;
    const all = [...this.active.values()];
    for (const a of all) this.stop(a, 'shutdown');
    await Promise.all(all.map((a) => a.done));
  }

  private stop(a: ActiveBuild, reason: StopReason): void {
    if (a.stopReason) return;
    a.stopReason = reason;
    if (a.record.status === 'queued') {
      const i = this.queue.indexOf(a.record.id);
      if (i >= 0) this.queue.splice(i, 1);
      this.deps.metrics.buildQueue.set(this.queue.length);
      void this.finish(a, null);
      return;
    }
    if (a.worker) {
      send(a.worker, { type: 'cancel' });
      const worker = a.worker;
      const grace = reason === 'delete' ? 0 : CANCEL_GRACE_MS;
      setTimeout(() => {
        if (a.worker === worker) worker.kill('SIGKILL');
      }, grace).unref();
    }
  }

  private pump(): void {
    while (!this.closing && this.running < this.deps.config.buildConcurrency && this.queue.length > 0) {
      const id = this.queue.shift()!;
      const a = this.active.get(id);
      const job = this.jobs.get(id);
      this.jobs.delete(id);
      if (!a || !job) continue;
      this.running++;
      this.launch(a, job);
    }
    this.deps.metrics.buildQueue.set(this.queue.length);
  }

  private launch(a: ActiveBuild, job: BuildJob): void {
    const r = a.record;
    r.status = 'running';
    r.stage = 'embedding';
    r.progress = { done: 0, total: job.images.length };
    r.startedAt = new Date().toISOString();
    this.persist(a);
    this.deps.log.info({ line: r.line, buildId: r.id, images: job.images.length }, 'build started');
    const worker = fork(BUILD_PROCESS, [], { serialization: 'advanced', execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    a.worker = worker;
    send(worker, { type: 'start', job });
    let settled = false;
    const settle = (staged: StagedBank | null, error: BuildError | null): void => {
      if (settled) return;
      settled = true;
      a.worker = null;
      worker.kill('SIGKILL');
      void this.finish(a, staged, error);
    };
    worker.on('message', (msg: WorkerMessage) => {
      switch (msg.type) {
        case 'progress': {
          const stageChanged = r.stage !== msg.stage;
          r.stage = msg.stage;
          r.progress = { done: msg.done, total: msg.total };
          if (stageChanged) this.persist(a);
          break;
        }
        case 'timing':
          r.timingsMs[msg.stage] = msg.ms;
          break;
        case 'staged':
          settle(msg.bank, null);
          break;
        case 'failed':
          settle(null, msg.error);
          break;
      }
    });
    worker.on('error', (err) => settle(null, { code: 'internal', message: err.message }));
    worker.on('exit', () =>
      settle(
        null,
        a.stopReason
          ? { code: 'cancelled', message: 'The build was stopped' }
          : { code: 'internal', message: 'The build process exited unexpectedly' },
      ),
    );
  }

  /** Final state: commit a staged bank, or record the failure; frees the line and the slot. */
  private async finish(a: ActiveBuild, staged: StagedBank | null, error: BuildError | null = null): Promise<void> {
    const { store, metrics, log } = this.deps;
    const r = a.record;
    const wasRunning = r.status === 'running';
    let committed: number | null = null;
    try {
      // A bank finished during shutdown is still committed; a cancelled or deleted one is not.
      if (staged && (a.stopReason === 'cancel' || a.stopReason === 'delete')) {
        await store.banks.discardStaged(r.line);
        staged = null;
      }
      if (staged) {
        const version = await store.banks.commit(r.line, staged.dir, await store.builds.highestBankVersion(r.line));
        committed = version;
        if (this.deps.afterCommit) {
          const t0 = performance.now();
          await this.deps.afterCommit(r.line, version);
          r.timingsMs.evaluating = Math.round(performance.now() - t0);
        }
        // Readers see `succeeded` only once the bank is also active: record first, then activate.
        const final: BuildRecord = {
          ...structuredClone(r),
          status: 'succeeded',
          stage: 'done',
          bankVersion: version,
          finishedAt: new Date().toISOString(),
          error: null,
        };
        await a.writes;
        await store.builds.save(final);
        await store.lines.update(r.line, (line) => ({ ...line, activeBank: version }));
        committed = null;
        // Before the record shows `succeeded`, and while the line's build slot is still taken, so
        // no new build starts from photos retention is deleting.
        await applyRetention(store, r.line, log).catch((err: unknown) => log.error({ err, line: r.line }, 'retention failed'));
        Object.assign(r, final);
        metrics.bankRows.set({ line: r.line }, staged.rows);
        log.info(
          { line: r.line, buildId: r.id, bankVersion: version, rows: staged.rows, threshold: staged.threshold, suspects: staged.suspects },
          'build succeeded',
        );
      } else {
        if (wasRunning) await this.deps.store.banks.discardStaged(r.line);
        const reason = a.stopReason;
        const ended: Pick<BuildRecord, 'status' | 'error'> =
          reason === 'cancel' || (reason === 'delete' && !error)
            ? { status: 'cancelled', error: null }
            : reason === 'shutdown' || reason === 'delete'
              ? { status: 'failed', error: { code: 'interrupted', message: 'The service shut down during this build; start a new build' } }
              : { status: 'failed', error: error ?? { code: 'internal', message: 'unknown failure' } };
        await this.end(a, ended);
        log[r.status === 'failed' ? 'warn' : 'info']({ line: r.line, buildId: r.id, status: r.status, error: r.error }, 'build ended');
      }
    } catch (err) {
      // A bank renamed into place whose build could not be recorded goes again (recovery would remove it too).
      if (committed !== null) await store.banks.remove(r.line, committed).catch(() => undefined);
      const known = catalogued(err);
      await this.end(a, {
        status: 'failed',
        error: { code: known?.code ?? 'internal', message: known?.message ?? (err as Error).message },
      });
      log.error({ err, line: r.line, buildId: r.id }, 'build finalisation failed');
    }
    await a.writes;
    metrics.builds.inc({ status: r.status });
    if (r.startedAt) metrics.buildDuration.observe((Date.parse(r.finishedAt ?? new Date().toISOString()) - Date.parse(r.startedAt)) / 1000);
    if (wasRunning) this.running--;
    this.forget(a);
    a.resolveDone();
    this.pump();
  }

  private forget(a: ActiveBuild): void {
    this.active.delete(a.record.id);
    this.jobs.delete(a.record.id);
    if (this.byLine.get(a.record.line) === a.record.id) this.byLine.delete(a.record.line);
  }

  /**
   * Ends a build that did not succeed. As with `succeeded`, readers see the final state only once it
   * is on disk (or its write failed, and then recovery marks the build interrupted at the next
   * start): a client that saw `failed` never finds the build running again, and no write of it is
   * still under way. A deleted line's builds are not written.
   */
  private async end(a: ActiveBuild, ended: Pick<BuildRecord, 'status' | 'error'>): Promise<void> {
    const final: BuildRecord = { ...structuredClone(a.record), ...ended, finishedAt: new Date().toISOString() };
    if (a.stopReason !== 'delete') {
      await a.writes;
      await this.deps.store.builds
        .save(final)
        .catch((err: unknown) => this.deps.log.error({ err, buildId: final.id }, 'could not write the build record'));
    }
    Object.assign(a.record, final);
  }

  /** Queues a write of the record's current state (writes of one build stay in order). */
  private persist(a: ActiveBuild): void {
    const snapshot = structuredClone(a.record);
    a.writes = a.writes
      .then(() => this.deps.store.builds.save(snapshot))
      .catch((err: unknown) => this.deps.log.error({ err, buildId: snapshot.id }, 'could not write the build record'));
  }
}
