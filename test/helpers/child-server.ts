/** `softpatch serve` as a child process on 127.0.0.1 (crash, shutdown and soak tests). */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { call } from '../http/server.js';
import { CLI } from './paths.js';

/** A port nobody listens on, for the child server. */
export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export interface ChildServer {
  base: string;
  child: ChildProcess;
  /** Parsed JSON log lines so far (LOG_LEVEL decides how many). */
  logs: Record<string, unknown>[];
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
}

/**
 * Starts the server with `env` on top of the test defaults (one worker, one ORT thread, warn logs)
 * and waits until `/readyz` answers `waitFor` (200 by default; any answer when `waitFor` is 'any').
 */
export async function spawnServer(env: Record<string, string>, waitFor: 200 | 'any' = 200): Promise<ChildServer> {
  const port = await freePort();
  const child = spawn(process.execPath, [CLI, 'serve'], {
    env: { ...process.env, LOG_LEVEL: 'warn', INSPECT_WORKERS: '1', ORT_THREADS: '1', ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const logs: Record<string, unknown>[] = [];
  let rest = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const lines = (rest + chunk.toString('utf8')).split('\n');
    rest = lines.pop()!;
    for (const l of lines) {
      try {
        logs.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    }
  });
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const ready = await call(base, 'GET', '/readyz').catch(() => null);
    if (ready && (waitFor === 'any' || ready.status === 200)) return { base, child, logs, exited };
    assert.ok(i < 600 && child.exitCode === null, 'child server became ready');
    await new Promise((r) => setTimeout(r, 50));
  }
}
