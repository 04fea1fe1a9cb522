/**
 * Engine configuration: the spec defaults (SOFTPATCH_SPEC.md "Defaults at a glance" and §7.2) and
 * the one function that fills a partial config and checks every range, so the rest of the engine
 * can trust its `EngineConfig`.
 */
import { appError } from '../common/errors.js';
import { DISCRIMINATORS, METHODS, type DiscriminatorName, type EngineConfig, type PlusConfig } from './types.js';

export type DeepPartial<T> = T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

const PLUS_DEFAULTS: Readonly<PlusConfig> = Object.freeze({
  discriminators: Object.freeze(['lof', 'gaussian']) as DiscriminatorName[],
  fusion: 'rank',
  rankScope: 'global',
  tauCls: 0.15,
  tauSeg: 0.5,
  weightSource: 'lof',
  coresetRatioCls: null,
  coresetRatioSeg: null,
  sharedProjection: true,
});

export const DEFAULT_ENGINE_CONFIG: Readonly<EngineConfig> = Object.freeze({
  method: 'softpatch',
  discriminator: 'lof',
  lofK: 6,
  lofScoreCap: null,
  discriminatorWindow: 0,
  removalQuantile: 0.15,
  coresetRatio: 0.1,
  projectionDim: 128,
  startPoints: 10,
  discriminatorSpace: 'proj128',
  firstPickRespectsMask: false,
  softWeights: true,
  blurSigma: 4,
  seed: 0,
  plus: PLUS_DEFAULTS,
});

/** Collects every problem so one error names them all. */
class Checker {
  readonly problems: string[] = [];

  oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
    if (!allowed.includes(value as T))
      this.problems.push(`${name} must be one of ${allowed.map((a) => `"${a}"`).join(', ')}, got ${JSON.stringify(value)}`);
    return value as T;
  }

  bool(name: string, value: unknown): boolean {
    if (typeof value !== 'boolean') this.problems.push(`${name} must be a boolean, got ${JSON.stringify(value)}`);
    return value as boolean;
  }

  /** A finite number in a range; `openMin`/`openMax` exclude the bound. */
  num(
    name: string,
    value: unknown,
    min: number,
    max: number,
    opts: { integer?: boolean; openMin?: boolean; openMax?: boolean } = {},
  ): number {
    const ok =
      typeof value === 'number' &&
      Number.isFinite(value) &&
      (!opts.integer || Number.isInteger(value)) &&
      (opts.openMin ? value > min : value >= min) &&
      (opts.openMax ? value < max : value <= max);
    if (!ok) {
      const lo = opts.openMin ? '(' : '[';
      const hi = opts.openMax ? ')' : ']';
      this.problems.push(
        `${name} must be ${opts.integer ? 'an integer' : 'a number'} in ${lo}${min}, ${max}${hi}, got ${JSON.stringify(value)}`,
      );
    }
    return value as number;
  }

  nullableNum(name: string, value: unknown, min: number, max: number, opts: { openMin?: boolean; openMax?: boolean } = {}): number | null {
    return value === null ? null : this.num(name, value, min, max, opts);
  }

  noUnknownKeys(prefix: string, partial: object, known: object): void {
    for (const key of Object.keys(partial)) {
      if (!(key in known)) this.problems.push(`unknown field ${prefix}${key}`);
    }
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Fills `partial` with the defaults and validates every field. Unknown fields are refused (a typo
 * such as `lofk` would otherwise silently build with the default).
 */
export function resolveEngineConfig(partial: DeepPartial<EngineConfig> = {}): EngineConfig {
  if (!isPlainObject(partial)) throw appError('ENGINE_INPUT', ['engine config must be an object']);
  const c = new Checker();
  c.noUnknownKeys('', partial, DEFAULT_ENGINE_CONFIG);
  const plusPartial = partial.plus ?? {};
  if (!isPlainObject(plusPartial)) throw appError('ENGINE_INPUT', ['plus must be an object']);
  c.noUnknownKeys('plus.', plusPartial, PLUS_DEFAULTS);
  const m = { ...DEFAULT_ENGINE_CONFIG, ...partial } as EngineConfig;
  const p = { ...PLUS_DEFAULTS, ...plusPartial } as PlusConfig;

  const discriminators = Array.isArray(p.discriminators) ? [...p.discriminators] : [];
  if (!Array.isArray(p.discriminators) || discriminators.length === 0) {
    c.problems.push('plus.discriminators must be a non-empty array');
  }
  discriminators.forEach((d, i) => c.oneOf(`plus.discriminators[${i}]`, d, DISCRIMINATORS));
  if (new Set(discriminators).size !== discriminators.length) c.problems.push('plus.discriminators must not repeat a name');

  const config: EngineConfig = {
    method: c.oneOf('method', m.method, METHODS),
    discriminator: c.oneOf('discriminator', m.discriminator, DISCRIMINATORS),
    lofK: c.num('lofK', m.lofK, 1, 1000, { integer: true }),
    lofScoreCap: c.nullableNum('lofScoreCap', m.lofScoreCap, 0, Number.MAX_VALUE, { openMin: true }),
    discriminatorWindow: c.num('discriminatorWindow', m.discriminatorWindow, 0, 64, { integer: true }),
    removalQuantile: c.num('removalQuantile', m.removalQuantile, 0, 1, { openMax: true }),
    coresetRatio: c.num('coresetRatio', m.coresetRatio, 0, 1, { openMin: true, openMax: true }),
    projectionDim: c.num('projectionDim', m.projectionDim, 1, 4096, { integer: true }),
    startPoints: c.num('startPoints', m.startPoints, 1, 10000, { integer: true }),
    discriminatorSpace: c.oneOf('discriminatorSpace', m.discriminatorSpace, ['proj128', 'full'] as const),
    firstPickRespectsMask: c.bool('firstPickRespectsMask', m.firstPickRespectsMask),
    softWeights: c.bool('softWeights', m.softWeights),
    blurSigma: c.num('blurSigma', m.blurSigma, 0, 1000),
    seed: c.num('seed', m.seed, 0, 0xffffffff, { integer: true }),
    plus: {
      discriminators,
      fusion: c.oneOf('plus.fusion', p.fusion, ['rank', 'minmax', 'maxRank'] as const),
      rankScope: c.oneOf('plus.rankScope', p.rankScope, ['global', 'perPosition'] as const),
      tauCls: c.num('plus.tauCls', p.tauCls, 0, 1, { openMax: true }),
      tauSeg: c.num('plus.tauSeg', p.tauSeg, 0, 1, { openMax: true }),
      weightSource: c.oneOf('plus.weightSource', p.weightSource, ['lof', 'fused', 'none'] as const),
      coresetRatioCls: c.nullableNum('plus.coresetRatioCls', p.coresetRatioCls, 0, 1, { openMin: true, openMax: true }),
      coresetRatioSeg: c.nullableNum('plus.coresetRatioSeg', p.coresetRatioSeg, 0, 1, { openMin: true, openMax: true }),
      sharedProjection: c.bool('plus.sharedProjection', p.sharedProjection),
    },
  };
  if (c.problems.length > 0) throw appError('ENGINE_INPUT', [c.problems.join('; ')]);
  return config;
}
