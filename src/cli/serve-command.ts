import { loadConfig } from '../common/config.js';
import { defineCommand, type CommandSpec, type ParsedArgs } from './args.js';
import { serve } from './serve.js';

/** Flags override the environment variable of the same setting (README, Configuration). */
const spec = {
  summary: 'Start the HTTP service (same as npm start). Every setting is an environment variable; these flags override the common ones.',
  options: {
    port: { type: 'string', arg: 'n', description: 'HTTP port (PORT; default 3000)' },
    host: { type: 'string', arg: 'address', description: 'listen address (HOST; default 0.0.0.0)' },
    'data-dir': { type: 'string', arg: 'dir', description: 'lines, images, builds and banks (DATA_DIR; default ./data)' },
    'log-level': { type: 'string', arg: 'level', description: 'pino level (LOG_LEVEL; default info)' },
  },
} as const satisfies CommandSpec;

async function run({ values }: ParsedArgs<typeof spec.options>): Promise<number> {
  const overrides = {
    ...(values.port !== undefined && { PORT: values.port }),
    ...(values.host !== undefined && { HOST: values.host }),
    ...(values['data-dir'] !== undefined && { DATA_DIR: values['data-dir'] }),
    ...(values['log-level'] !== undefined && { LOG_LEVEL: values['log-level'] }),
  };
  await serve(loadConfig({ ...process.env, ...overrides }));
  return 0;
}

export const command = defineCommand(spec, run);
