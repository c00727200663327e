import crypto from 'node:crypto';
import fc from 'fast-check';
import jwt from 'jsonwebtoken';
import { describeDb } from '../support/test-db';
import { startMarketplace, type Marketplace } from '../support/marketplace';
import { ROUTE_CATALOG, validOf, type CatalogRoute } from '../support/route-catalog';
import {
  allowedActors,
  assertRefusal,
  badLogLines,
  buildWorld,
  expectCode,
  fingerprint,
  queryString,
  send,
  Tally,
  targetId,
  type Expected,
  type RawRequest,
  type World,
} from '../support/hostile-harness';
import type { Actor } from '../support/marketplace';
import type { Role } from '../../src/contract/vocabulary';
import { TEST_JWT_SECRET } from '../support/env';

/*
 * Property: every authenticated route refuses every token it should (none, garbage, unsigned,
 * wrongly signed, expired, not yet valid, bad claims, tampered), every role it does not serve,
 * and every user who is not a party to what the path names, with its stable code, writing
 * nothing (not even the user row a valid token would create).
 */

const RUNS = Number(process.env.HOSTILE_RUNS ?? 40);
const now = () => Math.floor(Date.now() / 1000);
const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const hmac = (alg: 'sha256' | 'sha384' | 'sha512', secret: string, data: string) => crypto.createHmac(alg, secret).update(data).digest('base64url');

/** A JWT with exactly this header and payload, signed (HS256 unless said) with `secret`. */
function token(header: object, payload: object, secret = TEST_JWT_SECRET, alg: 'sha256' | 'sha384' | 'sha512' = 'sha256'): string {
  const data = `${b64(header)}.${b64(payload)}`;
  return `${data}.${hmac(alg, secret, data)}`;
}

const HS256 = { alg: 'HS256', typ: 'JWT' };
const goodClaims = fc.record({
  sub: fc.stringMatching(/^[A-Za-z0-9._:@-]{1,40}$/).map((s) => `ha-stranger-${s}`),
  role: fc.constantFrom<Role>('client', 'provider', 'admin'),
});

interface BadToken {
  what: string;
  authorization?: string;
  expect: Expected;
}

const badTokens: fc.Arbitrary<BadToken> = fc.oneof(
  fc.constant<BadToken>({ what: 'none', expect: expectCode('AUTH_REQUIRED') }),
  fc
    .oneof(
      fc.constantFrom(
        'Token abc',
        'Bearer',
        'Bearer ',
        'bearer abc',
        'BEARER abc',
        'Basic dXNlcjpwYXNz',
        'Bearer a b',
        'Bearer a,b',
        'Bearer "abc"',
        'Bearer a\tb',
      ),
      fc
        .string({ maxLength: 60, unit: 'binary-ascii' })
        // eslint-disable-next-line no-control-regex -- control characters are what the filter keeps out
        .filter((s) => !/^\s*Bearer [A-Za-z0-9_\-.=]+\s*$/.test(s) && s.trim() !== '' && !/[\x00-\x08\x0a-\x1f\x7f]/.test(s)),
    )
    .map((h): BadToken => ({ what: 'malformed header', authorization: h, expect: expectCode('AUTH_INVALID') })),
  fc.stringMatching(/^[A-Za-z0-9_\-.=]{1,400}$/).map((t): BadToken => ({ what: 'garbage', authorization: `Bearer ${t}`, expect: expectCode('AUTH_INVALID') })),
  goodClaims.map((c): BadToken => ({
    what: 'alg none',
    authorization: `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...c, exp: now() + 600 })}.`,
    expect: expectCode('AUTH_INVALID'),
  })),
  fc.tuple(goodClaims, fc.constantFrom('none', 'None', 'NONE', 'HS256', 'RS256', 'ES256', '')).map(([c, alg]): BadToken => ({
    what: `alg ${alg || '(empty)'}, no signature`,
    authorization: `Bearer ${b64({ alg, typ: 'JWT' })}.${b64({ ...c, exp: now() + 600 })}`,
    expect: expectCode('AUTH_INVALID'),
  })),
  fc
    .tuple(
      goodClaims,
      fc.string({ minLength: 1, maxLength: 64 }).filter((s) => s !== TEST_JWT_SECRET),
    )
    .map(([c, secret]): BadToken => ({
      what: 'wrong secret',
      authorization: `Bearer ${token(HS256, { ...c, exp: now() + 600 }, secret)}`,
      expect: expectCode('AUTH_INVALID'),
    })),
  fc.tuple(goodClaims, fc.constantFrom(['HS384', 'sha384'] as const, ['HS512', 'sha512'] as const)).map(([c, [alg, h]]): BadToken => ({
    what: `${alg} with our secret`,
    authorization: `Bearer ${token({ alg, typ: 'JWT' }, { ...c, exp: now() + 600 }, TEST_JWT_SECRET, h)}`,
    expect: expectCode('AUTH_INVALID'),
  })),
  fc.tuple(goodClaims, fc.integer({ min: 1, max: 10_000_000 })).map(([c, ago]): BadToken => ({
    what: 'expired',
    authorization: `Bearer ${token(HS256, { ...c, iat: now() - ago - 60, exp: now() - ago })}`,
    expect: expectCode('AUTH_EXPIRED'),
  })),
  fc.tuple(goodClaims, fc.integer({ min: 60, max: 10_000_000 })).map(([c, ahead]): BadToken => ({
    what: 'not yet valid',
    authorization: `Bearer ${token(HS256, { ...c, nbf: now() + ahead, exp: now() + ahead + 600 })}`,
    expect: expectCode('AUTH_INVALID'),
  })),
  // Signed by us, but the claims are not ones we accept.
  fc
    .tuple(
      goodClaims,
      fc.oneof(
        fc.record({
          role: fc.oneof(
            fc.string({ maxLength: 10 }).filter((r) => !['client', 'provider', 'admin'].includes(r)),
            fc.constantFrom('Admin', 'ADMIN', 'root', 'admin ', ['admin'], { admin: true }, null, 1),
          ),
        }),
        fc.record({
          sub: fc.oneof(
            fc.constantFrom('', ' ', 'a b', "x' OR '1'='1", 'x'.repeat(129), 'ü', 'user/other', null, 42),
            fc.string({ minLength: 1, maxLength: 20 }).filter((s) => /[^A-Za-z0-9._:@-]/.test(s)),
          ),
        }),
        fc.constantFrom({ role: undefined }, { sub: undefined }),
        fc.record({ exp: fc.constantFrom('never', null, '9999999999', [1], {}, true) }),
        fc.record({ name: fc.constantFrom('\u0000', 'a\u0000b', 'x'.repeat(201)) }),
        fc.record({ email: fc.constantFrom('\u0000@example.com', 'e'.repeat(321)) }),
      ),
    )
    .map(([c, bad]): BadToken => ({
      what: `bad claims ${JSON.stringify(bad)}`,
      authorization: `Bearer ${token(HS256, { ...c, exp: now() + 600, ...bad })}`,
      expect: expectCode('AUTH_INVALID'),
    })),
  // A real token of ours with one claim changed and the signature kept.
  fc.constantFrom<Role>('client', 'provider').map((role): BadToken => {
    const t = jwt.sign({ sub: 'ha-tampered', role }, TEST_JWT_SECRET, { algorithm: 'HS256', expiresIn: 600 });
    const [h, , s] = t.split('.');
    return {
      what: 'tampered',
      authorization: `Bearer ${h}.${b64({ sub: 'ha-tampered', role: 'admin', exp: now() + 600 })}.${s}`,
      expect: expectCode('AUTH_INVALID'),
    };
  }),
);

describeDb('hostile authentication: bad tokens, wrong roles and other people’s things are refused, and nothing is written', () => {
  let m: Marketplace;
  let w: World;
  const tally = new Tally();

  beforeAll(async () => {
    m = await startMarketplace();
    w = await buildWorld(m, 'ha');
  }, 60_000);
  afterAll(async () => {
    console.log(tally.summary(`hostile-auth [${process.env.TEST_DB}]`));
    await m?.stop();
  });

  const knex = () => m.srv.db.database.knex;
  const authed = () => ROUTE_CATALOG.filter((r) => (r.auth === 'bearer' || r.auth === 'bearer-or-ticket') && !r.demoOnly);
  const world = () => ({ providerId: w.provider.sub });

  /** The route called as `actor` would call it, with a valid body when it takes one. */
  function request(r: CatalogRoute, authorization: string | undefined, id = targetId(w, r)): fc.Arbitrary<RawRequest> {
    const path = r.target ? r.path.replace(':id', id!) : r.path;
    const headers: Record<string, string> = authorization === undefined ? {} : { Authorization: authorization };
    if (typeof r.body !== 'object') return fc.constant({ method: r.method, path, headers });
    return validOf(r.body, world()).map((b) => ({
      method: r.method,
      path,
      headers: { ...headers, 'Content-Type': 'application/json' },
      body: JSON.stringify(b),
    }));
  }

  async function refuseAll(name: string, arb: fc.Arbitrary<{ req: RawRequest; expect: Expected }>, numRuns = RUNS): Promise<void> {
    const before = await fingerprint(knex());
    const logMark = m.srv.logs.length;
    await fc.assert(
      fc.asyncProperty(arb, async ({ req, expect: exp }) => {
        const res = await send(m.srv.url, req);
        tally.add(name);
        assertRefusal(req, res, exp);
        const after = await fingerprint(knex());
        const changed = Object.keys(after).filter((t) => JSON.stringify(after[t]) !== JSON.stringify(before[t]));
        if (changed.length) throw new Error(`the database changed (${changed.join(', ')}) after ${req.method} ${req.path}`);
      }),
      { numRuns },
    );
    expect(badLogLines(m.srv.logs, logMark)).toEqual([]);
  }

  it(`refuses every bad token on every authenticated route: 401 with its code (${RUNS * 2} generated)`, async () => {
    await refuseAll(
      'bad tokens',
      fc.tuple(fc.constantFrom(...authed()), badTokens).chain(([r, t]) => request(r, t.authorization).map((req) => ({ req, expect: t.expect }))),
      RUNS * 2,
    );
  });

  it(`refuses unknown, used-up and oversized stream tickets (${Math.ceil(RUNS / 2)} generated)`, async () => {
    const ticket = fc.oneof(
      fc.stringMatching(/^[A-Za-z0-9_-]{43}$/).map((t) => ({ t, expect: expectCode('AUTH_INVALID') })),
      fc.string({ minLength: 1, maxLength: 200 }).map((t) => ({ t, expect: expectCode('AUTH_INVALID') })),
      fc.integer({ min: 201, max: 2_000 }).map((n) => ({ t: 'A'.repeat(n), expect: expectCode('VALIDATION_FAILED') })),
    );
    await refuseAll(
      'stream tickets',
      ticket.map(({ t, expect }) => ({ req: { method: 'GET', path: `/api/events/stream${queryString([['ticket', t]])}` }, expect })),
      Math.ceil(RUNS / 2),
    );
  });

  it(`refuses a role the route does not serve, including a client on provider actions: 403 FORBIDDEN (${RUNS} generated)`, async () => {
    const byRole: Record<Role, Actor> = { client: w.client, provider: w.provider, admin: w.admin };
    const cases = authed().flatMap((r) => {
      // A party to the booking acting out of turn; a non-party would get 404 (next test).
      if (r.party === 'client') return [{ r, actor: w.provider }];
      if (r.party === 'provider') return [{ r, actor: w.client }];
      if (r.party === 'either') return [];
      return (['client', 'provider', 'admin'] as const).filter((role) => !r.roles.includes(role)).map((role) => ({ r, actor: byRole[role] }));
    });
    expect(cases.length).toBeGreaterThan(10);
    await refuseAll(
      'wrong roles',
      fc.constantFrom(...cases).chain(({ r, actor }) => request(r, `Bearer ${actor.token}`).map((req) => ({ req, expect: expectCode('FORBIDDEN') }))),
    );
  });

  it(`refuses user A on user B's booking or notification: 404 NOT_FOUND, as if it did not exist (${RUNS} generated)`, async () => {
    const cases = authed()
      .filter((r) => r.target === 'booking' || r.target === 'notification')
      // Only where the actor's role may call the route at all; an admin-only route is a wrong role (403), above.
      .flatMap((r) =>
        (
          [
            ['client', w.otherClient],
            ['provider', w.otherProvider],
          ] as const
        )
          .filter(([role]) => r.roles.includes(role))
          .map(([, actor]) => ({ r, actor })),
      );
    await refuseAll(
      'other users’ things',
      fc.constantFrom(...cases).chain(({ r, actor }) =>
        request(r, `Bearer ${actor.token}`, r.target === 'notification' ? w.providerNotificationId : undefined).map((req) => ({
          req,
          expect: expectCode('NOT_FOUND'),
        })),
      ),
    );
  });

  it(`answers no claim set of any shape with a 5xx, on any authenticated route (${RUNS * 2} generated)`, async () => {
    // Numbers that break a Date or a timestamp column (1e15 s is year 31,690,000) or are not integers.
    const oddNumber = fc.oneof(
      fc.constantFrom(1e15, 1e300, -1, 0, 1.5, 2 ** 53 + 2, Number.MAX_SAFE_INTEGER, Number.MAX_VALUE, -Number.MAX_VALUE, 8.64e12, 8.64e15 + 1),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.integer(),
    );
    const claimValue = fc.oneof(oddNumber, fc.jsonValue({ maxDepth: 2 }));
    const ahead = fc.integer({ min: 1, max: 400 * 365 * 86_400 }).map((s) => now() + s);
    const claims = fc.record(
      {
        sub: fc.oneof(
          goodClaims.map((c) => c.sub),
          claimValue,
        ),
        role: fc.oneof(fc.constantFrom<Role>('client', 'provider', 'admin'), claimValue),
        exp: fc.oneof(ahead, claimValue),
        iat: fc.oneof(
          fc.integer({ min: -400 * 365 * 86_400, max: 400 * 365 * 86_400 }).map((s) => now() + s),
          claimValue,
        ),
        nbf: claimValue,
        iss: claimValue,
        aud: claimValue,
        name: claimValue,
        email: claimValue,
      },
      { requiredKeys: [] },
    );
    const tickets = authed().find((r) => r.path === '/api/events/tickets')!;
    await fc.assert(
      fc.asyncProperty(
        fc
          .tuple(fc.constantFrom(...authed().filter((r) => !r.stream)), claims)
          .chain(([r, c]) => request(r, `Bearer ${token(HS256, c)}`).map((req) => ({ req, c }))),
        async ({ req, c }) => {
          const res = await send(m.srv.url, req);
          tally.add('claim sets');
          if (res.status >= 500) throw new Error(`${res.status} for claims ${JSON.stringify(c)} on ${req.method} ${req.path}: ${res.text.slice(0, 200)}`);
          if (res.status === 401) expect(['AUTH_INVALID', 'AUTH_EXPIRED']).toContain((res.json as { error: { code: string } }).error.code);
        },
      ),
      {
        numRuns: RUNS * 2,
        // The probe that found it: a well-signed token whose exp is far in the future, minting a ticket.
        examples: [[{ req: fc.sample(request(tickets, `Bearer ${token(HS256, { sub: 'ha-far-exp', role: 'client', exp: 1e15 })}`), 1)[0], c: { exp: 1e15 } }]],
      },
    );
  });

  it('lets the rightful caller through on the same requests (so the refusals above are about who, not what)', async () => {
    for (const r of authed().filter((x) => !x.stream && x.method === 'GET')) {
      const [actor] = allowedActors(w, r);
      const req = fc.sample(request(r, `Bearer ${actor.token}`), 1)[0];
      const res = await send(m.srv.url, req);
      tally.add('rightful callers');
      expect({ route: r.path, status: res.status }).toEqual({ route: r.path, status: 200 });
    }
  });
});
