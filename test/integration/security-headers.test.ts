import fc from 'fast-check';
import { describeDb } from '../support/test-db';
import { startMarketplace, PAYSTACK_TEST_KEY, type Marketplace } from '../support/marketplace';
import { startTestServer, type TestServer } from '../support/test-server';
import { signPaystackBody } from '../../fakes/fake-paystack';
import { ROUTE_CATALOG, validOf } from '../support/route-catalog';
import { allowedActors, buildWorld, send, Tally, targetId, type RawRequest, type RawResponse, type World } from '../support/hostile-harness';

/*
 * Properties: every answer Express gives (success or refusal, any route) carries helmet's headers
 * and no X-Powered-By; CORS headers go to configured origins only, never to a look-alike; bodies
 * are cut off at their limits, exactly there.
 */

const RUNS = Number(process.env.HOSTILE_RUNS ?? 40);
const JSON_LIMIT = 100 * 1024;
const WEBHOOK_LIMIT = 256 * 1024;
const ALLOWED = ['https://app.example.co.za', 'http://localhost:5173'];

function expectHelmet(res: RawResponse, what: string): void {
  const h = res.headers;
  const got = {
    what,
    csp: String(h['content-security-policy'] ?? ''),
    nosniff: h['x-content-type-options'],
    frame: h['x-frame-options'],
    hsts: String(h['strict-transport-security'] ?? ''),
    referrer: h['referrer-policy'],
    coop: h['cross-origin-opener-policy'],
    corp: h['cross-origin-resource-policy'],
    poweredBy: h['x-powered-by'],
  };
  expect(got).toEqual({
    what,
    csp: expect.stringMatching(/default-src 'self'.*frame-ancestors 'self'/),
    nosniff: 'nosniff',
    frame: 'SAMEORIGIN',
    hsts: expect.stringMatching(/^max-age=\d{7,}/),
    referrer: 'no-referrer',
    coop: 'same-origin',
    corp: 'same-origin',
    poweredBy: undefined,
  });
}

describeDb('security headers, CORS and body limits', () => {
  let m: Marketplace;
  let w: World;
  let withCors: TestServer;
  const tally = new Tally();

  beforeAll(async () => {
    m = await startMarketplace();
    w = await buildWorld(m, 'sh');
    withCors = await startTestServer({ CORS_ORIGINS: ALLOWED.join(', ') });
  }, 60_000);
  afterAll(async () => {
    console.log(tally.summary(`security-headers [${process.env.TEST_DB}]`));
    await withCors?.stop();
    await m?.stop();
  });

  const routes = () => ROUTE_CATALOG.filter((r) => !r.demoOnly);

  /** A request to `r`: as a rightful caller, with a broken body, without a token, or to a path next to it. */
  function anyRequest(): fc.Arbitrary<{ what: string; req: RawRequest }> {
    return fc.constantFrom(...routes()).chain((r) => {
      const path = r.target ? r.path.replace(':id', targetId(w, r)!) : r.path;
      const token = r.auth === 'bearer' || r.auth === 'bearer-or-ticket' ? allowedActors(w, r)[0].token : undefined;
      const auth: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
      const body = typeof r.body === 'object' ? validOf(r.body, { providerId: w.provider.sub }).map((b) => JSON.stringify(b)) : fc.constant(undefined);
      // An open stream is served before Express, without helmet, and never reads a body
      // (src/realtime/stream-endpoint.ts); its refusals go through Express and are covered.
      const variants: string[] = r.stream ? ['no token', 'next door'] : ['rightful', 'no token', 'broken body', 'next door'];
      return fc.tuple(fc.constantFrom(...variants), body).map(([v, b]) => {
        const ct = { 'Content-Type': 'application/json' };
        const req: RawRequest =
          v === 'rightful'
            ? { method: r.method, path, headers: { ...auth, ...ct }, body: b }
            : v === 'no token'
              ? { method: r.method, path, headers: ct, body: b }
              : v === 'broken body'
                ? { method: r.method, path, headers: { ...auth, ...ct }, body: '{"broken": ' }
                : { method: r.method, path: `${path}/nothing-here`, headers: auth };
        return { what: `${v}: ${r.method} ${r.path}`, req };
      });
    });
  }

  it(`puts helmet's headers on every answer, success or refusal, of every route (${RUNS} generated)`, async () => {
    await fc.assert(
      fc.asyncProperty(anyRequest(), async ({ what, req }) => {
        // A successful webhook would need a signature; the unsigned one is a refusal, like the rest.
        const res = await send(m.srv.url, req);
        tally.add('helmet');
        expectHelmet(res, `${what} -> ${res.status}`);
      }),
      { numRuns: RUNS },
    );
  });

  const lookAlikes = fc
    .oneof(
      fc.webUrl({ withQueryParameters: false, withFragments: false }).map((u) => new URL(u).origin),
      fc.constantFrom(
        'null',
        'https://APP.example.co.za',
        'https://app.example.co.za.evil.com',
        'https://evilapp.example.co.za',
        'https://app.example.co.za:8443',
        'http://app.example.co.za',
        'https://app-example.co.za',
        'http://localhost:5174',
        'http://127.0.0.1:5173',
        'https://localhost:5173',
        'https://app.example.co.za/',
        'https://app.example.co.za, https://evil.com',
        '*',
      ),
    )
    .filter((o) => !ALLOWED.includes(o));

  const corsRequest = (origin: string, preflight: boolean, path: string): RawRequest =>
    preflight
      ? {
          method: 'OPTIONS',
          path,
          headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization,content-type' },
        }
      : { method: 'GET', path, headers: { Origin: origin } };

  const paths = fc.constantFrom('/api/status', '/api/me', '/api/bookings', '/api/events/stream', '/api/webhooks/paystack', '/healthz', '/nowhere');

  it(`gives no CORS headers to an origin that is not configured, look-alikes included, simple or preflight (${RUNS} generated)`, async () => {
    await fc.assert(
      fc.asyncProperty(lookAlikes, fc.boolean(), paths, fc.boolean(), async (origin, preflight, path, configured) => {
        const res = await send((configured ? withCors : m.srv).url, corsRequest(origin, preflight, path));
        tally.add('CORS refused');
        expect({ origin, acao: res.headers['access-control-allow-origin'], creds: res.headers['access-control-allow-credentials'] }).toEqual({
          origin,
          acao: undefined,
          creds: undefined,
        });
      }),
      { numRuns: RUNS },
    );
  });

  it(`gives CORS headers to a configured origin only where configured, simple or preflight (${Math.ceil(RUNS / 2)} generated)`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ALLOWED), fc.boolean(), paths, fc.boolean(), async (origin, preflight, path, configured) => {
        const res = await send((configured ? withCors : m.srv).url, corsRequest(origin, preflight, path));
        tally.add('CORS allowed');
        expect({ origin, configured, acao: res.headers['access-control-allow-origin'] }).toEqual({ origin, configured, acao: configured ? origin : undefined });
        if (configured) expect(String(res.headers.vary ?? '')).toMatch(/Origin/i);
        if (configured && preflight) expect(String(res.headers['access-control-allow-methods'] ?? '')).toMatch(/POST/);
      }),
      { numRuns: Math.ceil(RUNS / 2) },
    );
  });

  it(`cuts JSON bodies off above ${JSON_LIMIT} bytes and webhook bodies above ${WEBHOOK_LIMIT}, exactly there, with or without a length (${RUNS} generated)`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.integer({ min: -2_000, max: 2_000 }), fc.boolean(), async (webhook, delta, chunked) => {
        const limit = webhook ? WEBHOOK_LIMIT : JSON_LIMIT;
        const frame = webhook ? '{"event":"hostile.padding","data":{"pad":""}}' : '{"title":"t","body":"","all":true}';
        const pad = 'x'.repeat(limit + delta - frame.length);
        const raw = webhook ? `{"event":"hostile.padding","data":{"pad":"${pad}"}}` : `{"title":"t","body":"${pad}","all":true}`;
        expect(Buffer.byteLength(raw)).toBe(limit + delta);
        const req: RawRequest = webhook
          ? {
              method: 'POST',
              path: '/api/webhooks/paystack',
              headers: { 'Content-Type': 'application/json', 'x-paystack-signature': signPaystackBody(raw, PAYSTACK_TEST_KEY) },
              body: raw,
              chunked,
            }
          : {
              method: 'POST',
              path: '/api/broadcasts',
              headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${w.admin.token}` },
              body: raw,
              chunked,
            };
        const res = await send(m.srv.url, req);
        tally.add('body limits');
        const code = (res.json as { error?: { code?: string } } | undefined)?.error?.code;
        const over = delta > 0;
        // Under the limit: a webhook is recorded and ignored; a broadcast fails on its 4000-character body.
        expect({ size: limit + delta, webhook, status: res.status, code }).toEqual({
          size: limit + delta,
          webhook,
          status: over ? 413 : webhook ? 200 : 400,
          code: over ? 'PAYLOAD_TOO_LARGE' : webhook ? undefined : 'VALIDATION_FAILED',
        });
      }),
      { numRuns: RUNS },
    );
  });
});
