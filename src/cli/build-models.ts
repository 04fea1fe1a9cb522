import path from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../common/config.js';
import { buildDefaultBackbone } from '../backbone/build-default.js';

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { force: { type: 'boolean', default: false }, 'models-dir': { type: 'string' } } });
  const modelsDir = path.resolve(values['models-dir'] ?? path.join(PROJECT_ROOT, 'models'));
  await buildDefaultBackbone({ modelsDir, force: values.force, log: (m) => console.error(`[build-models] ${m}`) });
  return 0;
}
