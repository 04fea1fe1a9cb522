import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Fastify and the HTTP/CLI layers stay above everything else. */
const ABOVE_SERVICE = ['fastify', '@fastify/*', '**/http/*', '**/cli/*'];
const forbid = (...group) => ({ group });
/** Outside the engine, src/engine/index.ts is its only import surface. */
const ENGINE_INTERNALS = { regex: '/engine/(?!index\\.js$)', message: 'Import the engine through src/engine/index.js.' };

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'models/**', 'data/**', 'coverage/**', 'src/**/*.as.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['src/http/**', 'src/cli/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [ENGINE_INTERNALS] }] },
  },
  {
    // Layering: nothing below http/ may import Fastify; eval and the rest never reach into the service.
    files: ['src/service/**', 'src/store/**', 'src/backbone/**', 'src/eval/**', 'src/common/**', 'src/render/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [forbid(...ABOVE_SERVICE), ENGINE_INTERNALS] }] },
  },
  {
    // DATA_DIR belongs to src/store: the service reads and writes files only through it.
    files: ['src/service/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [forbid(...ABOVE_SERVICE, 'node:fs', 'node:fs/*', 'fs', 'fs/*'), ENGINE_INTERNALS] }],
    },
  },
  {
    files: ['src/store/**', 'src/backbone/**', 'src/eval/**', 'src/common/**', 'src/render/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [forbid(...ABOVE_SERVICE, '**/service/*'), ENGINE_INTERNALS] }] },
  },
  {
    // The engine is pure math: no files, no HTTP, no service state, no model files.
    files: ['src/engine/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            forbid(
              ...ABOVE_SERVICE,
              'node:fs',
              'node:fs/*',
              'fs',
              '**/service/*',
              '**/store/*',
              '**/backbone/*',
              '**/eval/*',
              '**/render/*',
            ),
          ],
        },
      ],
    },
  },
  {
    // Tests reach an engine sub-system through its index (references included), never a file inside it.
    files: ['test/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '/src/engine/([a-z-]+/)?(?!index\\.js$)[a-z-]+\\.js$', message: 'Import engine sub-systems through their index.js.' },
          ],
        },
      ],
    },
  },
);
