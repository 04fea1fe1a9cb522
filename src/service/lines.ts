/** Lines, their banks (listing, activation = rollback) and the build noise reports. */
import type { Logger } from 'pino';
import { appError } from '../common/errors.js';
import type { Store } from '../store/index.js';
import { assertLineId } from '../store/paths.js';
import type { LineRecord } from '../store/types.js';
import { computeGeometry, partPose, prepareImage, probeImage, type ImageGeometry } from '../backbone/index.js';
import { renderRemovalPng } from '../render/removal.js';
import type { BuildManager } from './builds.js';
import type { MemoryBudget } from './capacity.js';
import { DEFAULT_LINE_CONFIG, mergeLineConfig, withDefaults, type LineConfigPatch } from './line-config.js';
import { applyRetention, removeBanks, type Removal } from './retention.js';
import type { ServiceMetrics } from './metrics.js';
import type { ValidationService } from './validation.js';
import { bankSummary, buildRef, type BankSummary, type LineSummary, type LineView, type NoiseReportView } from './views.js';

export interface CreateLineInput {
  id: string;
  name?: string;
  config?: LineConfigPatch;
}

export interface PatchLineInput {
  name?: string;
  config?: LineConfigPatch;
}

export class LineService {
  constructor(
    private readonly store: Store,
    private readonly builds: BuildManager,
    private readonly metrics: ServiceMetrics,
    private readonly log: Logger,
    private readonly budget: MemoryBudget,
    private readonly validation: ValidationService,
  ) {}

  async create(input: CreateLineInput): Promise<LineView> {
    const id = assertLineId(input.id);
    const now = new Date().toISOString();
    const config = mergeLineConfig(DEFAULT_LINE_CONFIG, input.config);
    // A new line has no validation photos: policy "validation" is refused with the usual message.
    await this.validation.prepare(id, config, null);
    const record: LineRecord = { id, name: input.name ?? id, config, createdAt: now, updatedAt: now, activeBank: null };
    await this.store.lines.create(record);
    this.log.info({ line: id }, 'line created');
    return this.view(record);
  }

  async list(): Promise<LineSummary[]> {
    const out: LineSummary[] = [];
    for (const rec of await this.store.lines.list()) {
      const [images, builds] = await Promise.all([this.store.images.count(rec.id), this.builds.list(rec.id)]);
      out.push({
        id: rec.id,
        name: rec.name,
        createdAt: rec.createdAt,
        images,
        activeBank: rec.activeBank,
        lastBuild: buildRef(builds[0]),
      });
    }
    return out;
  }

  async get(lineId: string): Promise<LineView> {
    return this.view(await this.store.lines.get(lineId));
  }

  async patch(lineId: string, input: PatchLineInput): Promise<LineView> {
    // Policy "validation" is checked (and the active bank evaluated) before anything changes.
    const before = await this.store.lines.get(lineId);
    await this.validation.prepare(lineId, mergeLineConfig(before.config, input.config), before.activeBank);
    const rec = await this.store.lines.update(lineId, (r) => ({
      ...r,
      name: input.name ?? r.name,
      config: mergeLineConfig(withDefaults(r.config), input.config),
      updatedAt: new Date().toISOString(),
    }));
    // A lower keepBanks applies at once, unless a build runs (it applies after that build).
    if (input.config?.keepBanks !== undefined && !this.builds.runsOn(lineId)) await applyRetention(this.store, lineId, this.log);
    return this.view(rec);
  }

  /**
   * Deletes one bank version (never the active one). With the line's `pruneImages`, the photos
   * only it was built from go too, unless a build of the line runs (it may be reading them).
   */
  async deleteBank(lineId: string, version: number): Promise<Removal> {
    const line = await this.store.lines.get(lineId);
    const prune = withDefaults(line.config).pruneImages && !this.builds.runsOn(lineId);
    const removal = await removeBanks(this.store, lineId, [version], prune);
    this.log.info({ line: lineId, bankVersion: version, images: removal.images.length }, 'bank deleted');
    return removal;
  }

  /** Stops the line's build first, then removes the whole folder. */
  async delete(lineId: string): Promise<void> {
    await this.store.lines.get(lineId);
    await this.builds.stopLine(lineId);
    await this.store.deleteLine(lineId);
    this.metrics.bankRows.remove({ line: lineId });
    this.log.info({ line: lineId }, 'line deleted');
  }

  async banks(lineId: string): Promise<BankSummary[]> {
    const line = await this.store.lines.get(lineId);
    const out: BankSummary[] = [];
    for (const v of await this.store.banks.versions(lineId)) {
      // A bank whose meta.json is unreadable is left out of the listing (activating it says why).
      const meta = await this.store.banks.meta(lineId, v).catch((err: unknown) => {
        this.log.warn({ err, line: lineId, bankVersion: v }, 'bank skipped in the listing');
        return null;
      });
      if (meta) out.push(bankSummary(v, meta, line));
    }
    return out.reverse();
  }

  /**
   * Makes an existing bank the active one (rollback or roll forward); applies to the next
   * inspection. The bank is loaded and verified first: a corrupt one is refused and the active
   * bank stays.
   */
  async activate(lineId: string, version: number): Promise<LineView> {
    const line = await this.store.lines.get(lineId);
    const { meta } = await this.budget.loadBank(this.store, lineId, version);
    await this.validation.prepare(lineId, line.config, version);
    const rec = await this.store.lines.update(lineId, (r) => ({ ...r, activeBank: version, updatedAt: new Date().toISOString() }));
    this.metrics.bankRows.set({ line: lineId }, meta.rows.cls + (meta.rows.seg ?? 0));
    this.log.info({ line: lineId, bankVersion: version }, 'bank activated');
    return this.view(rec);
  }

  async noiseReport(lineId: string, buildId: string): Promise<NoiseReportView> {
    const build = await this.builds.get(lineId, buildId);
    if (build.status !== 'succeeded' || build.bankVersion === null) throw appError('NOISE_REPORT_UNAVAILABLE', [buildId, build.status]);
    return { ...(await this.store.banks.noiseReport(lineId, build.bankVersion)), bankVersion: build.bankVersion };
  }

  /** A training photo of bank `version` with the patches its denoising removed drawn on it (PNG). */
  async removalOverlay(lineId: string, version: number, imageId: string, maxSide?: number): Promise<Buffer> {
    await this.store.lines.get(lineId);
    const found = await this.store.banks.removalMask(lineId, version, imageId);
    if (!found) throw appError('NO_REMOVAL_MASK', [version]);
    const bytes = await this.store.images.readBytes(lineId, imageId);
    const { resize, crop, align } = found.meta.config;
    const maxPixels = Number.MAX_SAFE_INTEGER;
    // An aligned part's pose comes from its pixels (the turn itself is not needed to draw the
    // overlay); otherwise the sizes alone give the geometry.
    let geometry: ImageGeometry;
    if (align === 'axis') {
      const upright = await prepareImage(bytes, { resize, crop, maxPixels });
      geometry = { ...upright.geometry, pose: partPose(upright) };
    } else {
      const { width, height } = await probeImage(bytes, maxPixels);
      geometry = computeGeometry(width, height, { resize, crop });
    }
    return renderRemovalPng(bytes, found.mask, found.grid, geometry, maxSide);
  }

  /** Sets the bank-rows gauge of every line from its active bank (at startup). */
  async publishBankRows(): Promise<void> {
    for (const rec of await this.store.lines.list()) {
      if (rec.activeBank === null) continue;
      const meta = await this.store.banks.meta(rec.id, rec.activeBank).catch(() => null);
      if (meta) this.metrics.bankRows.set({ line: rec.id }, meta.rows.cls + (meta.rows.seg ?? 0));
    }
  }

  private async view(rec: LineRecord): Promise<LineView> {
    const [images, builds, versions] = await Promise.all([
      this.store.images.count(rec.id),
      this.builds.list(rec.id),
      this.store.banks.versions(rec.id),
    ]);
    const meta = rec.activeBank === null ? null : await this.store.banks.meta(rec.id, rec.activeBank).catch(() => null);
    return {
      id: rec.id,
      name: rec.name,
      createdAt: rec.createdAt,
      updatedAt: rec.updatedAt,
      config: withDefaults(rec.config),
      images,
      builds: builds.length,
      banks: versions.length,
      activeBank: meta && rec.activeBank !== null ? bankSummary(rec.activeBank, meta, rec) : null,
      threshold: meta && rec.activeBank !== null ? await this.validation.storedThreshold(rec, rec.activeBank, meta) : null,
      lastBuild: buildRef(builds[0]),
    };
  }
}
