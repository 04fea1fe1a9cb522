/**
 * Thread priority. Linux schedules threads individually and a thread starts with its creator's
 * nice value, so lowering the calling thread's priority also lowers every thread it starts later
 * (onnxruntime's pool, worker threads).
 */
import { readlinkSync } from 'node:fs';
import os from 'node:os';

/** Sets the calling thread's nice value (Linux: its id from /proc/thread-self); false where that is not possible. */
export function lowerThreadPriority(nice: number): boolean {
  try {
    os.setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), nice);
    return true;
  } catch {
    return false;
  }
}
