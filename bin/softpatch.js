#!/usr/bin/env node
// Thin launcher so `npx softpatch` works after install; the CLI lives in compiled TypeScript.
import('../dist/src/cli/main.js').then((m) => m.main(process.argv.slice(2))).then(
  (code) => { process.exitCode = code ?? 0; },
  (err) => { console.error(err instanceof Error ? err.message : err); process.exitCode = 1; },
);
