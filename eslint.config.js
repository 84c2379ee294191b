// Lint: ESLint's and typescript-eslint's recommended rules (the compiler's strict mode covers types). `npm run lint`.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.tmpbuild/', 'models/', 'docs/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // Unused parameters named with a leading underscore are deliberate (interface shapes).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Pipelines are callable objects: a class merged with a call-signature interface, on purpose.
      '@typescript-eslint/no-unsafe-declaration-merging': 'off',
      // Errors rethrown with file and field context put the cause's message in their own text.
      'preserve-caught-error': 'off',
    },
  },
  { files: ['**/*.mjs'], languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } } },
  {
    // Tests poke at internals and match terminal escape codes.
    files: ['test/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off', 'no-control-regex': 'off', 'no-regex-spaces': 'off' },
  },
);
