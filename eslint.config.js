// Lint rules, including the layering of the codebase. Each restriction says why it exists.
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

const coreRestrictions = {
  patterns: [
    {
      group: ['node:*', 'fs', 'path', 'crypto', 'os', 'child_process', 'http', 'net'],
      message:
        'core/ is pure: no I/O, no clock, no platform modules. Pass what you need in as an argument.',
    },
    {
      group: [
        '**/adapters/**',
        '**/app/**',
        '**/http/**',
        '**/cli/**',
        '**/ports/**',
        '**/main/**',
      ],
      message: 'core/ is the innermost layer and must not import outer layers.',
    },
  ],
};

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.warden/', 'coverage/'] },
  eslint.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-syntax': [
        'error',
        {
          selector: 'ExportAllDeclaration',
          message: 'Name every export: public entry points must not re-export with `export *`.',
        },
      ],
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', coreRestrictions],
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'core/ is synchronous and has no timers.' },
        { name: 'setInterval', message: 'core/ is synchronous and has no timers.' },
        { name: 'process', message: 'core/ reads no environment.' },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: 'core/ reads no clock: take time as an argument.',
        },
        {
          selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']",
          message: 'core/ reads no clock: take time as an argument.',
        },
        {
          selector: 'ExportAllDeclaration',
          message: 'Name every export: public entry points must not re-export with `export *`.',
        },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Math', property: 'random', message: 'core/ is deterministic: no randomness.' },
      ],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // node:test's describe/it return promises that the runner itself awaits and reports.
      '@typescript-eslint/no-floating-promises': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: { process: 'readonly', console: 'readonly' },
    },
  },
);
