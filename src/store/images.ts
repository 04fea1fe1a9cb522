/**
 * A line's photos (training images, or labelled validation photos under validation/: one store per
 * set): bytes at images/<sha256>.<ext>, metadata at images/<sha256>.json. The bytes are renamed into
 * place first and the metadata second; an image exists once its metadata file does.
 * An in-memory index per line (this process is the only writer of DATA_DIR) keeps listings cheap.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { appError } from '../common/errors.js';
import { fsyncDir, isNotFound, readJsonIfExists, renameDurable, tmpName, writeJsonDurable } from './atomic.js';
import { KeyedMutex } from './mutex.js';
import { IMAGE_ID_PATTERN, type ImageSet, type Layout } from './paths.js';
import type { ImageRecord } from './types.js';

export type CommitOutcome = 'stored' | 'duplicate';

export class ImageStore {
  private readonly index = new Map<string, Promise<Map<string, ImageRecord>>>();
  private readonly locks = new KeyedMutex();

  constructor(
    private readonly layout: Layout,
    private readonly set: ImageSet = 'images',
  ) {}

  /**
   * A fresh file in the line's tmp/ to stream an upload into (`wx`: never an existing file; `flush`:
   * synced on close, so a committed image is on disk). Its `path` is the handle for
   * `readStaged`, `commit` and `discardStaged`.
   */
  async openStaging(lineId: string): Promise<{ path: string; stream: WriteStream }> {
    const tmp = this.layout.line(lineId).tmp;
    await mkdir(tmp, { recursive: true });
    const file = tmpName(tmp, 'upload');
    return { path: file, stream: createWriteStream(file, { flags: 'wx', flush: true }) };
  }

  readStaged(stagedFile: string): Promise<Buffer> {
    return readFile(stagedFile);
  }

  /** Removes staged uploads that were not committed (after a commit the path no longer exists). */
  async discardStaged(stagedFiles: readonly string[]): Promise<void> {
    await Promise.all(stagedFiles.map((f) => rm(f, { force: true })));
  }

  private load(lineId: string): Promise<Map<string, ImageRecord>> {
    let entry = this.index.get(lineId);
    if (!entry) {
      entry = this.scan(lineId);
      this.index.set(lineId, entry);
      entry.catch(() => this.index.delete(lineId));
    }
    return entry;
  }

  private async scan(lineId: string): Promise<Map<string, ImageRecord>> {
    const dir = this.layout.line(lineId)[this.set];
    const map = new Map<string, ImageRecord>();
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      if (isNotFound(err)) return map;
      throw err;
    }
    const present = new Set(names);
    for (const name of names) {
      if (!name.endsWith('.json') || !IMAGE_ID_PATTERN.test(name.slice(0, -5))) continue;
      const rec = await readJsonIfExists<ImageRecord>(path.join(dir, name));
      if (rec && present.has(`${rec.id}.${rec.ext}`)) map.set(rec.id, rec);
    }
    return map;
  }

  /** Moves a staged upload into place unless the same bytes are already stored. */
  commit(lineId: string, stagedFile: string, record: ImageRecord): Promise<CommitOutcome> {
    return this.locks.run(`${lineId}/${record.id}`, async () => {
      const paths = this.layout.line(lineId);
      const index = await this.load(lineId);
      if (index.has(record.id)) {
        await rm(stagedFile, { force: true });
        return 'duplicate';
      }
      // Lines created before validation photos existed have no validation/ folder yet.
      await mkdir(paths[this.set], { recursive: true });
      await renameDurable(stagedFile, paths.imageBytes(record.id, record.ext, this.set));
      await writeJsonDurable(paths.tmp, paths.imageMeta(record.id, this.set), record);
      index.set(record.id, record);
      return 'stored';
    });
  }

  /** All images of the line, oldest upload first. */
  async list(lineId: string): Promise<ImageRecord[]> {
    const all = [...(await this.load(lineId)).values()];
    return all.sort((a, b) => (a.uploadedAt < b.uploadedAt ? -1 : a.uploadedAt > b.uploadedAt ? 1 : a.id < b.id ? -1 : 1));
  }

  async count(lineId: string): Promise<number> {
    return (await this.load(lineId)).size;
  }

  async get(lineId: string, imageId: string): Promise<ImageRecord> {
    const rec = IMAGE_ID_PATTERN.test(imageId) ? (await this.load(lineId)).get(imageId) : undefined;
    if (!rec) throw appError(this.set === 'images' ? 'IMAGE_NOT_FOUND' : 'VALIDATION_IMAGE_NOT_FOUND', [imageId.slice(0, 80)]);
    return rec;
  }

  async readBytes(lineId: string, imageId: string): Promise<Buffer> {
    return this.readRecordBytes(lineId, await this.get(lineId, imageId));
  }

  /** The bytes of a record read earlier (a build's worker holds the records, not the index). */
  readRecordBytes(lineId: string, record: Pick<ImageRecord, 'id' | 'ext'>): Promise<Buffer> {
    return readFile(this.layout.line(lineId).imageBytes(record.id, record.ext, this.set));
  }

  /** Metadata goes first, so the image stops counting before its bytes disappear. */
  delete(lineId: string, imageId: string): Promise<void> {
    return this.locks.run(`${lineId}/${imageId}`, async () => {
      const rec = await this.get(lineId, imageId);
      const paths = this.layout.line(lineId);
      await rm(paths.imageMeta(rec.id, this.set), { force: true });
      (await this.load(lineId)).delete(rec.id);
      await rm(paths.imageBytes(rec.id, rec.ext, this.set), { force: true });
      await fsyncDir(paths[this.set]);
    });
  }

  /** Drops the cached index of a deleted line. */
  forget(lineId: string): void {
    this.index.delete(lineId);
  }
}
