import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import net from 'node:net';
import { z } from 'zod';
import proxyaddr from 'proxy-addr';
import webpush from 'web-push';
import { POLICIES } from './channels/policies';

const isTimeZone = (zone: string): boolean => {
  try {
    new Intl.DateTimeFormat('en-ZA', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
};

const intFromEnv = (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def);

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
  // At most half: with bookings of at least R1, every payout is at least 50 cents. The default
  // covers Paystack's South African local card price (2.9% + R1, 3.34% + R1.15 with VAT) on
  // bookings from about R70; below that, or at a lower rate, a payment's margin is negative and
  // it is raised to the operators.
  PLATFORM_FEE_BPS: intFromEnv(500, 0, 5_000),
  AUTO_RELEASE_HOURS: intFromEnv(72, 1, 24 * 365),
  RECONCILE_INTERVAL_MS: intFromEnv(5 * 60_000, 1_000, 24 * 3_600_000),
  RECONCILE_AFTER_MS: intFromEnv(10 * 60_000, 0, 7 * 24 * 3_600_000),
  // Browser origins allowed to call the API from another site; the pages we serve need none.
  CORS_ORIGINS: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.url({ protocol: /^https?$/ }).transform((u) => new URL(u).origin)))
    .default([]),
  // Seeded demo users, an in-process fake Paystack and server-minted tokens: never in production.
  DEMO_MODE: z.enum(['0', '1']).optional(),

  // Escrow's edges: how long money may wait before a rule or a person moves it.
  // Currencies a booking may be in: only those a payout recipient can be created in (ZAR: `basa`).
  PAYMENT_CURRENCIES: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((c) => c.trim().toUpperCase())
        .filter(Boolean),
    )
    .pipe(z.array(z.enum(['ZAR'], { error: 'payouts can only be made in ZAR (Paystack basa recipients)' })).min(1))
    .default(['ZAR']),
  // A checkout nobody paid is verified once more and expires after this long; the client may start another.
  CHECKOUT_EXPIRY_HOURS: intFromEnv(24, 1, 24 * 30),
  // The reconciler backs a row off (doubling from RECONCILE_AFTER_MS) up to this long between checks.
  RECONCILE_MAX_BACKOFF_MS: intFromEnv(6 * 3_600_000, 1_000, 7 * 24 * 3_600_000),
  // A provider may start at most this long before the booking's time.
  START_EARLY_MINUTES: intFromEnv(120, 0, 7 * 24 * 60),
  // Escrow held this long past the booking's time without the work completed goes to the operators.
  STALLED_WORK_HOURS: intFromEnv(48, 1, 24 * 365),
  // A card dispute open this long goes to the operators (Paystack's own deadline is about 16 days).
  DISPUTE_ALERT_DAYS: intFromEnv(7, 1, 365),

  // Abuse and exposure. Issuer and audience are checked only when set (recommended in production).
  JWT_ISSUER: z.string().min(1).max(512).optional(),
  JWT_AUDIENCE: z.string().min(1).max(512).optional(),
  // Seconds a token may live from its `iat` (or from now, without one): a leaked token is bounded.
  JWT_MAX_LIFETIME: intFromEnv(30 * 86_400, 60, 10 * 365 * 86_400),
  // Express's `trust proxy`: a hop count, or addresses/CIDRs/names that proxy-addr (Express's own
  // parser) accepts. Unset trusts nobody, so a client cannot pick its address with X-Forwarded-For.
  TRUST_PROXY: z
    .string()
    .transform((s, ctx) => {
      if (/^\d+$/.test(s.trim())) return Number(s.trim());
      const list = s
        .split(',')
        .map((a) => a.trim())
        .filter(Boolean);
      try {
        proxyaddr.compile(list);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `a hop count or a comma-separated list of addresses/CIDRs (${(err as Error).message})` });
        return z.NEVER;
      }
      return list;
    })
    .optional(),
  // 0 turns it off. Per user and per instance (each instance counts its own window).
  WRITE_RATE_LIMIT_PER_MIN: intFromEnv(60, 0, 1_000_000),
  MAX_PENDING_BOOKINGS_PER_PAIR: intFromEnv(3, 1, 10_000),
  // Required as a Bearer on /metrics and /api/status?detail=1 when set.
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),

  // Long polling: the longest a poll is held waiting for an event (below the usual 30-60 s idle
  // timeouts of proxies and mobile networks), and how many may wait at once per user.
  POLL_MAX_WAIT_S: intFromEnv(25, 1, 300),
  LONG_POLLS_PER_USER_MAX: intFromEnv(10, 1, 10_000),

  // Webhooks settle after their 200. How often deliveries recorded but not settled (a crash, a
  // restart, Paystack down) are looked for, and how long one waits after an attempt before any
  // instance tries it again (doubling per attempt, at most an hour).
  WEBHOOK_RETRY_MS: intFromEnv(30_000, 100, 3_600_000),

  // Time moves bookings: request expiry and reminders (src/bookings/booking-timers.ts).
  // Hours a PENDING request waits for the provider's answer before it expires (never past its scheduledFor); fractions allowed.
  BOOKING_REQUEST_TTL_HOURS: z.coerce
    .number()
    .positive()
    .max(24 * 30)
    .default(24),
  // How often each instance looks for due booking timers (expiries and reminders).
  BOOKING_TIMERS_INTERVAL_MS: intFromEnv(30_000, 100, 3_600_000),
  // The marketplace's own time: every time on every page, toast and notification is said in it.
  MARKETPLACE_TIME_ZONE: z
    .string()
    .refine((zone) => isTimeZone(zone), 'must be an IANA time zone, e.g. Africa/Johannesburg')
    .default('Africa/Johannesburg'),
  // `pretty`: one readable line per entry (pino-pretty); unset: pretty in demo mode, JSON otherwise.
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  // Reaching people who are not looking (src/channels/).
  // Seconds a notification stays unread, with no live stream, before it goes by push (unset: ESCALATION_DEFAULTS, or DEMO_ESCALATION_DEFAULTS in demo mode).
  ESCALATE_PUSH_AFTER_S: z.coerce
    .number()
    .int()
    .min(0)
    .max(7 * 86_400)
    .optional(),
  // Seconds a notification stays unread before it goes by WhatsApp or SMS (unset: as above).
  ESCALATE_SMS_AFTER_S: z.coerce
    .number()
    .int()
    .min(0)
    .max(7 * 86_400)
    .optional(),
  // How often the delivery dispatcher looks for new notifications and due deliveries (a commit also wakes it).
  DISPATCH_POLL_MS: intFromEnv(1_000, 10, 60_000),
  // Attempts at one delivery the provider refused for a passing reason, waiting twice as long each time:
  // 8 from 30 s keeps trying for about an hour, so a provider down for 10 minutes loses nothing.
  DELIVERY_MAX_ATTEMPTS: intFromEnv(8, 1, 50),
  // The wait before a refused delivery's first retry (milliseconds); each further retry doubles it.
  DELIVERY_RETRY_BASE_MS: intFromEnv(30_000, 10, 3_600_000),
  // `0`: this instance records and sends no deliveries beyond the tab (others sharing the database do).
  DISPATCH_ENABLED: z
    .enum(['0', '1'])
    .default('1')
    .transform((v) => v === '1'),
  // SMTP server for email (smtp:// or smtps://, credentials in the URL); unset: email is off.
  SMTP_URL: z.url({ protocol: /^smtps?$/ }).optional(),
  // The From address of every email.
  MAIL_FROM: z.string().min(3).max(320).default('Marketplace <no-reply@marketplace.local>'),
  // VAPID keys (base64url, as web-push generates them) and the contact they name; unset outside production: generated once into DATA_DIR.
  VAPID_PUBLIC_KEY: z
    .string()
    .regex(/^[A-Za-z0-9_-]{80,100}$/, 'a base64url P-256 public key')
    .optional(),
  // The private half of the VAPID key pair.
  VAPID_PRIVATE_KEY: z
    .string()
    .regex(/^[A-Za-z0-9_-]{40,50}$/, 'a base64url P-256 private key')
    .optional(),
  // Who push services may contact about our pushes: a mailto: or https: URL.
  VAPID_SUBJECT: z
    .string()
    .regex(/^(mailto:|https:\/\/)/, 'a mailto: or https: URL')
    .default('mailto:ops@marketplace.local'),
  // host:port pairs a push subscription may point at over plain http or on a private address (local fakes only).
  PUSH_ALLOWED_TEST_HOSTS: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((h) => h.trim().toLowerCase())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(/^[a-z0-9.\-[\]:]+:\d{1,5}$/, 'host:port')))
    .default([]),
  // The address people and providers reach this server at (links in messages, signed callbacks); unset: http://localhost:PORT.
  PUBLIC_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),

  // SMS and WhatsApp through Twilio's Messages API (src/channels/sms-channel.ts); unset SID or token: both are off.
  // Where Twilio's REST API answers (a local fake in tests and the demo).
  TWILIO_BASE_URL: z.url({ protocol: /^https?$/ }).default('https://api.twilio.com'),
  // The account that sends, and whose token signs status callbacks.
  TWILIO_ACCOUNT_SID: z
    .string()
    .regex(/^AC[0-9a-fA-F]{32}$/, 'AC followed by 32 hex digits')
    .optional(),
  // The account's auth token: HTTP Basic password and the key of X-Twilio-Signature.
  TWILIO_AUTH_TOKEN: z.string().min(16).max(200).optional(),
  // Sender of SMS: an E.164 number or a Messaging Service SID (MG…); unset: SMS is off.
  TWILIO_SMS_FROM: z
    .string()
    .regex(/^(\+[1-9]\d{6,14}|MG[0-9a-fA-F]{32})$/, 'an E.164 number or a Messaging Service SID')
    .optional(),
  // Sender of WhatsApp messages: an E.164 number (sent as whatsapp:+…) or a Messaging Service SID; unset: WhatsApp is off.
  TWILIO_WHATSAPP_FROM: z
    .string()
    .transform((s) => s.replace(/^whatsapp:/, ''))
    .pipe(z.string().regex(/^(\+[1-9]\d{6,14}|MG[0-9a-fA-F]{32})$/, 'an E.164 number or a Messaging Service SID'))
    .optional(),
  // Approved WhatsApp templates (Twilio Content API) as JSON, {"booking.created":"HX…","*":"HX…"}:
  // each with {{1}} (the title) and {{2}} (the text); a type without one goes as free text.
  TWILIO_WHATSAPP_TEMPLATES: z
    .string()
    .transform((s, ctx) => {
      try {
        return JSON.parse(s) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'a JSON object of notification type to Content SID' });
        return z.NEVER;
      }
    })
    .pipe(
      z
        .record(z.string(), z.string().regex(/^HX[0-9a-fA-F]{32}$/, 'a Content SID: HX followed by 32 hex digits'))
        .refine(
          (r) => Object.keys(r).every((type) => type === '*' || type in POLICIES),
          'keys must be notification types with a policy (src/channels/policies.ts), or *',
        ),
    )
    .default({}),
});
export type Env = z.infer<typeof EnvSchema>;

export type Config = Readonly<
  Omit<
    Env,
    | 'JWT_SECRET'
    | 'INSTANCE_ID'
    | 'DEMO_MODE'
    | 'PAYSTACK_BASE_URL'
    | 'VAPID_PUBLIC_KEY'
    | 'VAPID_PRIVATE_KEY'
    | 'ESCALATE_PUSH_AFTER_S'
    | 'ESCALATE_SMS_AFTER_S'
  > & {
    JWT_SECRET: string;
    ESCALATE_PUSH_AFTER_S: number;
    ESCALATE_SMS_AFTER_S: number;
    PAYSTACK_BASE_URL: string;
    /** True when PAYSTACK_BASE_URL came from the environment rather than the default. */
    paystackBaseUrlSet: boolean;
    INSTANCE_ID: string;
    /** On by default on the embedded database outside production; DEMO_MODE overrides. */
    demoMode: boolean;
    /** True when JWT_SECRET came from the data folder rather than the environment. */
    jwtSecretGenerated: boolean;
    /** The VAPID key pair from the environment or (outside production) the data folder; null: push is off. */
    vapid: { publicKey: string; privateKey: string } | null;
  }
>;

export const DEFAULT_PAYSTACK_BASE_URL = 'https://api.paystack.co';

/** Escalation delays when unset: minutes in earnest, seconds in the demo (where a newcomer watches them happen). */
export const ESCALATION_DEFAULTS = { pushAfterS: 120, textAfterS: 600 } as const;
export const DEMO_ESCALATION_DEFAULTS = { pushAfterS: 10, textAfterS: 30 } as const;

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
  // Demo mode mints admin tokens for anyone who reaches the port: only ever on a loopback address.
  if (demoMode && e.HOST !== undefined && !isLoopbackHost(e.HOST)) {
    throw new ConfigError([
      `DEMO_MODE: demo mode lets anyone who reaches the port act as any demo user (admin included), so it runs only on a loopback HOST (127.0.0.1, ::1 or localhost), not ${e.HOST}; unset HOST or set DEMO_MODE=0`,
    ]);
  }
  const jwtSecret = e.JWT_SECRET ?? readOrCreateSecret(e.DATA_DIR);
  if ((e.TWILIO_ACCOUNT_SID === undefined) !== (e.TWILIO_AUTH_TOKEN === undefined)) {
    throw new ConfigError(['TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN: set both or neither']);
  }
  if ((e.VAPID_PUBLIC_KEY === undefined) !== (e.VAPID_PRIVATE_KEY === undefined)) {
    throw new ConfigError(['VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY: set both or neither']);
  }
  const vapid =
    e.VAPID_PUBLIC_KEY && e.VAPID_PRIVATE_KEY
      ? { publicKey: e.VAPID_PUBLIC_KEY, privateKey: e.VAPID_PRIVATE_KEY }
      : e.NODE_ENV === 'production'
        ? null
        : readOrCreateVapidKeys(e.DATA_DIR);
  const escalation = demoMode ? DEMO_ESCALATION_DEFAULTS : ESCALATION_DEFAULTS;
  return Object.freeze({
    ...e,
    JWT_SECRET: jwtSecret,
    ESCALATE_PUSH_AFTER_S: e.ESCALATE_PUSH_AFTER_S ?? escalation.pushAfterS,
    ESCALATE_SMS_AFTER_S: e.ESCALATE_SMS_AFTER_S ?? escalation.textAfterS,
    // Random, not the PID: it is shown on the open /api/status.
    INSTANCE_ID: e.INSTANCE_ID ?? crypto.randomBytes(6).toString('hex'),
    jwtSecretGenerated: !e.JWT_SECRET,
    vapid,
    PAYSTACK_BASE_URL: e.PAYSTACK_BASE_URL ?? DEFAULT_PAYSTACK_BASE_URL,
    paystackBaseUrlSet: e.PAYSTACK_BASE_URL !== undefined,
    demoMode,
  });
}

const LOOPBACK = new net.BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** True for `localhost` and loopback addresses (127.0.0.0/8, ::1, and IPv4-mapped 127.x). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (h === 'localhost') return true;
  const family = net.isIP(h);
  if (family === 0) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  if (mapped) return LOOPBACK.check(mapped[1], 'ipv4');
  return LOOPBACK.check(h, family === 6 ? 'ipv6' : 'ipv4');
}

/**
 * Development convenience: one secret per data folder, so `npm run token` and the server agree
 * without anyone configuring anything.
 */
function readOrCreateSecret(dataDir: string): string {
  return readOrCreateDataFile(
    path.join(dataDir, 'jwt-secret'),
    () => crypto.randomBytes(48).toString('base64url'),
    (content, file) => (content.length < 32 ? `JWT_SECRET: ${file} holds fewer than 32 characters; delete it to generate a new one, or set JWT_SECRET` : null),
  );
}

/** Outside production, one VAPID key pair per data folder, so subscriptions survive restarts. */
function readOrCreateVapidKeys(dataDir: string): { publicKey: string; privateKey: string } {
  const parse = (content: string) => {
    try {
      const k = JSON.parse(content) as { publicKey?: unknown; privateKey?: unknown };
      return typeof k.publicKey === 'string' && typeof k.privateKey === 'string' ? { publicKey: k.publicKey, privateKey: k.privateKey } : null;
    } catch {
      return null;
    }
  };
  const content = readOrCreateDataFile(
    path.join(dataDir, 'vapid-keys.json'),
    () => JSON.stringify(webpush.generateVAPIDKeys()),
    (text, file) => (parse(text) ? null : `VAPID_PUBLIC_KEY: ${file} is not a key pair; delete it to generate a new one, or set VAPID_*`),
  );
  return parse(content)!;
}

/**
 * The content of `file` in the data folder, created by `create` if it does not exist. Written
 * whole under a private name, then linked into place: link() fails if the file exists, so two
 * processes starting together agree on one content, and neither can read a half-written one.
 * `problem` names what is wrong with content found there: an error, never a weak key.
 */
function readOrCreateDataFile(file: string, create: () => string, problem: (content: string, file: string) => string | null): string {
  const read = (): string | undefined => {
    let content: string;
    try {
      content = fs.readFileSync(file, 'utf8').trim();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const wrong = problem(content, file);
    if (wrong) throw new ConfigError([wrong]);
    return content;
  };
  const existing = read();
  if (existing !== undefined) return existing;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const content = create();
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  fs.writeFileSync(tmp, content + '\n', { mode: 0o600, flag: 'wx' });
  try {
    fs.linkSync(tmp, file);
    return content;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return read()!;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}
