/**
 * A worker thread that does a share of a job beside the calling thread: it answers requests in
 * order, one reply per request, so the host matches replies to requests by order. Errors cross
 * as catalogued errors. An idle lane does not keep the process alive. It says when it is ready
 * (its script has set itself up), so that a caller in a hurry can do the work itself meanwhile.
 */
import { parentPort, Worker } from 'node:worker_threads';
import { AppError, appError, isAppError } from '../../common/errors.js';

type Reply<T> = { ok: true; value: T } | { ok: false; error: { code: string; status: number; message: string } };
/** The lane's first message: its script has set itself up. */
const READY = 'lane-ready';

export class ThreadLane<Request, Answer> {
  private readonly worker: Worker;
  private readonly waiting: { resolve: (a: Answer) => void; reject: (e: Error) => void }[] = [];
  private failure: Error | null = null;
  private setUp = false;

  /** Starts `script` (a module that calls `serveLane`) with `workerData`; `name` goes into errors. */
  constructor(script: URL, workerData: unknown, name: string) {
    this.worker = new Worker(script, { workerData });
    this.worker.unref();
    this.worker.on('message', (reply: Reply<Answer> | typeof READY) => {
      if (reply === READY) {
        this.setUp = true;
        return;
      }
      const w = this.waiting.shift();
      if (this.waiting.length === 0) this.worker.unref();
      if (!w) return;
      if (reply.ok) w.resolve(reply.value);
      else w.reject(new AppError({ ...reply.error, message: '%s' }, [reply.error.message]));
    });
    this.worker.on('error', (err) => this.fail(appError('INTERNAL', [`${name} failed: ${err.message}`])));
    this.worker.on('exit', (code) => this.fail(appError('INTERNAL', [`${name} exited with code ${code}`])));
  }

  /** True once the lane has set itself up; requests sent before wait for it. */
  get ready(): boolean {
    return this.setUp;
  }

  /** True once the thread has died or been closed: later requests are refused. */
  get failed(): boolean {
    return this.failure !== null;
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const w of this.waiting.splice(0)) w.reject(err);
  }

  /** The lane's answer to `request`; `transfer` lists buffers moved to the lane rather than copied. */
  request(request: Request, transfer: ArrayBuffer[] = []): Promise<Answer> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<Answer>((resolve, reject) => {
      // Held while a reply is due, so that a caller awaiting only this lane is not cut short.
      if (this.waiting.length === 0) this.worker.ref();
      this.waiting.push({ resolve, reject });
      this.worker.postMessage(request, transfer);
    });
  }

  async close(): Promise<void> {
    this.worker.removeAllListeners('exit');
    this.fail(appError('INTERNAL', ['lane closed']));
    await this.worker.terminate();
  }
}

/** The lane's side (in its worker thread): answers every request with `handle`, in order, one at a time. */
export function serveLane<Request, Answer>(handle: (request: Request) => Promise<Answer> | Answer, name: string): void {
  let queue: Promise<void> = Promise.resolve();
  parentPort!.postMessage(READY);
  parentPort!.on('message', (request: Request) => {
    queue = queue.then(async () => {
      let reply: Reply<Answer>;
      try {
        reply = { ok: true, value: await handle(request) };
      } catch (err) {
        const e = isAppError(err) ? err : appError('INTERNAL', [`${name}: ${(err as Error).message}`]);
        reply = { ok: false, error: { code: e.code, status: e.status, message: e.message } };
      }
      parentPort!.postMessage(reply);
    });
  });
}

/** Requests `shareWork` keeps in flight to a lane: the next item is there when it finishes one, even while this thread computes. */
const LANE_DEPTH = 2;

/**
 * Shares a job's items between this thread and a lane: `here` handles items on this thread and,
 * when there is a lane, `LANE_DEPTH` requests stay in flight through `there`. Each run takes the
 * next item from `take` until it answers null or a run has failed; the first failure is the
 * call's error.
 */
export async function shareWork<T>(
  take: () => T | null,
  here: (item: T) => Promise<void>,
  there: ((item: T) => Promise<void>) | null,
): Promise<void> {
  let failed = false;
  const drain = async (run: (item: T) => Promise<void>): Promise<void> => {
    try {
      for (let item = failed ? null : take(); item !== null; item = failed ? null : take()) await run(item);
    } catch (err) {
      failed = true;
      throw err;
    }
  };
  const runs = [drain(here)];
  for (let i = 0; there && i < LANE_DEPTH; i++) runs.push(drain(there));
  const settled = await Promise.allSettled(runs);
  const error = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (error) throw error.reason;
}

/** `a` itself when it lives in shared memory, else a copy of it there (`make` views a SharedArrayBuffer). */
export function sharedCopy<T extends Float32Array | Uint8Array | Int32Array | Float64Array>(a: T, make: (buf: SharedArrayBuffer) => T): T {
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const out = make(new SharedArrayBuffer(a.byteLength));
  out.set(a as never);
  return out;
}
