import fs from 'node:fs';
import path from 'node:path';
import { DEFAULTS, PROJECT_ROOT } from '../../src/common/config.js';

export { PROJECT_ROOT };
export const MODELS_DIR = path.join(PROJECT_ROOT, 'models');
export const DEFAULT_BACKBONE_DIR = DEFAULTS.backboneDir;
export const NATURAL_DIR = path.join(PROJECT_ROOT, 'test', 'fixtures', 'natural');
export const CLI = path.join(PROJECT_ROOT, 'bin', 'softpatch.js');
/** The shared MVTec copy (or MVTEC_DIR); evaluation tests skip cleanly when it is absent. */
export const SHARED_MVTEC = path.resolve(process.env.MVTEC_DIR ?? path.join(PROJECT_ROOT, '..', 'shared', 'data', 'mvtec_ad'));
export const hasSharedData = fs.existsSync(path.join(SHARED_MVTEC, 'bottle', 'train', 'good'));
