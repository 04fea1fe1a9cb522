/** The service's Prometheus metrics (guide §2.5), registered on one registry per service instance. */
import { Counter, Gauge, Histogram, collectDefaultMetrics, type Registry } from 'prom-client';

export type { InspectStage } from './views.js';

export interface ServiceMetrics {
  inspectDuration: Histogram<'line' | 'stage'>;
  inspections: Counter<'line' | 'result'>;
  buildDuration: Histogram<string>;
  builds: Counter<'status'>;
  bankRows: Gauge<'line'>;
  buildQueue: Gauge<string>;
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
    inspections: new Counter({ name: 'softpatch_inspections_total', help: 'Inspected images by result', labelNames: ['line', 'result'], registers }),
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
