/** The API's response shapes (guide §2.2) and their construction from the stored records. */
import type { BankMeta, BuildRecord, BuildStatus, ImageRecord, LineConfig, LineRecord } from '../store/types.js';
import type { Method } from '../engine/index.js';

export interface BankSummary {
  version: number;
  method: Method;
  rows: number;
  /** The bank's `auto` threshold (m + k·s at build time). */
  threshold: number;
  createdAt: string;
  buildId: string;
  images: number;
  active: boolean;
}

export interface BuildRef {
  id: string;
  status: BuildStatus;
  createdAt: string;
}

export interface LineSummary {
  id: string;
  name: string;
  createdAt: string;
  images: number;
  activeBank: number | null;
  lastBuild: BuildRef | null;
}

export interface LineView {
  id: string;
  name: string;
  createdAt: string;
  updatedAt: string;
  config: LineConfig;
  images: number;
  builds: number;
  banks: number;
  activeBank: BankSummary | null;
  /** The threshold inspections use now (line policy applied to the active bank). */
  threshold: number | null;
  lastBuild: BuildRef | null;
}

export interface ImageView {
  id: string;
  filename: string;
  contentType: string;
  width: number;
  height: number;
  bytes: number;
  uploadedAt: string;
}

export function bankSummary(version: number, meta: BankMeta, line: LineRecord): BankSummary {
  return {
    version,
    method: meta.method,
    rows: meta.rows.cls + (meta.rows.seg ?? 0),
    threshold: meta.threshold,
    createdAt: meta.createdAt,
    buildId: meta.buildId,
    images: meta.trainingImages.length,
    active: line.activeBank === version,
  };
}

export function buildRef(b: BuildRecord | undefined): BuildRef | null {
  return b ? { id: b.id, status: b.status, createdAt: b.createdAt } : null;
}

export function imageView(r: ImageRecord): ImageView {
  return { id: r.id, filename: r.filename, contentType: r.contentType, width: r.width, height: r.height, bytes: r.bytes, uploadedAt: r.uploadedAt };
}
