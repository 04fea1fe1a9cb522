/**
 * The DATA_DIR layout of the service guide §4. Every path is built here, and only from ids that
 * passed their pattern first, so no request field can walk outside DATA_DIR.
 */
import path from 'node:path';
import { appError } from '../common/errors.js';

export const LINE_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;
export const IMAGE_ID_PATTERN = /^[0-9a-f]{64}$/;
export const BUILD_ID_PATTERN = /^b_[0-9A-HJKMNP-TV-Z]{26}$/;

export function assertLineId(id: string): string {
  if (!LINE_ID_PATTERN.test(id)) throw appError('INVALID_LINE_ID', [id.slice(0, 80)]);
  return id;
}

function assertPattern(value: string, pattern: RegExp, what: string): string {
  if (!pattern.test(value)) throw appError('VALIDATION_FAILED', [`${what} "${value.slice(0, 80)}" is malformed`]);
  return value;
}

/** The two photo collections of a line: training images, and labelled validation photos (never trained on). */
export type ImageSet = 'images' | 'validation';

export interface LinePaths {
  dir: string;
  lineJson: string;
  images: string;
  validation: string;
  builds: string;
  banks: string;
  tmp: string;
  imageBytes(imageId: string, ext: string, set?: ImageSet): string;
  imageMeta(imageId: string, set?: ImageSet): string;
  build(buildId: string): string;
  bank(version: number): string;
}

export class Layout {
  readonly linesDir: string;
  /** Process-wide staging area (line creation and deletion); emptied at startup like the per-line tmp/. */
  readonly tmpDir: string;

  constructor(readonly dataDir: string) {
    this.linesDir = path.join(dataDir, 'lines');
    this.tmpDir = path.join(dataDir, 'tmp');
  }

  line(lineId: string): LinePaths {
    const dir = path.join(this.linesDir, assertLineId(lineId));
    const images = path.join(dir, 'images');
    const builds = path.join(dir, 'builds');
    const banks = path.join(dir, 'banks');
    const sets: Record<ImageSet, string> = { images, validation: path.join(dir, 'validation') };
    return {
      dir,
      lineJson: path.join(dir, 'line.json'),
      images,
      validation: sets.validation,
      builds,
      banks,
      tmp: path.join(dir, 'tmp'),
      imageBytes: (id, ext, set = 'images') =>
        path.join(sets[set], `${assertPattern(id, IMAGE_ID_PATTERN, 'image id')}.${assertPattern(ext, /^[a-z]{3,4}$/, 'extension')}`),
      imageMeta: (id, set = 'images') => path.join(sets[set], `${assertPattern(id, IMAGE_ID_PATTERN, 'image id')}.json`),
      build: (id) => path.join(builds, `${assertPattern(id, BUILD_ID_PATTERN, 'build id')}.json`),
      bank: (version) => {
        if (!Number.isSafeInteger(version) || version < 1)
          throw appError('VALIDATION_FAILED', [`bank version ${version} is not a positive integer`]);
        return path.join(banks, String(version));
      },
    };
  }
}
