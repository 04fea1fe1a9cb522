/** line.json records: creation (atomic folder rename), read-modify-write under a per-line lock, deletion. */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { appError } from '../common/errors.js';
import { fsyncDir, isNotFound, readJsonIfExists, renameDurable, tmpName, writeJsonDurable, readdirIfExists } from './atomic.js';
import { KeyedMutex } from './mutex.js';
import { LINE_ID_PATTERN, type Layout } from './paths.js';
import type { LineRecord } from './types.js';

export class LineStore {
  private readonly locks = new KeyedMutex();

  constructor(private readonly layout: Layout) {}

  /** Creates the whole line folder in tmp/ and renames it into place, so a line exists completely or not at all. */
  async create(record: LineRecord): Promise<LineRecord> {
    const paths = this.layout.line(record.id);
    await mkdir(this.layout.tmpDir, { recursive: true });
    await mkdir(this.layout.linesDir, { recursive: true });
    const staged = tmpName(this.layout.tmpDir, `line-${record.id}`);
    await mkdir(staged);
    try {
      for (const sub of ['images', 'builds', 'banks', 'tmp']) await mkdir(path.join(staged, sub));
      await writeJsonDurable(path.join(staged, 'tmp'), path.join(staged, 'line.json'), record);
      await fsyncDir(staged);
      try {
        await renameDurable(staged, paths.dir);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOTEMPTY' || code === 'EEXIST') throw appError('LINE_EXISTS', [record.id]);
        throw err;
      }
    } finally {
      await rm(staged, { recursive: true, force: true });
    }
    return record;
  }

  async get(lineId: string): Promise<LineRecord> {
    const record = await readJsonIfExists<LineRecord>(this.layout.line(lineId).lineJson);
    if (!record) throw appError('LINE_NOT_FOUND', [lineId]);
    return record;
  }

  async exists(lineId: string): Promise<boolean> {
    return (await readJsonIfExists<LineRecord>(this.layout.line(lineId).lineJson)) !== undefined;
  }

  async ids(): Promise<string[]> {
    const names = await readdirIfExists(this.layout.linesDir);
    return names.filter((n) => LINE_ID_PATTERN.test(n)).sort();
  }

  async list(): Promise<LineRecord[]> {
    const out: LineRecord[] = [];
    for (const id of await this.ids()) {
      const rec = await readJsonIfExists<LineRecord>(this.layout.line(id).lineJson);
      if (rec) out.push(rec);
    }
    return out;
  }

  /** Read-modify-write of line.json, serialised per line. */
  update(lineId: string, mutate: (rec: LineRecord) => LineRecord): Promise<LineRecord> {
    return this.locks.run(lineId, async () => {
      const paths = this.layout.line(lineId);
      const next = mutate(await this.get(lineId));
      await writeJsonDurable(paths.tmp, paths.lineJson, next);
      return next;
    });
  }

  /** Renames the folder out of lines/ (the line vanishes atomically), then removes it. */
  delete(lineId: string): Promise<void> {
    return this.locks.run(lineId, async () => {
      const paths = this.layout.line(lineId);
      await mkdir(this.layout.tmpDir, { recursive: true });
      const graveyard = tmpName(this.layout.tmpDir, `deleted-${lineId}`);
      try {
        await renameDurable(paths.dir, graveyard);
      } catch (err) {
        if (isNotFound(err)) throw appError('LINE_NOT_FOUND', [lineId]);
        throw err;
      }
      await rm(graveyard, { recursive: true, force: true });
    });
  }
}
