/** The service's Prometheus metrics (guide §2.5), registered on one registry per service instance. */
import { Counter, Gauge, Histogram, collectDefaultMetrics, type Registry } from 'prom-client';
import type { DiskUsage } from '../store/index.js';

export type { InspectStage } from './views.js';

export interface ServiceMetrics {
  inspectDuration: Histogram<'line' | 'stage'>;
  inspections: Counter<'line' | 'result'>;
  buildDuration: Histogram<string>;
  builds: Counter<'status'>;
  bankRows: Gauge<'line'>;
  buildQueue: Gauge<string>;
}

/** What the memory gauges read when Prometheus scrapes. */
export interface MemorySources {
  /** Bytes of the loaded banks' arrays (one shared copy for every thread). */
  bankBytes(): number;
  /** Estimated bytes of the inspection workers' private search indexes. */
  searchIndexBytes(): number;
  /** Resident bytes of the running build processes (outside this process's RSS). */
  buildProcessBytes(): Promise<number>;
}

/**
 * `softpatch_bank_memory_bytes` and `softpatch_process_memory_bytes{component}`: the process's
 * resident memory split into banks, search indexes, the main thread's JavaScript heap and the rest
 * (backbone sessions, worker heaps, allocator slack), so an operator sees where RSS goes; and
 * `builds`, the resident memory of the build processes, which run beside the service.
 */
export function registerMemoryMetrics(registry: Registry, sources: MemorySources): void {
  const registers = [registry];
  new Gauge({
    name: 'softpatch_bank_memory_bytes',
    help: 'Bytes of memory-bank arrays loaded (shared by all inspection threads)',
    registers,
    collect() {
      this.set(sources.bankBytes());
    },
  });
  new Gauge({
    name: 'softpatch_process_memory_bytes',
    help: 'Resident memory of the process by component: rss (total), banks, search_indexes (estimate), main_heap, other (rss minus the rest); builds: the build processes, not in rss',
    labelNames: ['component'],
    registers,
    async collect() {
      const m = process.memoryUsage();
      const banks = sources.bankBytes();
      const indexes = sources.searchIndexBytes();
      this.set({ component: 'rss' }, m.rss);
      this.set({ component: 'banks' }, banks);
      this.set({ component: 'search_indexes' }, indexes);
      this.set({ component: 'main_heap' }, m.heapUsed);
      this.set({ component: 'other' }, Math.max(0, m.rss - banks - indexes - m.heapUsed));
      this.set({ component: 'builds' }, await sources.buildProcessBytes());
    },
  });
}

export function createServiceMetrics(registry: Registry): ServiceMetrics {
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    inspectDuration: new Histogram({
      name: 'softpatch_inspect_duration_seconds',
      help: 'Inspection time per image and stage',
      labelNames: ['line', 'stage'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    inspections: new Counter({
      name: 'softpatch_inspections_total',
      help: 'Inspected images by result',
      labelNames: ['line', 'result'],
      registers,
    }),
    buildDuration: new Histogram({
      name: 'softpatch_build_duration_seconds',
      help: 'Wall time of finished builds',
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1200, 2400, 3600],
      registers,
    }),
    builds: new Counter({ name: 'softpatch_builds_total', help: 'Finished builds by status', labelNames: ['status'], registers }),
    bankRows: new Gauge({ name: 'softpatch_bank_rows', help: 'Memory rows of the active bank per line', labelNames: ['line'], registers }),
    buildQueue: new Gauge({ name: 'softpatch_build_queue_length', help: 'Builds waiting for a build slot', registers }),
  };
}

/**
 * DATA_DIR usage, measured at scrape time: bytes per line folder and the free and total bytes of
 * its file system. The gauges of one scrape share one measurement.
 */
export function registerDataMetrics(registry: Registry, usage: () => Promise<DiskUsage>): void {
  let current: { at: number; value: Promise<DiskUsage> } | null = null;
  const measure = (): Promise<DiskUsage> => {
    if (!current || Date.now() - current.at > 1000) current = { at: Date.now(), value: usage() };
    return current.value;
  };
  const registers = [registry];
  new Gauge({
    name: 'softpatch_data_bytes',
    help: 'Bytes stored under DATA_DIR per line (images, builds, banks)',
    labelNames: ['line'],
    registers,
    async collect() {
      this.reset();
      for (const [line, bytes] of (await measure()).lines) this.set({ line }, bytes);
    },
  });
  new Gauge({
    name: 'softpatch_data_dir_free_bytes',
    help: 'Free bytes of the file system holding DATA_DIR',
    registers,
    async collect() {
      this.set((await measure()).freeBytes);
    },
  });
  new Gauge({
    name: 'softpatch_data_dir_size_bytes',
    help: 'Size of the file system holding DATA_DIR',
    registers,
    async collect() {
      this.set((await measure()).totalBytes);
    },
  });
}
