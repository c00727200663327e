import http from 'node:http';
import { checkAnswer, checkLater } from './contract';
import crypto from 'node:crypto';
import type { Knex } from 'knex';
import type { Role } from '../../src/contract/vocabulary';
import type { ErrorCode } from '../../src/errors/app-error';
import { ERROR_STATUS } from '../../src/errors/app-error';
import type { Actor, Marketplace } from './marketplace';
import type { CatalogRoute } from './route-catalog';
import { inAnHour } from './booking-time';

/*
 * What the hostile suites share: a small world of users, a booking, a payout and a notification to
 * aim at; raw HTTP (exact bytes, any header, chunked or not); a fingerprint of every table; and
 * the checks every refusal must pass.
 */

export interface World {
  m: Marketplace;
  admin: Actor;
  /** The booking's client and provider. */
  client: Actor;
  provider: Actor;
  /** Users with no part in it. */
  otherClient: Actor;
  otherProvider: Actor;
  /** A PENDING booking of `client` with `provider`. */
  bookingId: string;
  /** A COMPLETED payout (another booking's). */
  payoutId: string;
  /** A notification in everyone's inbox (an announcement). */
  notificationId: string;
  /** A notification in `provider`'s inbox only (their booking request). */
  providerNotificationId: string;
}

export async function buildWorld(m: Marketplace, prefix: string): Promise<World> {
  const admin = m.user(`${prefix}-admin`, 'admin');
  const client = m.user(`${prefix}-client`, 'client', { email: `${prefix}-client@example.co.za` });
  const provider = m.user(`${prefix}-provider`, 'provider');
  const otherClient = m.user(`${prefix}-other-client`, 'client', { email: `${prefix}-other@example.co.za` });
  const otherProvider = m.user(`${prefix}-other-provider`, 'provider');
  // Each first request writes its user; after this, a request by these actors writes nothing by itself.
  for (const a of [admin, client, provider, otherClient, otherProvider]) await a.get('/api/me').expect(200);
  for (const p of [provider, otherProvider]) {
    await p.put('/api/me/payout-account', { accountName: 'A B', accountNumber: '1234567890', bankCode: '470010' }).expect(200);
  }
  const booking = await client.post('/api/bookings', { providerId: provider.sub, service: 'plumbing', scheduledFor: inAnHour(), amount: 25_000 }).expect(201);

  const paid = await m.confirmedBookingWithPayment({ prefix: `${prefix}-paid`, amount: 30_000 });
  await m.paystack.completeCharge(paid.reference);
  await paid.provider.post(`/api/bookings/${paid.id}/start`).expect(200);
  await paid.provider.post(`/api/bookings/${paid.id}/complete`).expect(200);
  await paid.client.post(`/api/bookings/${paid.id}/confirm-completion`).expect(200);
  const payout = await m.srv.db.database.knex('payouts').where({ booking_id: paid.id }).first('id');

  await admin.post('/api/broadcasts', { title: 'Welcome', body: 'to everyone', all: true }).expect(202);
  const inbox = await client.get('/api/notifications').expect(200);
  const notificationId = String(inbox.body.notifications[0]?.id ?? '');
  if (!notificationId) throw new Error('the world has no notification for the client');
  const own = await provider.get('/api/notifications').expect(200);
  const personal = (own.body.notifications as Array<{ id: string; type: string }>).find((n) => n.type !== 'announcement');
  if (!personal) throw new Error('the world has no personal notification for the provider');
  return {
    m,
    admin,
    client,
    provider,
    otherClient,
    otherProvider,
    bookingId: String(booking.body.id),
    payoutId: String(payout.id),
    notificationId,
    providerNotificationId: String(personal.id),
  };
}

/** Someone the route lets in (for booking routes, a party to the world's booking). */
export function allowedActors(w: World, r: CatalogRoute): Actor[] {
  if (r.party === 'client') return [w.client];
  if (r.party === 'provider') return [w.provider];
  if (r.party === 'either') return [w.client, w.provider];
  const byRole: Record<Role, Actor> = { client: w.client, provider: w.provider, admin: w.admin };
  return r.roles.map((role) => byRole[role]);
}

export function targetId(w: World, r: CatalogRoute): string | undefined {
  if (r.target === 'booking') return w.bookingId;
  if (r.target === 'payout') return w.payoutId;
  if (r.target === 'notification') return w.notificationId;
  return undefined;
}

/* ---- Raw HTTP ---- */

export interface RawRequest {
  method: string;
  /** Path and query, already encoded: sent exactly as given. */
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** No Content-Length: the body goes chunked. */
  chunked?: boolean;
  /** The local address to send from (any of 127/8 on loopback), on a connection of its own. */
  from?: string;
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: unknown;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

export function send(baseUrl: string, r: RawRequest, timeoutMs = 10_000): Promise<RawResponse> {
  const url = new URL(baseUrl);
  const body = r.body === undefined ? undefined : Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body, 'utf8');
  const headers: Record<string, string | number> = { ...r.headers };
  if (body && !r.chunked) headers['Content-Length'] = body.length;
  if (body && r.chunked) headers['Transfer-Encoding'] = 'chunked';
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, method: r.method, path: r.path, headers, agent: r.from ? false : agent, localAddress: r.from, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          // Refusals are answers too: each is held to the OpenAPI document (reported at the test's end).
          checkLater(() =>
            checkAnswer({
              method: r.method,
              url: r.path,
              status: res.statusCode ?? 0,
              contentType: res.headers['content-type'],
              body: json ?? (text || undefined),
            }),
          );
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms: ${r.method} ${r.path.slice(0, 200)}`)));
    req.on('error', reject);
    if (body && r.chunked) {
      // Two chunks, so the parser really sees a stream without a declared length.
      const mid = Math.floor(body.length / 2);
      req.write(body.subarray(0, mid));
      req.end(body.subarray(mid));
    } else {
      req.end(body);
    }
  });
}

/** Percent-encodes the UTF-8 bytes of each key and value (an unpaired surrogate becomes U+FFFD). */
export function queryString(q: Array<[string, string]>): string {
  const enc = (s: string) =>
    [...Buffer.from(s, 'utf8')]
      .map((b) => (/[A-Za-z0-9\-_.~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`))
      .join('');
  return q.length ? `?${q.map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&')}` : '';
}

/* ---- The database, before and after ---- */

export type Fingerprint = Record<string, { rows: number; md5: string }>;

/**
 * Written on timers, not by requests: the delivery dispatcher's, from notifications committed
 * earlier (which are fingerprinted), and each instance's heartbeat, which dates its stream
 * presence rows.
 */
const BACKGROUND_TABLES = ['dispatch_cursors', 'notification_deliveries', 'instance_heartbeats'];

/** Row count and a checksum of the content of every table (but those excluded, and those written on timers). */
export async function fingerprint(knex: Knex, exclude: readonly string[] = []): Promise<Fingerprint> {
  exclude = [...exclude, ...BACKGROUND_TABLES];
  const tables: string[] = (
    await knex('information_schema.tables')
      .where({ table_type: 'BASE TABLE' })
      .whereRaw('table_schema = current_schema()')
      .orderBy('table_name')
      .select('table_name')
  )
    .map((r: { table_name: string }) => r.table_name)
    .filter((t) => !exclude.includes(t));
  const sql = tables
    .map((t) => `SELECT '${t}' AS t, count(*)::int AS n, md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS h FROM "${t}" x`)
    .join(' UNION ALL ');
  const res = await knex.raw(sql);
  const rows: Array<{ t: string; n: number; h: string }> = res.rows;
  return Object.fromEntries(rows.map((r) => [r.t, { rows: Number(r.n), md5: r.h }]));
}

/** The stored answers under these keys. */
export async function idempotencyRows(knex: Knex, keys: string[]): Promise<Array<{ key: string; status: number | null }>> {
  const rows: Array<{ key: string; status: number | null }> = [];
  for (let i = 0; i < keys.length; i += 500)
    rows.push(
      ...(await knex('idempotency_keys')
        .whereIn('key', keys.slice(i, i + 500))
        .select('key', 'status')),
    );
  return rows;
}

/* ---- What every refusal must look like ---- */

export interface Expected {
  status: number;
  code: ErrorCode;
}

export const expectCode = (code: ErrorCode): Expected => ({ status: ERROR_STATUS[code], code });

const STACK_LIKE = [/\n\s+at\s/, /\bat\s+\S+\s+\(.*:\d+:\d+\)/, /node_modules/, /\/src\/\w+/, /\.ts:\d+/, /Error: /];

/** Throws, with the request in the message, unless `res` is exactly the expected refusal. */
export function assertRefusal(req: RawRequest, res: RawResponse, exp: Expected): void {
  const where = `${req.method} ${req.path.slice(0, 160)} [${Object.entries(req.headers ?? {})
    .map(([k, v]) => `${k}: ${String(v).slice(0, 60)}`)
    .join('; ')}] body ${describeBody(req.body)}`;
  const fail = (why: string) => {
    throw new Error(`${why}\n  request: ${where}\n  answer: ${res.status} ${res.text.slice(0, 400)}`);
  };
  if (res.status !== exp.status) fail(`expected ${exp.status} ${exp.code}, got ${res.status}`);
  if (!String(res.headers['content-type'] ?? '').startsWith('application/json')) fail('the refusal is not JSON');
  const body = res.json as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined;
  if (!body?.error || Object.keys(body).length !== 1) fail('not {"error": {...}}');
  const keys = Object.keys(body!.error!);
  if (keys.some((k) => !['code', 'message', 'details'].includes(k))) fail(`unexpected error keys ${keys.join(',')}`);
  if (body!.error!.code !== exp.code) fail(`expected code ${exp.code}, got ${String(body!.error!.code)}`);
  if (typeof body!.error!.message !== 'string') fail('no message');
  for (const p of STACK_LIKE) if (p.test(res.text)) fail(`the answer looks like it carries a stack trace or a path (${p})`);
}

function describeBody(b: RawRequest['body']): string {
  if (b === undefined) return '(none)';
  const s = Buffer.isBuffer(b) ? b.toString('latin1') : b;
  return s.length > 300 ? `${JSON.stringify(s.slice(0, 200))}… (${s.length} chars)` : JSON.stringify(s);
}

/** Error-level lines, and 4xx/5xx request lines without a code, among `logs` from `from` on. */
export function badLogLines(logs: Array<Record<string, unknown>>, from: number): Array<Record<string, unknown>> {
  return logs.slice(from).filter((l) => {
    const level = Number(l.level);
    const status = Number((l.res as { statusCode?: number } | undefined)?.statusCode ?? 0);
    return level >= 50 || (status >= 400 && typeof l.code !== 'string');
  });
}

export const uniqueKey = () => `hostile-${crypto.randomUUID()}`;

/** Counts what a suite sent, for the summary line. */
export class Tally {
  private readonly counts = new Map<string, number>();
  add(what: string, n = 1): void {
    this.counts.set(what, (this.counts.get(what) ?? 0) + n);
  }
  get total(): number {
    return [...this.counts.values()].reduce((a, b) => a + b, 0);
  }
  summary(suite: string): string {
    const parts = [...this.counts.entries()].map(([k, v]) => `${k}: ${v}`);
    return `${suite}: ${this.total} generated inputs sent (${parts.join(', ')})`;
  }
}
