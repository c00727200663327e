import http from 'node:http';
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import jwt from 'jsonwebtoken';
import type { Knex } from 'knex';
import { describeDb } from '../support/test-db';
import { startTestServer, type TestServer } from '../support/test-server';
import { PAYSTACK_TEST_KEY, startMarketplace, type Marketplace } from '../support/marketplace';
import { fingerprint, send, uniqueKey } from '../support/hostile-harness';
import { ROUTE_CATALOG } from '../support/route-catalog';
import { RELAY_TAIL_STATEMENT } from '../../src/events/event-log';
import { openStream } from '../support/sse-client';
import { spawnServer, killServer, withTimeout } from '../support/server-process';
import { signPaystackBody } from '../../fakes/fake-paystack';
import { TEST_JWT_SECRET } from '../support/env';
import { inAnHour } from '../support/booking-time';
import { sleep } from '../support/sleep';

/*
 * Abuse and exposure, probed as an attacker would: tokens that live forever or were issued for
 * someone else, rate limits that one address can exhaust for everyone behind a proxy, writes
 * without a per-user bound, stream tickets kept in the clear, payouts in a client's views, a demo
 * reachable from other machines or other sites, and operator endpoints that cost a query per call.
 */

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: any;
  text: string;
}

/** One request (JSON when it has a body), optionally from a chosen loopback source address. */
async function call(baseUrl: string, o: { method?: string; path: string; headers?: Record<string, string>; body?: string; from?: string }): Promise<Answer> {
  const headers = { ...(o.body === undefined ? {} : { 'Content-Type': 'application/json' }), ...o.headers };
  const res = await send(baseUrl, { method: o.method ?? 'GET', path: o.path, headers, body: o.body, from: o.from });
  return { status: res.status, headers: res.headers, body: res.json, text: res.text };
}

const codeOf = (a: Answer) => `${a.status} ${a.body?.error?.code ?? ''}`.trim();
const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });
const nowSec = () => Math.floor(Date.now() / 1000);
const signed = (claims: object) => jwt.sign(claims, TEST_JWT_SECRET, { algorithm: 'HS256' });

/**
 * A reverse proxy as a load balancer is one: it forwards to `target` and appends the address of
 * whoever connected to X-Forwarded-For (after whatever that client claimed there itself).
 */
async function startProxy(target: string): Promise<{ url: string; close(): Promise<void> }> {
  const t = new URL(target);
  const server = http.createServer((req, res) => {
    const claimed = req.headers['x-forwarded-for'];
    const xff = [claimed, req.socket.remoteAddress].filter(Boolean).join(', ');
    const up = http.request(
      { host: t.hostname, port: t.port, method: req.method, path: req.url, agent: false, headers: { ...req.headers, 'x-forwarded-for': xff } },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Every table's rows as text, for finding a value anywhere in the database. */
async function everyRowAsText(knex: Knex): Promise<Record<string, string>> {
  const tables: string[] = (
    await knex('information_schema.tables').where({ table_type: 'BASE TABLE' }).whereRaw('table_schema = current_schema()').select('table_name')
  ).map((r: { table_name: string }) => r.table_name);
  const out: Record<string, string> = {};
  for (const t of tables) {
    const res = await knex.raw(`SELECT coalesce(string_agg(x::text, '\n'), '') AS rows FROM "${t}" x`);
    out[t] = res.rows[0].rows;
  }
  return out;
}

describeDb('hostile abuse: tokens', () => {
  let srv: TestServer;
  let bound: TestServer;
  beforeAll(async () => {
    srv = await startTestServer();
    bound = await startTestServer({ JWT_ISSUER: 'https://id.example.co.za', JWT_AUDIENCE: 'marketplace-api' });
  });
  afterAll(async () => {
    await srv?.stop();
    await bound?.stop();
  });

  it('refuses a signed token whose exp is far in the future (1e15) with 401 AUTH_INVALID, on tickets and streams alike', async () => {
    const t = signed({ sub: 'forever', role: 'client', exp: 1e15 });
    expect(codeOf(await call(srv.url, { method: 'POST', path: '/api/events/tickets', headers: bearer(t), body: '{}' }))).toBe('401 AUTH_INVALID');
    expect(codeOf(await call(srv.url, { path: '/api/events/stream', headers: bearer(t) }))).toBe('401 AUTH_INVALID');
    expect(codeOf(await call(srv.url, { path: '/api/me', headers: bearer(t) }))).toBe('401 AUTH_INVALID');
  });

  it('refuses a 100-year token, and one living longer than 30 days from its iat', async () => {
    const century = signed({ sub: 'centenarian', role: 'client', iat: nowSec(), exp: nowSec() + 100 * 365 * 86_400 });
    expect(codeOf(await call(srv.url, { path: '/api/me', headers: bearer(century) }))).toBe('401 AUTH_INVALID');
    const long = signed({ sub: 'long', role: 'client', iat: nowSec() - 60, exp: nowSec() + 30 * 86_400 });
    expect(codeOf(await call(srv.url, { path: '/api/me', headers: bearer(long) }))).toBe('401 AUTH_INVALID');
    // Within the bound: accepted.
    const month = signed({ sub: 'monthly', role: 'client', iat: nowSec(), exp: nowSec() + 29 * 86_400 });
    expect((await call(srv.url, { path: '/api/me', headers: bearer(month) })).status).toBe(200);
  });

  it('with JWT_ISSUER and JWT_AUDIENCE set, refuses tokens of another issuer or audience, or with none', async () => {
    const base = { sub: 'bound-user', role: 'client', exp: nowSec() + 600 };
    for (const claims of [
      { ...base, iss: 'https://evil.example', aud: 'marketplace-api' },
      { ...base, iss: 'https://id.example.co.za', aud: 'another-api' },
      base,
    ]) {
      expect(codeOf(await call(bound.url, { path: '/api/me', headers: bearer(signed(claims)) }))).toBe('401 AUTH_INVALID');
    }
    const ours = signed({ ...base, iss: 'https://id.example.co.za', aud: 'marketplace-api' });
    expect((await call(bound.url, { path: '/api/me', headers: bearer(ours) })).status).toBe(200);
    // And the server's own tokens carry both.
    expect((await call(bound.url, { path: '/api/me', headers: bearer(bound.token('minted', 'client')) })).status).toBe(200);
  });
});

describeDb('hostile abuse: the failed-auth limit behind a proxy, and what it counts', () => {
  let m: Marketplace;
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  beforeAll(async () => {
    // The proxy listens on 127.0.0.1: that one address is trusted, nothing else.
    m = await startMarketplace({ TRUST_PROXY: '127.0.0.1', AUTH_FAILURE_LIMIT_PER_5MIN: '3' });
    proxy = await startProxy(m.srv.url);
  });
  afterAll(async () => {
    await proxy?.close();
    await m?.stop();
  });
  const garbage = (from: string, via: string, xff?: string) =>
    call(via, { path: '/api/me', from, headers: { ...bearer('not.a.token'), ...(xff ? { 'X-Forwarded-For': xff } : {}) } });

  it('gives two clients behind the proxy separate budgets, whatever they put in X-Forwarded-For themselves', async () => {
    const a = [];
    for (let i = 0; i < 4; i++) a.push((await garbage('127.0.0.2', proxy.url)).status);
    expect(a).toEqual([401, 401, 401, 429]);
    // Another client of the same proxy is untouched, even claiming to be the first one.
    const b = [];
    for (let i = 0; i < 3; i++) b.push((await garbage('127.0.0.3', proxy.url, '127.0.0.2')).status);
    expect(b).toEqual([401, 401, 401]);
    expect((await garbage('127.0.0.3', proxy.url)).status).toBe(429);
  });

  it('ignores X-Forwarded-For from a peer that is not the trusted proxy', async () => {
    const direct = [];
    // Each claims another address; all are one budget, that of the peer.
    for (let i = 0; i < 4; i++) direct.push((await garbage('127.0.0.4', m.srv.url, `198.51.100.${i + 1}`)).status);
    expect(direct).toEqual([401, 401, 401, 429]);
  });

  it('never counts AUTH_EXPIRED (nor answers it 429), but counts bad tickets and bad webhook signatures', async () => {
    const expired = signed({ sub: 'sleepy', role: 'client', iat: nowSec() - 7200, exp: nowSec() - 3600 });
    // Ten expired tokens: still 401 AUTH_EXPIRED each, and the address's budget is intact.
    for (let i = 0; i < 10; i++)
      expect(codeOf(await call(m.srv.url, { path: '/api/me', from: '127.0.0.5', headers: bearer(expired) }))).toBe('401 AUTH_EXPIRED');
    const tickets = [];
    for (let i = 0; i < 4; i++) tickets.push(codeOf(await call(m.srv.url, { path: `/api/events/stream?ticket=${'A'.repeat(43)}`, from: '127.0.0.5' })));
    expect(tickets).toEqual(['401 AUTH_INVALID', '401 AUTH_INVALID', '401 AUTH_INVALID', '429 RATE_LIMITED']);
    // Past the limit, an honest client whose token ran out is still told so, and can refresh.
    expect(codeOf(await call(m.srv.url, { path: '/api/me', from: '127.0.0.5', headers: bearer(expired) }))).toBe('401 AUTH_EXPIRED');

    const body = JSON.stringify({ event: 'charge.success', data: { reference: 'nope' } });
    const hooks = [];
    for (let i = 0; i < 4; i++) {
      hooks.push(
        codeOf(
          await call(m.srv.url, {
            method: 'POST',
            path: '/api/webhooks/paystack',
            from: '127.0.0.6',
            body,
            headers: { 'x-paystack-signature': signPaystackBody(body, 'wrong-key-0123456789') },
          }),
        ),
      );
    }
    expect(hooks).toEqual(['401 WEBHOOK_SIGNATURE_INVALID', '401 WEBHOOK_SIGNATURE_INVALID', '401 WEBHOOK_SIGNATURE_INVALID', '429 RATE_LIMITED']);
    // Paystack's own, correctly signed, from that address: not a guess, so not refused.
    const ok = await call(m.srv.url, {
      method: 'POST',
      path: '/api/webhooks/paystack',
      from: '127.0.0.6',
      body,
      headers: { 'x-paystack-signature': signPaystackBody(body, PAYSTACK_TEST_KEY) },
    });
    expect(ok.status).toBe(200);
  });
});

describeDb('hostile abuse: per-user limits on writes, bookings and tickets', () => {
  let m: Marketplace;
  let flood: Marketplace;
  beforeAll(async () => {
    m = await startMarketplace({ WRITE_RATE_LIMIT_PER_MIN: '0', MAX_PENDING_BOOKINGS_PER_PAIR: '3' });
    flood = await startMarketplace({ WRITE_RATE_LIMIT_PER_MIN: '5' });
  }, 60_000);
  afterAll(async () => {
    await m?.stop();
    await flood?.stop();
  });

  it('limits each user to WRITE_RATE_LIMIT_PER_MIN writes a minute: 429 RATE_LIMITED with Retry-After and RateLimit headers; reads, other users and admins go on', async () => {
    const greedy = flood.user('wr-greedy', 'client');
    const report = () => greedy.post('/api/events/client-mode', { sessionId: 'tab-one-1', mode: 'live', reason: 'x' });
    const codes = [];
    for (let i = 0; i < 5; i++) codes.push((await report()).status);
    expect(codes).toEqual([204, 204, 204, 204, 204]);
    const refused = await report();
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('RATE_LIMITED');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(refused.headers.ratelimit).toMatch(/r=0/);
    expect(refused.headers['ratelimit-policy']).toMatch(/q=5/);
    // PUT counts as a write too; a read does not.
    expect((await greedy.put('/api/me/notification-preferences', {})).status).toBe(429);
    expect((await greedy.get('/api/me')).status).toBe(200);
    const modest = flood.user('wr-modest', 'client');
    expect((await modest.post('/api/events/client-mode', { sessionId: 'tab-two-2', mode: 'live', reason: 'x' })).status).toBe(204);
    const admin = flood.user('wr-admin', 'admin');
    for (let i = 0; i < 8; i++) await admin.post('/api/broadcasts', { title: 'Hi', body: `n${i}`, role: 'admin' }).expect(202);
  });

  it('allows at most MAX_PENDING_BOOKINGS_PER_PAIR pending requests from one client to one provider (409 TOO_MANY_PENDING, nothing written)', async () => {
    const client = m.user('pp-client', 'client');
    const provider = m.user('pp-provider', 'provider');
    const other = m.user('pp-other', 'provider');
    for (const a of [client, provider, other]) await a.get('/api/me').expect(200);
    const book = (p: string) => client.post('/api/bookings', { providerId: p, service: 'plumbing', scheduledFor: inAnHour(), amount: 10_000 });
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await book(provider.sub).expect(201)).body.id);
    const before = await fingerprint(m.srv.db.database.knex);
    const fourth = await book(provider.sub);
    expect([fourth.status, fourth.body.error?.code]).toEqual([409, 'TOO_MANY_PENDING']);
    expect(await fingerprint(m.srv.db.database.knex)).toEqual(before);
    // Another provider is another pair; an accepted request frees a place.
    await book(other.sub).expect(201);
    await provider.post(`/api/bookings/${ids[0]}/accept`).expect(200);
    await book(provider.sub).expect(201);
  });

  it('keeps at most 20 unexpired stream tickets per user (429 RATE_LIMITED after), another user unaffected', async () => {
    const hoarder = m.user('tk-hoarder', 'client');
    for (let i = 0; i < 20; i++) await hoarder.post('/api/events/tickets', {}).expect(201);
    const refused = await hoarder.post('/api/events/tickets', {});
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('RATE_LIMITED');
    // When the oldest ticket expires, in the header as well as the body (ticket lifetime: TICKET_TTL_MS).
    expect(Number(refused.headers['retry-after'])).toBe(Math.ceil(refused.body.error.details.retryAfterMs / 1000));
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number((await m.srv.db.database.knex('stream_tickets').where({ user_id: hoarder.sub }).count({ n: '*' }))[0].n)).toBe(20);
    await m.user('tk-other', 'client').post('/api/events/tickets', {}).expect(201);
  });

  it('stores no usable ticket anywhere: the ticket route takes no Idempotency-Key, and no table holds the ticket', async () => {
    const u = m.user('tk-clear', 'client');
    const key = uniqueKey();
    const minted = await u.post('/api/events/tickets', {}).set('Idempotency-Key', key).expect(201);
    const ticket: string = minted.body.ticket;
    expect(ticket).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const rows = await everyRowAsText(m.srv.db.database.knex);
    expect(
      Object.entries(rows)
        .filter(([, text]) => text.includes(ticket))
        .map(([t]) => t),
    ).toEqual([]);
    expect(await m.srv.db.database.knex('idempotency_keys').where({ key })).toEqual([]);
    // The same key again mints another ticket, not a replay of the first.
    const again = await u.post('/api/events/tickets', {}).set('Idempotency-Key', key).expect(201);
    expect(again.headers['idempotent-replayed']).toBeUndefined();
    expect(again.body.ticket).not.toBe(ticket);
  });
});

describeDb('hostile abuse: a client sees no payout, on any route or event', () => {
  let m: Marketplace;
  beforeAll(async () => {
    m = await startMarketplace();
  });
  afterAll(() => m?.stop());

  // Provider- and admin-only facts: the payout and the provider's bank details.
  const FORBIDDEN_KEY = /payout|recipient|bankCode|accountNumber|accountName/i;
  function forbiddenIn(where: string, v: unknown, secrets: string[], found: string[], at = ''): void {
    if (typeof v === 'string') {
      for (const s of secrets) if (v.includes(s)) found.push(`${where}${at}: the value ${s}`);
      return;
    }
    if (v === null || typeof v !== 'object') return;
    for (const [k, child] of Object.entries(v)) {
      if (FORBIDDEN_KEY.test(k)) found.push(`${where}${at}.${k}`);
      forbiddenIn(where, child, secrets, found, `${at}.${k}`);
    }
  }

  it('walks every GET a client may call, every answer it got, and every event it received (stream and poll)', async () => {
    const c = m.user('vw-client', 'client', { email: 'vw@example.co.za' });
    const p = m.user('vw-provider', 'provider');
    await c.get('/api/me').expect(200);
    await p.get('/api/me').expect(200);
    await p.put('/api/me/payout-account', { accountName: 'Sipho Dlamini', accountNumber: '1234567890', bankCode: '470010' }).expect(200);
    const stream = await openStream(m.srv.url, { token: c.token });
    const answers: Array<[string, unknown]> = [];
    const keep = async (what: string, t: Promise<{ body: unknown }>) => {
      const r = await t;
      answers.push([what, r.body]);
      return r.body as any;
    };
    const b = await keep('POST /api/bookings', c.post('/api/bookings', { providerId: p.sub, service: 'plumbing', scheduledFor: inAnHour(), amount: 30_000 }));
    await p.post(`/api/bookings/${b.id}/accept`).expect(200);
    const pay = await keep('POST payment', c.post(`/api/bookings/${b.id}/payment`));
    await m.paystack.completeCharge(pay.reference);
    await p.post(`/api/bookings/${b.id}/start`).expect(200);
    await p.post(`/api/bookings/${b.id}/complete`).expect(200);
    await keep('POST confirm-completion', c.post(`/api/bookings/${b.id}/confirm-completion`));
    const payout = await m.srv.db.database.knex('payouts').where({ booking_id: b.id }).first();
    await m.paystack.settleTransfer(payout.reference, 'success');
    const recipient = (await m.srv.db.database.knex('users').where({ id: p.sub }).first()).payout_recipient_code as string;
    // The provider does see it, so the walk below is looking at the right booking.
    expect((await p.get(`/api/bookings/${b.id}`).expect(200)).body.payout).toEqual(expect.objectContaining({ status: 'COMPLETED' }));
    await sleep(300);

    const gets = ROUTE_CATALOG.filter((r) => r.method === 'GET' && r.auth === 'bearer' && r.roles.includes('client') && !r.demoOnly);
    expect(gets.length).toBeGreaterThan(5);
    for (const r of gets) {
      const path = r.target === 'booking' ? r.path.replace(':id', b.id) : r.path;
      await keep(`GET ${path}`, c.get(path).expect(200));
    }
    await keep('GET /api/events?after=0', c.get('/api/events?after=0').expect(200));
    await keep('GET /api/notifications', c.get('/api/notifications').expect(200));

    const found: string[] = [];
    const secrets = [payout.reference, recipient];
    for (const [what, body] of answers) forbiddenIn(what, body, secrets, found);
    for (const e of stream.events) forbiddenIn(`stream ${e.type}`, e.data, secrets, found);
    stream.close();
    expect(stream.events.filter((e) => e.type.startsWith('booking.')).length).toBeGreaterThanOrEqual(5);
    expect(found).toEqual([]);
  });
});

describeDb('hostile abuse: demo mode only for this machine', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({ DEMO_MODE: '1' });
  });
  afterAll(() => srv?.stop());

  it('answers 421 MISDIRECTED_REQUEST to any Host but localhost, 127.0.0.1 or [::1] (DNS rebinding), polls and streams included', async () => {
    const port = new URL(srv.url).port;
    const token = srv.token('demo-rebound', 'client');
    for (const host of ['evil.example', `evil.example:${port}`, `127.0.0.1.nip.io:${port}`, 'localhost.evil.example']) {
      for (const req of [
        { path: '/api/demo/users' },
        { method: 'POST', path: '/api/demo/sessions', body: JSON.stringify({ userId: 'demo-admin' }) },
        { path: '/api/events', headers: bearer(token) },
        { path: '/api/events/stream', headers: bearer(token) },
      ]) {
        const res = await call(srv.url, { ...req, headers: { ...req.headers, Host: host } });
        expect({ host, path: req.path, answer: codeOf(res) }).toEqual({ host, path: req.path, answer: '421 MISDIRECTED_REQUEST' });
      }
    }
    for (const host of ['localhost', `localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]) {
      expect((await call(srv.url, { path: '/api/demo/users', headers: { Host: host } })).status).toBe(200);
    }
  });

  it('refuses to start, with exit 1 and the reason, when demo mode would listen beyond loopback, whatever NODE_ENV is', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'demo-host-'));
    try {
      const envs: Array<Record<string, string>> = [
        { HOST: '0.0.0.0' },
        { HOST: '0.0.0.0', NODE_ENV: 'test', DEMO_MODE: '1' },
        { HOST: '192.0.2.10', DEMO_MODE: '1' },
      ];
      for (const env of envs) {
        const child = spawnServer({ PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...env });
        try {
          const exit = await withTimeout(child.exited, 20_000, `server with ${JSON.stringify(env)} to exit`);
          expect({ env, code: exit.code }).toEqual({ env, code: 1 });
          expect(child.stderr()).toMatch(/DEMO_MODE: .*loopback/);
        } finally {
          await killServer(child);
        }
      }
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});

describeDb('hostile abuse: status and metrics', () => {
  const METRICS_TOKEN = 'metrics-token-0123456789abcdef';
  let srv: TestServer;
  let guarded: TestServer;
  beforeAll(async () => {
    srv = await startTestServer();
    guarded = await startTestServer({ METRICS_TOKEN });
  });
  afterAll(async () => {
    await srv?.stop();
    await guarded?.stop();
  });

  it('answers /api/status from memory: twenty calls cost no query each, and it shows no process id', async () => {
    const knex = srv.running.services.db.knex;
    let queries = 0;
    // What a status call used to cost: the log's bounds, read from event_log_state. The relay's
    // own read of the log (every RELAY_POLL_MS) reads the bound too; it is not the status page's.
    const count = (q: { sql?: string; options?: { name?: string } }) => {
      if (q.sql?.includes('event_log_state') && q.options?.name !== RELAY_TAIL_STATEMENT) queries++;
    };
    knex.on('query', count);
    try {
      await Promise.all(Array.from({ length: 20 }, () => call(srv.url, { path: '/api/status' })));
    } finally {
      knex.off('query', count);
    }
    // At most one background refresh can fall inside the burst.
    expect(queries).toBeLessThanOrEqual(1);
    const res = await call(srv.url, { path: '/api/status' });
    expect(res.status).toBe(200);
    expect(res.body.instanceId).not.toContain(String(process.pid));
    expect(res.text).not.toMatch(/"pid"/i);
  });

  it('requires METRICS_TOKEN as a Bearer on /metrics and /api/status?detail=1 when set; plain /api/status stays open', async () => {
    expect(codeOf(await call(guarded.url, { path: '/metrics' }))).toBe('401 AUTH_REQUIRED');
    expect(codeOf(await call(guarded.url, { path: '/metrics', headers: bearer('metrics-token-0123456789abcdeX') }))).toBe('401 AUTH_INVALID');
    expect(codeOf(await call(guarded.url, { path: '/metrics', headers: bearer(guarded.token('ops', 'admin')) }))).toBe('401 AUTH_INVALID');
    const metrics = await call(guarded.url, { path: '/metrics', headers: bearer(METRICS_TOKEN) });
    expect(metrics.status).toBe(200);
    expect(metrics.text).toContain('events_published_total');

    expect(codeOf(await call(guarded.url, { path: '/api/status?detail=1' }))).toBe('401 AUTH_REQUIRED');
    const detail = await call(guarded.url, { path: '/api/status?detail=1', headers: bearer(METRICS_TOKEN) });
    expect(detail.status).toBe(200);
    expect(detail.body.process).toEqual(expect.objectContaining({ rssBytes: expect.any(Number), nodeVersion: process.version }));
    const open = await call(guarded.url, { path: '/api/status' });
    expect(open.status).toBe(200);
    expect(open.body.process).toBeUndefined();
    // Without METRICS_TOKEN both stay open, as before.
    expect((await call(srv.url, { path: '/metrics' })).status).toBe(200);
  });
});
