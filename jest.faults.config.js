// The fault suite (`npm run test:faults`, run in band): real server processes killed and
// restarted, a private PostgreSQL stopped under traffic, hostile clients and a bounded soak.
// Suites that use the shared PostgreSQL skip with a reason when none answers (fail under CI=true).
const transform = {
  '^.+\\.[tj]s$': ['ts-jest', { tsconfig: { types: ['node', 'jest'], allowJs: true, lib: ['ES2022', 'DOM'] } }],
};
// eventsource is ESM-only; jest must transform it.
const transformIgnorePatterns = ['/node_modules/(?!(eventsource|eventsource-parser)/)'];

module.exports = {
  displayName: 'faults',
  testEnvironment: 'node',
  transform,
  transformIgnorePatterns,
  testMatch: ['<rootDir>/test/faults/**/*.test.ts'],
  globalSetup: '<rootDir>/test/support/global-setup-postgres.ts',
  setupFiles: ['<rootDir>/test/support/use-postgres.ts'],
  // Each test sets its own budget; this only catches a hook that hangs.
  testTimeout: 180_000,
  slowTestThreshold: 120,
};
