import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'models/**', 'data/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // Layering: nothing below http/ may import Fastify.
    files: ['src/service/**', 'src/store/**', 'src/backbone/**', 'src/engine/**', 'src/eval/**', 'src/common/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['fastify', '@fastify/*', '../http/*', '../cli/*'] }],
    },
  },
  {
    // The engine is pure math: no files, no HTTP, no service state.
    files: ['src/engine/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['fastify', '@fastify/*', 'node:fs', 'node:fs/*', 'fs', '../service/*', '../store/*', '../http/*', '../cli/*', '../backbone/*'] }],
    },
  },
);
