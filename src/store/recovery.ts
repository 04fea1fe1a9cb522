/**
 * Startup recovery (guide §4): empties every tmp/, removes half-stored images, marks builds that
 * were queued or running as failed ("interrupted") and removes bank folders whose build never
 * finished (renamed into place just before a crash), so a crash at any instant leaves the old
 * or the new state. A bank whose files are damaged is not removed: it is reported when used.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { readJsonIfExists } from './atomic.js';
import type { BankStore } from './banks.js';
import type { BuildStore } from './builds.js';
import type { LineStore } from './lines.js';
import { IMAGE_ID_PATTERN, type Layout } from './paths.js';
import type { BankMeta, ImageRecord } from './types.js';

export interface RecoveryReport {
  lines: number;
  strayImageFiles: number;
  interruptedBuilds: number;
  removedBanks: number;
}

async function emptyDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
}

async function removeStrayImages(dir: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  const present = new Set(names);
  const complete = new Set<string>();
  let removed = 0;
  for (const name of names.filter((n) => n.endsWith('.json'))) {
    const rec = await readJsonIfExists<ImageRecord>(path.join(dir, name)).catch(() => undefined);
    if (rec && present.has(`${rec.id}.${rec.ext}`)) {
      complete.add(rec.id);
    } else {
      await rm(path.join(dir, name), { force: true });
      removed++;
    }
  }
  for (const name of names) {
    const id = name.split('.')[0];
    if (name.endsWith('.json') || !IMAGE_ID_PATTERN.test(id) || complete.has(id)) continue;
    await rm(path.join(dir, name), { force: true });
    removed++;
  }
  return removed;
}

export async function recoverDataDir(layout: Layout, lines: LineStore, builds: BuildStore, banks: BankStore): Promise<RecoveryReport> {
  const report: RecoveryReport = { lines: 0, strayImageFiles: 0, interruptedBuilds: 0, removedBanks: 0 };
  await emptyDir(layout.tmpDir);
  await mkdir(layout.linesDir, { recursive: true });
  const now = new Date().toISOString();
  for (const lineId of await lines.ids()) {
    const paths = layout.line(lineId);
    if (!(await lines.exists(lineId))) continue;
    report.lines++;
    await emptyDir(paths.tmp);
    report.strayImageFiles += await removeStrayImages(paths.images);
    report.strayImageFiles += await removeStrayImages(paths.validation);

    const succeeded = new Set<string>();
    for (const b of await builds.list(lineId)) {
      if (b.status === 'queued' || b.status === 'running') {
        await builds.save({
          ...b,
          status: 'failed',
          finishedAt: now,
          error: { code: 'interrupted', message: 'The service stopped while this build was queued or running; start a new build' },
        });
        report.interruptedBuilds++;
      } else if (b.status === 'succeeded') {
        succeeded.add(b.id);
      }
    }
    const kept = new Set<number>();
    for (const version of await banks.versions(lineId)) {
      const meta = await readJsonIfExists<BankMeta>(path.join(paths.bank(version), 'meta.json')).catch(() => 'unreadable' as const);
      // A damaged meta.json is kept for inspection: loading or activating that bank says why.
      if (meta === 'unreadable' || (meta && succeeded.has(meta.buildId))) {
        kept.add(version);
      } else {
        await banks.remove(lineId, version);
        report.removedBanks++;
      }
    }
    const line = await lines.get(lineId);
    if (line.activeBank !== null && !kept.has(line.activeBank)) {
      await lines.update(lineId, (rec) => ({ ...rec, activeBank: null }));
    }
  }
  return report;
}
