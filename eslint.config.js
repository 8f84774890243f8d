// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'data/**', 'coverage/**', 'dist/**', 'cdk.out/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  {
    // The admin dashboard's page script runs in the browser, as served (no build step).
    files: ['src/features/dashboard/public/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: Object.fromEntries(['window', 'document', 'location', 'fetch', 'getComputedStyle', 'Intl', 'Chart'].map((name) => [name, 'readonly'])),
    },
  },
);
