// Lint: ESLint's and typescript-eslint's recommended rules (the compiler's strict mode covers types). `npm run lint`.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layer order of src/ (CONTRIBUTING.md): a folder may import the folders listed for it and nothing else of src/.
 * Lowest first; `index.ts` (the package entry) and test/ may import anything.
 */
const LAYERS = {
  util: [],
  metrics: ['util'],
  hub: ['util'],
  // The tensor layer sees backends only through their interface (backends/backend.ts), as types.
  tensor: ['util'],
  backends: ['tensor', 'util'],
  io: ['tensor', 'util'],
  tokenizers: ['hub', 'tensor', 'util'],
  nn: ['tensor', 'util'],
  optim: ['nn', 'tensor', 'util'],
  data: ['tokenizers', 'tensor', 'util'],
  // Generation sees models only through their contract, models/modeling_outputs.ts (types): see below.
  generation: ['nn', 'tensor', 'tokenizers', 'util'],
  models: ['generation', 'nn', 'io', 'hub', 'tokenizers', 'backends', 'tensor', 'util'],
  pipelines: ['models', 'generation', 'nn', 'io', 'hub', 'tokenizers', 'backends', 'tensor', 'util'],
  training: [
    'models',
    'generation',
    'data',
    'metrics',
    'optim',
    'nn',
    'io',
    'hub',
    'tokenizers',
    'backends',
    'tensor',
    'util',
  ],
  chat: ['pipelines', 'models', 'generation', 'metrics', 'nn', 'tokenizers', 'tensor', 'util'],
  rag: ['chat', 'util'],
  studio: ['pipelines', 'training', 'models', 'generation', 'nn', 'hub', 'io', 'tokenizers', 'tensor', 'util'],
  cli: ['*'],
};

function layerRules(folder, allowed) {
  // tensor → backends and generation → models are narrowed below rather than forbidden outright.
  const narrowed = { tensor: 'backends', generation: 'models' }[folder];
  const forbidden = Object.keys(LAYERS).filter(
    (other) => other !== folder && other !== narrowed && !allowed.includes(other),
  );
  const patterns = forbidden.map((other) => ({
    regex: `^(\\.\\./)+${other}/`,
    message: `src/${folder} may import only ${allowed.join(', ') || 'nothing else in src'} (layer order, CONTRIBUTING.md)`,
  }));
  if (folder === 'tensor') {
    patterns.push({
      regex: '^\\.\\./backends/(?!backend\\.js$)',
      message: 'tensor sees backends only as types of backends/backend.ts',
    });
    patterns.push({
      regex: '^\\.\\./backends/backend\\.js$',
      allowTypeImports: true,
      message: 'tensor imports backends/backend.ts as types only',
    });
  }
  if (folder === 'generation') {
    patterns.push({
      regex: '^\\.\\./models/(?!modeling_outputs\\.js$)',
      message: 'generation sees models only through models/modeling_outputs.ts',
    });
    patterns.push({
      regex: '^\\.\\./models/modeling_outputs\\.js$',
      allowTypeImports: true,
      message: 'generation imports the model contract as types only',
    });
  }
  return { files: [`src/${folder}/**/*.ts`], rules: { 'no-restricted-imports': ['error', { patterns }] } };
}

const layerOrder = Object.entries(LAYERS)
  .filter(([, allowed]) => !allowed.includes('*'))
  .map(([folder, allowed]) => layerRules(folder, allowed));

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
  ...layerOrder,
  { files: ['**/*.mjs'], languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } } },
  {
    // Tests poke at internals and match terminal escape codes.
    files: ['test/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off', 'no-control-regex': 'off', 'no-regex-spaces': 'off' },
  },
);
