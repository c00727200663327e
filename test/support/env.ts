/** Set by .ci/run: everything a fresh machine may lack must be present, so skips become failures. */
export const IS_CI = /^(1|true|yes)$/i.test(process.env.CI ?? '');

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export const PGLITE_TEMPLATE_FILE = 'PGLITE_TEMPLATE_FILE';
export const POSTGRES_SKIP_REASON = 'POSTGRES_SKIP_REASON';

/** The secret of every server the tests start, in-process or as a child process. */
export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';
