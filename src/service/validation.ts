/**
 * Labelled validation photos of a line (good / defective): stored like training images but never
 * trained on. Every bank can be evaluated on them (image AUROC, best-F1 threshold, decisions at the
 * line's threshold), and the threshold policy `validation` decides with the threshold chosen on
 * them. Scoring runs in the inspection worker pool.
 */
import type { Logger } from 'pino';
import type { ServiceConfig } from '../common/config.js';
import { appError } from '../common/errors.js';
import { bestF1Threshold, pointAt } from '../engine/index.js';
import { auroc } from '../eval/metrics.js';
import type { LoadedBank } from '../store/banks.js';
import { VALIDATION_LABELS } from '../store/schemas.js';
import type { Store } from '../store/index.js';
import type {
  BankMeta,
  EvaluationFigures,
  EvaluationRecord,
  EvaluationScore,
  LineConfig,
  LineRecord,
  ValidationLabel,
} from '../store/types.js';
import type { InspectionService } from './inspection.js';
import { effectiveThreshold, labelled } from './line-config.js';
import { UploadSession } from './uploads.js';
import { imageView, type EvaluationView, type ValidationPage } from './views.js';

/** Fewest photos of each label an evaluation (and so the `validation` policy) accepts. */
export const MIN_VALIDATION_PER_LABEL = 3;
/** Photos scored per inspection request while evaluating, so an evaluation never fills the queue. */
const EVALUATION_CHUNK = 32;
const LABELS = VALIDATION_LABELS;

export function parseLabel(raw: string | undefined): ValidationLabel {
  const label = (raw ?? '').trim().toLowerCase();
  if (!(LABELS as readonly string[]).includes(label)) throw appError('INVALID_LABEL', [(raw ?? '').slice(0, 40)]);
  return label as ValidationLabel;
}

/** The evaluation figures of `scores` at threshold `current` (the line's policy applied to the bank). */
export function evaluationFigures(
  scores: readonly EvaluationScore[],
  current: number,
  policy: LineConfig['threshold']['policy'],
): EvaluationFigures {
  const data = labelled(scores);
  const wrong = scores.filter((s) => s.score > current !== (s.label === 'defective')).sort((a, b) => b.score - a.score);
  return {
    images: { good: data.defective.filter((d) => !d).length, defective: data.defective.filter(Boolean).length },
    auroc: auroc(data.scores, data.defective),
    current: { ...pointAt(data, current), policy },
    best: bestF1Threshold(data),
    wrong,
  };
}

export class ValidationService {
  constructor(
    private readonly store: Store,
    private readonly config: ServiceConfig,
    private readonly inspection: InspectionService,
    private readonly log: Logger,
  ) {}

  /** Starts an upload of photos with one label into an existing line. */
  async beginUpload(lineId: string): Promise<UploadSession> {
    await this.store.lines.get(lineId);
    const { maxFileBytes, maxRequestBytes, maxPixels } = this.config;
    return new UploadSession(this.store.validation, lineId, { maxFileBytes, maxRequestBytes, maxPixels });
  }

  async list(lineId: string, offset: number, limit: number, label?: ValidationLabel): Promise<ValidationPage> {
    await this.store.lines.get(lineId);
    const all = await this.store.validation.list(lineId);
    const counts = { good: 0, defective: 0 };
    for (const r of all) counts[r.label!]++;
    const shown = label ? all.filter((r) => r.label === label) : all;
    return {
      total: shown.length,
      offset,
      limit,
      counts,
      images: shown.slice(offset, offset + limit).map((r) => ({ ...imageView(r), label: r.label! })),
    };
  }

  async read(lineId: string, imageId: string): Promise<{ contentType: string; filename: string; bytes: Buffer }> {
    await this.store.lines.get(lineId);
    const record = await this.store.validation.get(lineId, imageId);
    return { contentType: record.contentType, filename: record.filename, bytes: await this.store.validation.readBytes(lineId, imageId) };
  }

  async delete(lineId: string, imageId: string): Promise<void> {
    await this.store.lines.get(lineId);
    await this.store.validation.delete(lineId, imageId);
  }

  /** Scores every validation photo with bank `version` and stores the result with the bank. */
  async evaluate(lineId: string, version: number): Promise<EvaluationView> {
    const line = await this.store.lines.get(lineId);
    const meta = await this.store.banks.meta(lineId, version);
    const records = await this.store.validation.list(lineId);
    this.assertEnough(
      records.map((r) => r.label!),
      'an evaluation',
    );
    const scores: EvaluationScore[] = [];
    for (let i = 0; i < records.length; i += EVALUATION_CHUNK) {
      const chunk = records.slice(i, i + EVALUATION_CHUNK);
      const files = await Promise.all(
        chunk.map(async (r) => ({ filename: r.filename, bytes: await this.store.validation.readBytes(lineId, r.id) })),
      );
      const s = await this.inspection.imageScores(lineId, version, files);
      chunk.forEach((r, k) => scores.push({ id: r.id, filename: r.filename, label: r.label!, score: s[k] }));
    }
    const base = { line: lineId, bankVersion: version, evaluatedAt: new Date().toISOString(), scores };
    const current = effectiveThreshold(meta.calibration, line.config, undefined, scores);
    const record: EvaluationRecord = { ...base, figures: evaluationFigures(scores, current, line.config.threshold.policy) };
    await this.store.banks.saveEvaluation(lineId, record);
    this.log.info(
      { line: lineId, bankVersion: version, photos: scores.length, auroc: record.figures.auroc, f1: record.figures.current.f1 },
      'bank evaluated on the validation photos',
    );
    return { ...base, ...record.figures };
  }

  /** The stored evaluation of a bank, with the figures at the line's threshold of now. */
  async evaluation(lineId: string, version: number): Promise<EvaluationView> {
    const line = await this.store.lines.get(lineId);
    const meta = await this.store.banks.meta(lineId, version);
    const record = await this.store.banks.evaluation(lineId, version);
    if (!record) throw appError('EVALUATION_NOT_FOUND', [version, version]);
    const { figures: _stored, ...base } = record;
    const current = effectiveThreshold(meta.calibration, line.config, undefined, record.scores);
    return { ...base, ...evaluationFigures(record.scores, current, line.config.threshold.policy) };
  }

  /** After a build: evaluates the new bank when the line has enough validation photos (a failure is logged, the build stands). */
  async afterBuild(lineId: string, version: number): Promise<void> {
    const labels = (await this.store.validation.list(lineId)).map((r) => r.label!);
    if (!this.enough(labels)) return;
    try {
      await this.evaluate(lineId, version);
    } catch (err) {
      this.log.warn({ err, line: lineId, bankVersion: version }, 'evaluation on the validation photos failed');
    }
  }

  /**
   * Before the line's threshold becomes policy `validation` or bank `version` becomes active under
   * it: enough photos of each label, and an evaluation of the bank (made now if missing).
   */
  async prepare(lineId: string, config: LineConfig, version: number | null): Promise<void> {
    if (config.threshold.policy !== 'validation') return;
    this.assertEnough(
      (await this.store.validation.list(lineId)).map((r) => r.label!),
      'threshold policy "validation"',
    );
    if (version !== null && !(await this.store.banks.evaluation(lineId, version))) await this.evaluate(lineId, version);
  }

  /** The decision threshold of a request (see `effectiveThreshold`); policy `validation` evaluates the bank first when needed. */
  async thresholdFor(line: LineRecord, bank: LoadedBank, override?: number): Promise<number> {
    if (override !== undefined || line.config.threshold.policy !== 'validation')
      return effectiveThreshold(bank.meta.calibration, line.config, override);
    const record = (await this.store.banks.evaluation(line.id, bank.version)) ?? (await this.evaluate(line.id, bank.version));
    return effectiveThreshold(bank.meta.calibration, line.config, undefined, record.scores);
  }

  /** The line's threshold for bank `version` without scoring anything: null under policy `validation` before the bank was evaluated. */
  async storedThreshold(line: LineRecord, version: number, meta: BankMeta): Promise<number | null> {
    if (line.config.threshold.policy !== 'validation') return effectiveThreshold(meta.calibration, line.config);
    const record = await this.store.banks.evaluation(line.id, version);
    return record ? effectiveThreshold(meta.calibration, line.config, undefined, record.scores) : null;
  }

  private enough(labels: ValidationLabel[]): boolean {
    return LABELS.every((l) => labels.filter((x) => x === l).length >= MIN_VALIDATION_PER_LABEL);
  }

  private assertEnough(labels: ValidationLabel[], what: string): void {
    if (this.enough(labels)) return;
    const good = labels.filter((l) => l === 'good').length;
    throw appError('TOO_FEW_VALIDATION_IMAGES', [good, labels.length - good, what, MIN_VALIDATION_PER_LABEL], {
      good,
      defective: labels.length - good,
      minimum: MIN_VALIDATION_PER_LABEL,
    });
  }
}
