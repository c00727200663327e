import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { z } from 'zod';

const intFromEnv = (def: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(def);

/** Every environment variable the server reads; nothing outside this file touches process.env. */
export const EnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: intFromEnv(3000, 0, 65535),
  // Unset: every interface, except in demo mode (which mints tokens for anyone): loopback only.
  HOST: z.string().min(1).optional(),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  DATA_DIR: z.string().min(1).default('./.data'),
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  HEARTBEAT_MS: intFromEnv(15_000, 100, 300_000),
  EVENT_RETENTION_HOURS: intFromEnv(168, 1, 24 * 365),
  PRUNE_INTERVAL_MS: intFromEnv(10 * 60_000, 1_000, 24 * 3_600_000),
  TICKET_TTL_MS: intFromEnv(60_000, 100, 3_600_000),
  STREAM_QUEUE_CAP_BYTES: intFromEnv(1024 * 1024, 1024, 256 * 1024 * 1024),
  STREAM_RETRY_MS: intFromEnv(2_000, 0, 600_000),
  POLL_INTERVAL_MS: intFromEnv(60_000, 1_000, 3_600_000),
  STREAMS_PER_USER_MAX: intFromEnv(10, 1, 10_000),
  POLL_RATE_LIMIT_PER_MIN: intFromEnv(120, 1, 1_000_000),
  AUTH_FAILURE_LIMIT_PER_5MIN: intFromEnv(30, 1, 1_000_000),
  RELAY_POLL_MS: intFromEnv(1_000, 10, 60_000),
  SHUTDOWN_TIMEOUT_MS: intFromEnv(10_000, 100, 120_000),
  INSTANCE_ID: z.string().min(1).max(64).optional(),
  // Optional, not defaulted here: demo mode runs its own fake only when this is unset.
  PAYSTACK_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),
  // Signs our API calls and, per Paystack, the webhooks it sends us. Test keys start sk_test_.
  PAYSTACK_SECRET_KEY: z.string().min(8).optional(),
  PAYSTACK_TIMEOUT_MS: intFromEnv(10_000, 100, 120_000),
  // At most half: with bookings of at least R1, every payout is at least 50 cents.
  PLATFORM_FEE_BPS: intFromEnv(0, 0, 5_000),
  AUTO_RELEASE_HOURS: intFromEnv(72, 1, 24 * 365),
  RECONCILE_INTERVAL_MS: intFromEnv(5 * 60_000, 1_000, 24 * 3_600_000),
  RECONCILE_AFTER_MS: intFromEnv(10 * 60_000, 0, 7 * 24 * 3_600_000),
  // Browser origins allowed to call the API from another site; the pages we serve need none.
  CORS_ORIGINS: z
    .string()
    .transform((s) => s.split(',').map((o) => o.trim()).filter(Boolean))
    .pipe(z.array(z.url({ protocol: /^https?$/ }).transform((u) => new URL(u).origin)))
    .default([]),
  // Seeded demo users, an in-process fake Paystack and server-minted tokens: never in production.
  DEMO_MODE: z.enum(['0', '1']).optional(),
  // Long polling: the longest a poll is held waiting for an event (below the usual 30-60 s idle
  // timeouts of proxies and mobile networks), and how many may wait at once per user.
  POLL_MAX_WAIT_S: intFromEnv(25, 1, 300),
  LONG_POLLS_PER_USER_MAX: intFromEnv(10, 1, 10_000),
});
export type Env = z.infer<typeof EnvSchema>;

export type Config = Readonly<
  Omit<Env, 'JWT_SECRET' | 'INSTANCE_ID' | 'DEMO_MODE' | 'PAYSTACK_BASE_URL'> & {
    JWT_SECRET: string;
    PAYSTACK_BASE_URL: string;
    /** True when PAYSTACK_BASE_URL came from the environment rather than the default. */
    paystackBaseUrlSet: boolean;
    INSTANCE_ID: string;
    /** On by default on the embedded database outside production; DEMO_MODE overrides. */
    demoMode: boolean;
    /** True when JWT_SECRET came from the data folder rather than the environment. */
    jwtSecretGenerated: boolean;
  }
>;

export const DEFAULT_PAYSTACK_BASE_URL = 'https://api.paystack.co';

export class ConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parse the environment once; throws ConfigError listing every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings are how shells and Procfiles say "unset".
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
  const parsed = EnvSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const e = parsed.data;
  if (e.NODE_ENV === 'production') {
    const missing = (['JWT_SECRET', 'PAYSTACK_SECRET_KEY'] as const).filter((k) => !e[k]);
    if (missing.length) throw new ConfigError(missing.map((k) => `${k}: required when NODE_ENV=production`));
    if (e.DEMO_MODE === '1') throw new ConfigError(['DEMO_MODE: must not be 1 when NODE_ENV=production']);
  }
  const demoMode = e.DEMO_MODE !== undefined ? e.DEMO_MODE === '1' : e.NODE_ENV === 'development' && !e.DATABASE_URL;
  const jwtSecret = e.JWT_SECRET ?? readOrCreateSecret(e.DATA_DIR);
  return Object.freeze({
    ...e,
    JWT_SECRET: jwtSecret,
    INSTANCE_ID: e.INSTANCE_ID ?? `${process.pid}-${crypto.randomBytes(3).toString('hex')}`,
    jwtSecretGenerated: !e.JWT_SECRET,
    PAYSTACK_BASE_URL: e.PAYSTACK_BASE_URL ?? DEFAULT_PAYSTACK_BASE_URL,
    paystackBaseUrlSet: e.PAYSTACK_BASE_URL !== undefined,
    demoMode,
  });
}

/**
 * Development convenience: one secret per data folder, so `npm run token` and the server agree
 * without anyone configuring anything.
 */
function readOrCreateSecret(dataDir: string): string {
  const file = path.join(dataDir, 'jwt-secret');
  const existing = readSecretFile(file);
  if (existing !== undefined) return existing;
  fs.mkdirSync(dataDir, { recursive: true });
  const secret = crypto.randomBytes(48).toString('base64url');
  // Written whole under a private name, then linked into place: link() fails if the file exists,
  // so two processes starting together agree on one secret, and neither can read a half-written one.
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  fs.writeFileSync(tmp, secret + '\n', { mode: 0o600, flag: 'wx' });
  try {
    fs.linkSync(tmp, file);
    return secret;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return readSecretFile(file)!;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** The secret in `file`; undefined if there is none. A short one is an error, never a weak key. */
function readSecretFile(file: string): string | undefined {
  let content: string;
  try {
    content = fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (content.length < 32) {
    throw new ConfigError([`JWT_SECRET: ${file} holds fewer than 32 characters; delete it to generate a new one, or set JWT_SECRET`]);
  }
  return content;
}
