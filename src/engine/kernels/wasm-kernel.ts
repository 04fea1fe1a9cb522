/**
 * The WebAssembly kernels of ./wasm (AssemblyScript, compiled by `npm run build:wasm`): each
 * instance gets a memory of its own, laid out by its host in 16-byte aligned regions.
 */
// The engine reads no data files; these are the kernels' compiled code, shipped beside this module.
// eslint-disable-next-line no-restricted-imports
import { readFileSync } from 'node:fs';

const PAGE = 65536;

/** The compiled kernel `name` (wasm/<name>.wasm). */
export function kernelModule(name: string): WebAssembly.Module {
  return new WebAssembly.Module(readFileSync(new URL(`./wasm/${name}.wasm`, import.meta.url)));
}

/** Consecutive regions of a memory: `take(n)` returns the next region's byte offset. */
export function regions(): { take(bytes: number): number; readonly bytes: number } {
  let end = 0;
  return {
    take(bytes: number): number {
      const at = end;
      end += Math.ceil(bytes / 16) * 16;
      return at;
    },
    get bytes(): number {
      return end;
    },
  };
}

/** An instance of `module` over a fresh memory of at least `bytes`. */
export function instantiate<T>(module: WebAssembly.Module, bytes: number, name: string): { exports: T; memory: WebAssembly.Memory } {
  const memory = new WebAssembly.Memory({ initial: Math.ceil(bytes / PAGE) + 1 });
  const instance = new WebAssembly.Instance(module, {
    env: {
      memory,
      abort: () => {
        throw new Error(`${name} kernel aborted`);
      },
    },
  });
  return { exports: instance.exports as unknown as T, memory };
}
