/**
 * Crash-safe file primitives (guide §4): write into a tmp/ folder on the same file system, fsync,
 * rename into place, fsync the directory. A crash at any instant leaves the old or the new file.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** A fresh, unique name inside `tmpDir` (nothing is created). */
export function tmpName(tmpDir: string, hint: string): string {
  return path.join(tmpDir, `${hint}.${randomUUID()}`);
}

/** Writes `data` to a new file and fsyncs it; the file must not exist. */
export async function writeSynced(file: string, data: string | Uint8Array): Promise<void> {
  const fh = await open(file, 'wx');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Renames and fsyncs the target's directory (and the source's, when it differs). */
export async function renameDurable(from: string, to: string): Promise<void> {
  await rename(from, to);
  await fsyncDir(path.dirname(to));
  if (path.dirname(from) !== path.dirname(to)) await fsyncDir(path.dirname(from));
}

export async function writeFileDurable(tmpDir: string, target: string, data: string | Uint8Array): Promise<void> {
  await mkdir(tmpDir, { recursive: true });
  const tmp = tmpName(tmpDir, path.basename(target));
  try {
    await writeSynced(tmp, data);
    await renameDurable(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

export function writeJsonDurable(tmpDir: string, target: string, value: unknown): Promise<void> {
  return writeFileDurable(tmpDir, target, `${JSON.stringify(value, null, 2)}\n`);
}

export function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}

/** Parsed JSON, or undefined when the file does not exist. */
export async function readJsonIfExists<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Entry names of a folder, or none when the folder does not exist (yet). */
export async function readdirIfExists(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
}
