import { readdirSync } from 'node:fs';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layering (docs/architecture.md): core/** imports only core; plugins/shared/** only core and
 * itself; plugins/<x>/** only core, plugins/shared and its own folder (the package's entries,
 * which list the built-ins, may import every plugin: plugins/index.ts, plugins/public.ts and
 * plugins/entries/**). no-restricted-imports sees
 * import strings, not resolved paths, so each folder depth gets its own pattern: from a file `depth`
 * folders below core/ or below a plugin's folder, `../` repeated depth + 1 times leaves that folder.
 */
const deepest = (dir) =>
  Math.max(
    0,
    ...readdirSync(new URL(dir, import.meta.url), { recursive: true }).map((p) => String(p).split(/[\\/]/).length - 1),
  );
const SOURCES = '*.{ts,mts,cts,js,mjs,cjs}';
const ENTRIES = ['plugins/entries/**'];
function layer(files, depth, allowedAbove, message) {
  return {
    files: [`${files}/${'*/'.repeat(depth)}${SOURCES}`],
    ignores: ENTRIES,
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: `^(\\.\\./){${depth + 1}}(?!${allowedAbove})`, caseSensitive: true, message }] },
      ],
    },
  };
}
const layering = [
  ...Array.from({ length: deepest('./core') + 1 }, (_, d) =>
    layer('core', d, 'core/', 'core imports only core (plugins depend on core, never the reverse)'),
  ),
  ...Array.from({ length: deepest('./plugins') }, (_, d) =>
    layer('plugins/*', d, 'shared/|\\.\\./core/', 'a plugin imports only core, plugins/shared and its own folder'),
  ),
];

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'runs/**',
      '.cache/**',
      '.gpu/**',
      'examples/*/node_modules/**',
      'examples/*/dist/**',
      'bench/peers/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        performance: 'readonly',
        structuredClone: 'readonly',
        queueMicrotask: 'readonly',
        setImmediate: 'readonly',
        fetch: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      '@typescript-eslint/no-empty-function': 'off',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  ...layering,
);
