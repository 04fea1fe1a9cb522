/**
 * One way to declare a command's arguments, so that every command gets the same `--help`, the same
 * refusal of unknown options and stray positionals, and the same usage exit code. The options are
 * node's `parseArgs` options plus a description; the defaults shown by `--help` are the ones parsed.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { appError } from '../common/errors.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  description: string;
  default?: string | boolean;
  /** Placeholder shown after a string option in the help (default: the option's name). */
  arg?: string;
}

export interface CommandSpec<O extends Record<string, OptionSpec> = Record<string, OptionSpec>> {
  /** What follows `softpatch <command>` in the synopsis, e.g. `<image>` or `backbone|engine`. */
  synopsis?: string;
  summary: string;
  options: O;
  /** Allowed number of positionals (default: none). */
  positionals?: { min: number; max: number };
}

type Values<O extends Record<string, OptionSpec>> = {
  [K in keyof O]: O[K]['type'] extends 'boolean' ? boolean : O[K] extends { default: string } ? string : string | undefined;
};

export interface ParsedArgs<O extends Record<string, OptionSpec>> {
  values: Values<O>;
  positionals: string[];
}

/** A command: its argument spec and what it does with the parsed arguments (the exit code). */
export interface Command<O extends Record<string, OptionSpec> = Record<string, OptionSpec>> {
  spec: CommandSpec<O>;
  run(args: ParsedArgs<O>): Promise<number>;
}

export function defineCommand<O extends Record<string, OptionSpec>>(
  spec: CommandSpec<O>,
  run: (args: ParsedArgs<O>) => Promise<number>,
): Command<O> {
  return { spec, run };
}

export function helpText(name: string, spec: CommandSpec): string {
  const rows = Object.entries(spec.options).map(([key, o]) => {
    const flag = o.type === 'string' ? `--${key} <${o.arg ?? key}>` : `--${key}`;
    const def = o.default === undefined || o.default === false ? '' : ` (default: ${String(o.default)})`;
    return `  ${flag.padEnd(28)} ${o.description}${def}`;
  });
  return [
    `usage: softpatch ${name}${spec.synopsis ? ` ${spec.synopsis}` : ''}${rows.length ? ' [options]' : ''}`,
    '',
    spec.summary,
    '',
    'options:',
    ...rows,
    `  ${'--help'.padEnd(28)} this help`,
  ].join('\n');
}

/** Parse `argv` for `spec`; unknown options, missing values and stray positionals are usage errors. */
export function parseCommand<O extends Record<string, OptionSpec>>(name: string, spec: CommandSpec<O>, argv: string[]): ParsedArgs<O> {
  const options = Object.fromEntries(
    Object.entries(spec.options).map(([k, o]) => [k, o.default === undefined ? { type: o.type } : { type: o.type, default: o.default }]),
  );
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options: options as ParseArgsConfig['options'], allowPositionals: true, strict: true });
  } catch (err) {
    throw appError('USAGE', [`${(err as Error).message}\n\n${helpText(name, spec)}`]);
  }
  const { min, max } = spec.positionals ?? { min: 0, max: 0 };
  const n = parsed.positionals.length;
  if (n < min || n > max) {
    const why = n > max ? `unexpected argument "${parsed.positionals[max]}"` : `missing ${spec.synopsis ?? 'argument'}`;
    throw appError('USAGE', [`${why}\n\n${helpText(name, spec)}`]);
  }
  return parsed as ParsedArgs<O>;
}
