/** Resident memory of other processes (the service's build processes), from Linux's /proc. */
import { readFile } from 'node:fs/promises';

/** VmRSS of process `pid` in bytes; 0 where it has exited or /proc is not there. */
export async function residentBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
  return kb === undefined ? 0 : Number(kb) * 1024;
}
