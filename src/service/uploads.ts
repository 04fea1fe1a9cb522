/**
 * Training uploads: each file is streamed to the line's tmp/ while its sha256 and size are
 * computed, then, once the whole request has been received, checked (format allow-list, pixel
 * limit, full decode) and moved into place file by file. A request stopped by a size limit stores
 * nothing; a bad file is rejected with its reason while the others are stored.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import sharp from 'sharp';
import { probeImage } from '../backbone/preprocess.js';
import { appError, isAppError } from '../common/errors.js';
import type { ImageStore } from '../store/images.js';
import type { ImageRecord } from '../store/types.js';
import type { UploadResult } from './views.js';

export interface UploadLimits {
  maxFileBytes: number;
  maxRequestBytes: number;
  maxPixels: number;
}

/** A file part as the HTTP layer receives it; `truncated` is set when the per-file limit cut it. */
export interface IncomingFile {
  filename: string;
  stream: Readable & { truncated?: boolean };
}

const EXTENSIONS: Record<string, { ext: string; contentType: string }> = {
  png: { ext: 'png', contentType: 'image/png' },
  jpeg: { ext: 'jpg', contentType: 'image/jpeg' },
  webp: { ext: 'webp', contentType: 'image/webp' },
  tiff: { ext: 'tif', contentType: 'image/tiff' },
  bmp: { ext: 'bmp', contentType: 'image/bmp' },
};

/** The name a station sent, reduced to a base name of printable characters. */
export function cleanFilename(raw: string | undefined): string {
  const base = path.basename((raw ?? '').replace(/\\/g, '/'));
  const clean = base.replace(/[^\x20-\x7e]/g, '_').slice(0, 255);
  return clean.length > 0 ? clean : 'image';
}

/**
 * Decodes the image fully (a truncated file fails here, not at build time) and returns its
 * format and oriented size. The decode is downscaled, so its cost is bounded.
 */
export async function checkImage(bytes: Buffer, maxPixels: number): Promise<{ format: string; width: number; height: number }> {
  const info = await probeImage(bytes, maxPixels);
  try {
    await sharp(bytes, { failOn: 'error', limitInputPixels: maxPixels }).resize(64, 64, { fit: 'inside' }).raw().toBuffer();
  } catch (err) {
    throw appError('UNDECODABLE_IMAGE', [(err as Error).message]);
  }
  return info;
}

interface StagedFile {
  filename: string;
  path: string;
  sha256: string;
  bytes: number;
}

export class UploadSession {
  private readonly staged: StagedFile[] = [];
  private total = 0;

  constructor(
    private readonly images: ImageStore,
    private readonly lineId: string,
    private readonly limits: UploadLimits,
  ) {}

  get files(): number {
    return this.staged.length;
  }

  async add(file: IncomingFile): Promise<void> {
    const filename = cleanFilename(file.filename);
    const { path: target, stream: out } = await this.images.openStaging(this.lineId);
    const hash = createHash('sha256');
    let bytes = 0;
    const entry: StagedFile = { filename, path: target, sha256: '', bytes: 0 };
    this.staged.push(entry);
    const limits = this.limits;
    const counter = new Transform({
      transform: (chunk: Buffer, _enc, cb) => {
        bytes += chunk.length;
        this.total += chunk.length;
        if (this.total > limits.maxRequestBytes) {
          cb(appError('PAYLOAD_TOO_LARGE', [`The request is over MAX_REQUEST_BYTES (${limits.maxRequestBytes} bytes)`]));
          return;
        }
        hash.update(chunk);
        cb(null, chunk);
      },
    });
    await pipeline(file.stream, counter, out);
    if (file.stream.truncated) {
      throw appError('PAYLOAD_TOO_LARGE', [`File "${filename}" is over MAX_FILE_BYTES (${limits.maxFileBytes} bytes)`], {
        filename,
        maxFileBytes: limits.maxFileBytes,
      });
    }
    entry.sha256 = hash.digest('hex');
    entry.bytes = bytes;
  }

  /** Checks and stores every staged file (with `extra` in each record); a request where no file is readable is a 400. */
  async finish(extra: Pick<ImageRecord, 'label'> = {}): Promise<UploadResult> {
    if (this.staged.length === 0) throw appError('NO_IMAGES_FIELD');
    const result: UploadResult = { stored: 0, duplicates: 0, rejected: 0, files: [] };
    try {
      for (const f of this.staged) {
        let info: { format: string; width: number; height: number };
        try {
          info = await checkImage(await this.images.readStaged(f.path), this.limits.maxPixels);
        } catch (err) {
          if (!isAppError(err)) throw err;
          result.rejected++;
          result.files.push({ filename: f.filename, status: 'rejected', reason: err.message });
          continue;
        }
        const kind = EXTENSIONS[info.format];
        const record: ImageRecord = {
          id: f.sha256,
          filename: f.filename,
          contentType: kind.contentType,
          format: info.format,
          ext: kind.ext,
          width: info.width,
          height: info.height,
          bytes: f.bytes,
          uploadedAt: new Date().toISOString(),
          ...extra,
        };
        const outcome = await this.images.commit(this.lineId, f.path, record);
        if (outcome === 'stored') result.stored++;
        else result.duplicates++;
        result.files.push({ filename: f.filename, status: outcome, id: record.id, width: record.width, height: record.height });
      }
    } finally {
      await this.discard();
    }
    if (result.stored + result.duplicates === 0) {
      throw appError('NO_READABLE_IMAGE', [result.rejected, result.files[0]?.reason ?? ''], { ...result });
    }
    return result;
  }

  /** Removes whatever is still staged (after a commit the staged path no longer exists). */
  async discard(): Promise<void> {
    await this.images.discardStaged(this.staged.map((f) => f.path));
  }
}
