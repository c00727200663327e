import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/*
 * The folders of src/ in layers, bottom first. A module may import from its own layer's folders
 * and from the layers below, never from above, so the folders cannot import each other in a
 * circle and a newcomer reads the code bottom up. docs/architecture.md explains each layer.
 */
const LAYERS = [
  ['contract', 'errors'], // what the server and the browser share; imports nothing of ours
  ['storage', 'auth', 'metrics'],
  ['events'], // the event log, the publisher and the relay: who hears what, not why
  ['http'],
  ['realtime'], // streams and polls: bytes to sockets
  ['users'],
  ['payments'], // money follows bookings: bookings call payments, never the reverse
  ['bookings'],
  ['channels', 'broadcasts'],
  ['notifications'],
  ['sync'],
  ['ops', 'docs', 'demo', 'cli', 'client'],
];

const layerOf = (folder) => LAYERS.findIndex((l) => l.includes(folder));

/** no-restricted-imports for one folder: every folder of a higher layer, and the wiring at the top. */
function layerRule(folder) {
  const above = LAYERS.slice(layerOf(folder) + 1).flat();
  const group = above.map((f) => `../${f}/*`);
  // The wiring (services.ts, app.ts, runtime.ts, server.ts) sits above every layer: a module names
  // what it needs in its own deps interface, never the whole set of services.
  group.push('../app', '../runtime', '../server');
  // The command-line tools are entry points like server.ts: they build the services it builds.
  if (folder !== 'cli') group.push('../services');
  // The fakes of the far ends are for tests, the bench and the demo, which starts them in-process.
  if (folder !== 'demo') group.push('../../fakes/*');
  if (folder === 'contract' || folder === 'errors') group.push('../*');
  return ['error', { patterns: [{ group, message: `src/${folder}/ imports only from its own layer and those below (eslint.config.mjs LAYERS)` }] }];
}

export default tseslint.config(
  { ignores: ['dist/', 'public/lib/', 'node_modules/', 'coverage/', 'test-artifacts/', '.data/', 'public/**/*.js', 'bench/results/'] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { project: ['./tsconfig.json', './tsconfig.client.json'], tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // `_name` marks what a signature or a destructuring must name but does not use.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  ...LAYERS.flat()
    .filter((f) => f !== 'client')
    .map((folder) => ({ files: [`src/${folder}/**/*.ts`], rules: { 'no-restricted-imports': layerRule(folder) } })),
  {
    // A fake speaks its provider's documented shapes and signs as the provider does, never by
    // borrowing the server's code it is there to test.
    files: ['fakes/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['../src/*'], message: 'fakes/ imports nothing from src/' }] }] },
  },
  {
    // SQL lives in repositories (`*-repository.ts`), the event log and storage/: routes, services
    // and jobs call them, and may hold a transaction open around those calls, never a statement.
    files: ['src/**/*.ts'],
    ignores: ['src/**/*-repository.ts', 'src/events/event-log.ts', 'src/storage/**', 'src/client/**'],
    rules: {
      'no-restricted-syntax': [
        'error',
        ...[
          "CallExpression[callee.property.name='raw']:not([callee.object.name='express'])",
          "CallExpression[callee.type='Identifier'][callee.name=/^(knex|trx|db)$/]",
          "CallExpression[callee.property.name='knex']",
        ].map((selector) => ({ selector, message: 'SQL belongs in a *-repository.ts (or the event log); call a repository function here' })),
      ],
    },
  },
  {
    // The browser's code shares only the contract with the server.
    files: ['src/client/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['../*', '!../contract'], message: 'src/client/ shares only src/contract/ with the server' }] }],
    },
  },
  {
    files: ['src/client/*/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['../../*', '!../../contract'], message: 'src/client/ shares only src/contract/ with the server' }] },
      ],
    },
  },
  {
    // The JavaScript at the top (this file, jest's configs) is in no tsconfig: linted without types.
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['jest.config.js', 'jest.faults.config.js'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } },
  },
  {
    // Tests and the bench read answers as supertest and fetch give them (`any` bodies) and check
    // them with expect; typing every body would restate the contract the contract tests already hold.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
);
