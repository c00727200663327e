// Three projects: pure unit tests once, and every integration suite twice: on the embedded
// PGlite default and on a real PostgreSQL server (skipped with a reason when none is reachable,
// and a failure instead when CI=true).
const transform = {
  '^.+\\.[tj]s$': ['ts-jest', { tsconfig: { types: ['node', 'jest'], allowJs: true, lib: ['ES2022', 'DOM'] } }],
};
// eventsource is ESM-only; jest must transform it.
const transformIgnorePatterns = ['/node_modules/(?!(eventsource|eventsource-parser)/)'];
// The browser client's sources import each other as `./x.js` (what the browser loads); under jest
// those are the .ts files beside them.
const moduleNameMapper = { '^(\\.{1,2}/.*)\\.js$': '$1' };
const common = { testEnvironment: 'node', transform, transformIgnorePatterns, moduleNameMapper, slowTestThreshold: 20 };

module.exports = {
  testTimeout: 30_000,
  // The suites run one after another in one worker (two cores). Each file's module registry is not
  // all given back (about 37 MB a file with the contract checker's compiled validators), so the
  // worker is replaced once it idles above this, between files, instead of the heap growing past
  // V8's limit over the ~140 files.
  workerIdleMemoryLimit: '1536MB',
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'pglite',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/global-setup-pglite.ts',
      setupFiles: ['<rootDir>/test/support/use-pglite.ts'],
      setupFilesAfterEnv: ['<rootDir>/test/support/contract-setup.ts'],
    },
    {
      ...common,
      displayName: 'postgres',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/global-setup-postgres.ts',
      setupFiles: ['<rootDir>/test/support/use-postgres.ts'],
      setupFilesAfterEnv: ['<rootDir>/test/support/contract-setup.ts'],
    },
    {
      // Real headless Chromium (Debian's package) against a real server on PGlite; skipped with a
      // reason when /usr/bin/chromium is absent, a failure instead when CI=true.
      ...common,
      displayName: 'browser',
      testMatch: ['<rootDir>/test/browser/**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/global-setup-browser.ts',
      setupFiles: ['<rootDir>/test/support/use-pglite.ts'],
    },
  ],
};
