// Lint: the TypeScript-aware recommended rules, tuned where this codebase has a reason.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.aws-sam/', 'coverage/', 'bench/traces/', 'cli/bin.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module', globals: { process: 'readonly', console: 'readonly', __dirname: 'readonly', require: 'readonly', module: 'writable', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', URL: 'readonly', performance: 'readonly', AbortSignal: 'readonly', fetch: 'readonly', structuredClone: 'readonly' } },
    rules: {
      // Unused names are errors, except the deliberate `_name` placeholders of interface implementations.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', destructuredArrayIgnorePattern: '^_' }],
      // Test doubles and JSON from AWS/GitHub are typed at the edges; `any` stays visible in review, not an error.
      '@typescript-eslint/no-explicit-any': 'off',
      // A require() says why next to it (ESM-only packages, optional tools).
      '@typescript-eslint/no-require-imports': 'error',
      // Lambda code logs through the Powertools logger (structured, secrets kept out); tests say when they print.
      'no-console': 'error',
    },
  },
  // Command-line programs print to the terminal by design.
  { files: ['cli/**', 'local/**', 'sim/**', 'bench/**', 'scripts/**', 'Runners/bootstrap/**'], rules: { 'no-console': 'off' } },
  // Tests match terminal output, ANSI escapes included.
  { files: ['test/**'], rules: { 'no-control-regex': 'off' } },
);
