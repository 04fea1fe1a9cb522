/** Build records at builds/<buildId>.json. */
import { appError } from '../common/errors.js';
import { readJsonIfExists, writeJsonDurable, readdirIfExists } from './atomic.js';
import { BUILD_ID_PATTERN, type Layout } from './paths.js';
import type { BuildRecord } from './types.js';

export class BuildStore {
  constructor(private readonly layout: Layout) {}

  async save(record: BuildRecord): Promise<void> {
    const paths = this.layout.line(record.line);
    await writeJsonDurable(paths.tmp, paths.build(record.id), record);
  }

  async get(lineId: string, buildId: string): Promise<BuildRecord> {
    const rec = BUILD_ID_PATTERN.test(buildId) ? await readJsonIfExists<BuildRecord>(this.layout.line(lineId).build(buildId)) : undefined;
    if (!rec) throw appError('BUILD_NOT_FOUND', [buildId.slice(0, 80)]);
    return rec;
  }

  /** The highest bank version any build of the line produced (0 when none). */
  async highestBankVersion(lineId: string): Promise<number> {
    return Math.max(0, ...(await this.list(lineId)).map((b) => b.bankVersion ?? 0));
  }

  /** Newest first (build ids sort by creation time). */
  async list(lineId: string): Promise<BuildRecord[]> {
    const names = await readdirIfExists(this.layout.line(lineId).builds);
    const ids = names
      .filter((n) => n.endsWith('.json'))
      .map((n) => n.slice(0, -5))
      .filter((id) => BUILD_ID_PATTERN.test(id));
    ids.sort().reverse();
    const out: BuildRecord[] = [];
    for (const id of ids) {
      const rec = await readJsonIfExists<BuildRecord>(this.layout.line(lineId).build(id));
      if (rec) out.push(rec);
    }
    return out;
  }
}
