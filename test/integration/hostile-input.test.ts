import zlib from 'node:zlib';
import fc from 'fast-check';
import { describeDb } from '../support/test-db';
import { startMarketplace, type Marketplace } from '../support/marketplace';
import { createApp } from '../../src/app';
import {
  appRoutes,
  catalogRoutes,
  freeText,
  isStorable,
  ROUTE_CATALOG,
  validOf,
  validValue,
  type CatalogRoute,
  type Field,
  type FieldSpec,
  type Shape,
} from '../support/route-catalog';
import {
  allowedActors,
  assertRefusal,
  badLogLines,
  buildWorld,
  expectCode,
  fingerprint,
  idempotencyRows,
  queryString,
  send,
  Tally,
  targetId,
  uniqueKey,
  type Expected,
  type RawRequest,
  type World,
} from '../support/hostile-harness';
import { inAnHour } from '../support/booking-time';

/*
 * Property: whatever is wrong with a request to one of our routes (types, missing or extra
 * fields, sizes, nesting, encodings, unicode, numbers, ids, SQL), the answer is the expected 4xx
 * with its stable code, no stack trace, nothing logged at error level, and every table is exactly
 * as before. Each input is a valid request from the catalog with one deliberate defect, so the
 * expected code is known and a route that quietly accepts the defect fails the property.
 */

const JSON_LIMIT = 100 * 1024;
const RUNS = Number(process.env.HOSTILE_RUNS ?? 40);

interface Case {
  req: RawRequest;
  expect: Expected;
  /** Send an Idempotency-Key (a fresh one, so retries and shrinking never collide). */
  withKey?: boolean;
}

/** JSON text with raw number tokens (`1e400`, `-0`) put where the markers are. */
const RAW = '__raw_number__';
const stringify = (v: unknown): string => JSON.stringify(v).replace(new RegExp(`"${RAW}([^"]*)"`, 'g'), '$1');
const rawNumber = (token: string) => `${RAW}${token}`;

/** `{...valid, [key]: value}` as text, so keys like `__proto__` travel as own keys. */
const withKey = (valid: Record<string, unknown>, key: string, value: unknown): string => {
  const base = stringify(valid);
  return `${base.slice(0, -1)}${base.length > 2 ? ',' : ''}${JSON.stringify(key)}:${stringify(value)}}`;
};

const sizeAware = (body: string, code: Expected['code'] = 'VALIDATION_FAILED'): Expected =>
  Buffer.byteLength(body) > JSON_LIMIT ? expectCode('PAYLOAD_TOO_LARGE') : expectCode(code);

const isStringKind = (f: Field) => f.kind === 'text' || f.kind === 'token' || f.kind === 'email' || f.kind === 'datetime' || f.kind === 'enum';
const isConstrained = (f: Field) => f.kind === 'token' || f.kind === 'email' || f.kind === 'datetime' || f.kind === 'enum';

/* ---- Defective values ---- */

const notAString = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
);

function wrongType(f: Field): fc.Arbitrary<unknown> {
  switch (f.kind) {
    case 'int':
      return fc.oneof(fc.integer({ min: f.min, max: f.max }).map(String), fc.boolean(), fc.constant(null), fc.constant([]), fc.constant({}));
    case 'true':
      return fc.constantFrom(false, 1, 0, 'true', null, [], {}, [true]);
    case 'array':
      return fc.oneof(
        fc.oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.constant(null), fc.constant({}), fc.boolean()),
        fc.tuple(fc.array(validValue(f.of), { maxLength: 2 }), wrongType(f.of)).map(([ok, bad]) => [...ok, bad]),
      );
    default:
      return notAString;
  }
}

const WEIRD_UNICODE = ['\u0000', '\u200b', '\u202e', '\ufeff', '\u0301', '１', '٣', 'İ', '😀', '\ud800', '\udfff', '\u2028', 'ﬁ'];
const UNSTORABLE = ['\u0000', '\ud800', '\udbff', '\udc00', '\udfff', 'a\u0000b'];
const SQLISH = [
  "' OR '1'='1",
  "1' OR 1=1 --",
  '1; DROP TABLE bookings; --',
  "'; DELETE FROM payments WHERE ''='",
  '1 UNION SELECT id, role FROM users',
  '$$; SELECT pg_sleep(5); $$',
  '") OR ("1"="1',
  "admin'--",
  '%27%20OR%201=1',
  '\\x27 OR 1=1',
  '1)) OR EXISTS(SELECT 1 FROM users)--',
];

const insertAt = (base: string, piece: string) => fc.nat({ max: base.length }).map((i) => base.slice(0, i) + piece + base.slice(i));

/** A string field's value made invalid by one of: weird unicode (constrained), unstorable (any). */
function unicodeDefect(f: Field): fc.Arbitrary<string> {
  const pieces = isConstrained(f) ? WEIRD_UNICODE : UNSTORABLE;
  return fc.tuple(validValue(f) as fc.Arbitrary<string>, fc.constantFrom(...pieces)).chain(([v, p]) => insertAt(String(v), p));
}

function hugeString(f: Field): fc.Arbitrary<string> {
  const max = f.kind === 'text' || f.kind === 'token' ? f.max : 320;
  return (
    fc
      .tuple(fc.constantFrom('x', 'é', '€', '😀', 'ab', '9'), fc.integer({ min: max + 1, max: max + 3000 }))
      // Limits count code points (zod 4's max), so an emoji is one.
      .map(([unit, n]) => unit.repeat(Math.ceil(n / [...unit].length)))
  );
}

function badNumber(f: Extract<Field, { kind: 'int' }>): fc.Arbitrary<string> {
  return fc.oneof(
    fc.integer({ min: -1_000_000_000, max: -1 }).map(String),
    fc.integer({ min: f.min, max: f.max - 1 }).map((n) => `${n}.5`),
    fc.constantFrom('-0', '1e400', '-1e400', '1e21', '-100', '99.99', '1e-7', '100.000001', String(f.min - 1), String(f.max + 1), '9007199254740993'),
  );
}

const deepJson = fc
  .tuple(fc.constantFrom('array', 'object'), fc.integer({ min: 10, max: 30_000 }))
  .map(([kind, depth]) => (kind === 'array' ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)));

/* ---- The suite ---- */

describeDb('hostile input: every route of ours refuses malformed requests with a stable 4xx and changes nothing', () => {
  let m: Marketplace;
  let w: World;
  const tally = new Tally();
  const keysSent: string[] = [];

  beforeAll(async () => {
    m = await startMarketplace();
    w = await buildWorld(m, 'hi');
  }, 60_000);
  afterAll(async () => {
    // The count the issue asks for, in the test output.
    console.log(tally.summary(`hostile-input [${process.env.TEST_DB}]`));
    await m?.stop();
  });

  const knex = () => m.srv.db.database.knex;
  const ours = () => ROUTE_CATALOG.filter((r) => r.auth !== 'paystack-signature' && r.auth !== 'twilio-signature' && !r.demoOnly);
  // The stream is served before Express and never reads a body (a GET's body means nothing).
  const withBodies = () => ours().filter((r) => !r.stream);
  const shaped = () => ours().filter((r): r is CatalogRoute & { body: Shape } => typeof r.body === 'object');
  const world = () => ({ providerId: w.provider.sub });

  /** The route's request as its caller would send it, without a body. */
  function base(r: CatalogRoute): fc.Arbitrary<RawRequest> {
    const path = r.target ? r.path.replace(':id', targetId(w, r)!) : r.path;
    if (r.auth === 'none') return fc.constant({ method: r.method, path, headers: { 'Content-Type': 'application/json' } });
    return fc.constantFrom(...allowedActors(w, r)).map((a) => ({
      method: r.method,
      path,
      headers: { Authorization: `Bearer ${a.token}`, 'Content-Type': 'application/json' },
    }));
  }

  /** A shaped body route, one field picked, and the valid body around it. */
  function pickField(filter: (f: FieldSpec, name: string, shape: Shape) => boolean) {
    const candidates = shaped().flatMap((r) =>
      Object.entries(r.body.fields)
        .filter(([n, f]) => filter(f, n, r.body))
        .map(([n]) => ({ r, name: n })),
    );
    return fc
      .constantFrom(...candidates)
      .chain(({ r, name }) => fc.record({ r: fc.constant(r), name: fc.constant(name), req: base(r), valid: validOf(r.body, world()) }));
  }

  const bodyCase = (x: { r: CatalogRoute; req: RawRequest }, body: string, exp?: Expected): fc.Arbitrary<Case> =>
    fc.boolean().map((k) => ({ req: { ...x.req, body }, expect: exp ?? sizeAware(body), withKey: Boolean(x.r.idempotent) && k }));

  async function refuseAll(name: string, arb: fc.Arbitrary<Case>, numRuns = RUNS): Promise<void> {
    const before = await fingerprint(knex(), ['idempotency_keys']);
    const logMark = m.srv.logs.length;
    const keyMark = keysSent.length;
    await fc.assert(
      fc.asyncProperty(arb, async (c) => {
        const req = c.withKey ? { ...c.req, headers: { ...c.req.headers, 'Idempotency-Key': uniqueKey() } } : c.req;
        if (c.withKey) keysSent.push(req.headers!['Idempotency-Key']);
        const res = await send(m.srv.url, req);
        tally.add(name);
        assertRefusal(req, res, c.expect);
        // Per run, so a change is pinned on the request that made it.
        const after = await fingerprint(knex(), ['idempotency_keys']);
        const changed = Object.keys(after).filter((t) => JSON.stringify(after[t]) !== JSON.stringify(before[t]));
        if (changed.length) {
          throw new Error(
            `the database changed (${changed.join(', ')}) after ${req.method} ${req.path} -> ${res.status} with body ${String(req.body).slice(0, 300)}`,
          );
        }
      }),
      { numRuns, verbose: process.env.HOSTILE_DEBUG ? 2 : 0 },
    );
    expect(badLogLines(m.srv.logs, logMark)).toEqual([]);
    // A refusal under an Idempotency-Key is remembered as that refusal, never left "in progress".
    const stored = await idempotencyRows(knex(), keysSent.slice(keyMark));
    expect(stored.filter((s) => s.status === null || s.status < 400 || s.status >= 500)).toEqual([]);
  }

  it('has a catalog entry for every route the app registers, in demo mode or not, and none for a route it does not', () => {
    const deps = m.srv.running.services;
    expect(catalogRoutes({ demo: false })).toEqual(appRoutes(createApp({ ...deps, config: { ...deps.config, demoMode: false } })));
    expect(catalogRoutes({ demo: true })).toEqual(appRoutes(createApp({ ...deps, config: { ...deps.config, demoMode: true } })));
  });

  it(`wrong types in any body field: 400 VALIDATION_FAILED (${RUNS} generated)`, async () => {
    await refuseAll(
      'wrong types',
      pickField(() => true).chain((x) => wrongType((x.r.body as Shape).fields[x.name]).chain((v) => bodyCase(x, stringify({ ...x.valid, [x.name]: v })))),
    );
  });

  it(`a missing required field or target: 400 VALIDATION_FAILED (${RUNS} generated)`, async () => {
    await refuseAll(
      'missing fields',
      pickField((f, n, s) => Boolean(f.required) || Boolean(s.exactlyOne?.includes(n))).chain((x) => {
        const targets = (x.r.body as Shape).exactlyOne ?? [];
        // Only one target is ever present, so dropping a target means dropping whichever it is.
        const gone = targets.includes(x.name) ? targets : [x.name];
        const rest = Object.fromEntries(Object.entries(x.valid).filter(([k]) => !gone.includes(k)));
        return bodyCase(x, stringify(rest));
      }),
    );
  });

  it(`an extra field, on shaped and on empty bodies: 400 VALIDATION_FAILED (${RUNS} generated)`, async () => {
    const bodyRoutes = ours().filter((r) => typeof r.body === 'object' || r.body === 'empty');
    const key = fc.oneof(
      fc.string({ minLength: 1, maxLength: 30 }),
      fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'id', 'status', 'clientId', 'role', 'isAdmin', '$where', "amount'--", ''),
    );
    await refuseAll(
      'extra fields',
      fc.constantFrom(...bodyRoutes).chain((r) =>
        fc
          .record({
            r: fc.constant(r),
            req: base(r),
            valid: typeof r.body === 'object' ? validOf(r.body, world()) : fc.constant({}),
            key: key.filter((k) => typeof r.body !== 'object' || !(k in r.body.fields)),
            value: fc.jsonValue({ maxDepth: 2 }),
          })
          .chain((x) => bodyCase(x, withKey(x.valid, x.key, x.value))),
      ),
    );
  });

  it(`two targets for a broadcast: 400 VALIDATION_FAILED (${Math.ceil(RUNS / 4)} generated)`, async () => {
    const r = shaped().find((x) => x.body.exactlyOne)!;
    await refuseAll(
      'two targets',
      fc
        .record({ r: fc.constant(r), req: base(r), valid: validOf(r.body, world()), extra: fc.constantFrom(...r.body.exactlyOne!) })
        .filter((x) => !(x.extra in x.valid))
        .chain((x) => validValue(r.body.fields[x.extra]).chain((v) => bodyCase(x, stringify({ ...x.valid, [x.extra]: v })))),
      Math.ceil(RUNS / 4),
    );
  });

  it(`strings over their limit, and bodies over ${JSON_LIMIT / 1024} kB: 400 or 413 (${RUNS} generated)`, async () => {
    const massive = fc.integer({ min: JSON_LIMIT + 1, max: 3 * JSON_LIMIT }).map((n) => 'x'.repeat(n));
    await refuseAll(
      'huge strings',
      pickField((f) => isStringKind(f) || (f.kind === 'array' && isStringKind(f.of))).chain((x) => {
        const f = (x.r.body as Shape).fields[x.name];
        const inner = f.kind === 'array' ? f.of : f;
        return fc
          .oneof({ weight: 4, arbitrary: hugeString(inner) }, { weight: 1, arbitrary: massive })
          .chain((s) => bodyCase(x, stringify({ ...x.valid, [x.name]: f.kind === 'array' ? [s] : s })));
      }),
    );
  });

  it(`huge arrays, in array fields and elsewhere: 400 or 413 (${RUNS} generated)`, async () => {
    await refuseAll(
      'huge arrays',
      pickField(() => true).chain((x) => {
        const f = (x.r.body as Shape).fields[x.name];
        const arr =
          f.kind === 'array'
            ? fc.integer({ min: f.max + 1, max: f.max + 20_000 }).chain((n) => validValue(f.of).map((v) => Array.from({ length: n }, () => v)))
            : fc.integer({ min: 1_000, max: 40_000 }).map((n) => Array.from({ length: n }, (_, i) => i));
        return arr.chain((a) => bodyCase(x, stringify({ ...x.valid, [x.name]: a })));
      }),
    );
  });

  // Two cases, because the failure is elsewhere: with an Idempotency-Key, the request hash
  // JSON.stringifies the body, which overflows the stack on deep nesting unless the parser refused it.
  describe.each([
    ['without an Idempotency-Key', false],
    ['with an Idempotency-Key (the parser must refuse the depth: jsonBody in src/http/require-json.ts)', true],
  ])('deeply nested JSON, %s', (_what, key) => {
    it(`as a field or as the whole body: 400 or 413 (${RUNS} generated)`, async () => {
      const bodyRoutes = ours().filter((r) => (typeof r.body === 'object' || r.body === 'empty') && (!key || r.idempotent));
      await refuseAll(
        key ? 'deep JSON, with key' : 'deep JSON',
        fc.constantFrom(...bodyRoutes).chain((r) =>
          fc
            .record({
              r: fc.constant(r),
              req: base(r),
              valid: typeof r.body === 'object' ? validOf(r.body, world()) : fc.constant({}),
              deep: deepJson,
              where: typeof r.body === 'object' ? fc.constantFrom(...Object.keys(r.body.fields), '(body)') : fc.constant('(body)'),
            })
            .chain((x) => bodyCase(x, x.where === '(body)' ? x.deep : stringify({ ...x.valid, [x.where]: RAW_DEEP }).replace(`"${RAW_DEEP}"`, x.deep)))
            .map((c) => ({ ...c, withKey: key })),
        ),
      );
    });
  });

  it(`unicode edge cases: unstorable text (NUL, lone surrogates), odd code points in ids, codes and enums: 400 (${RUNS} generated)`, async () => {
    await refuseAll(
      'unicode',
      pickField((f) => isStringKind(f) || (f.kind === 'array' && isStringKind(f.of))).chain((x) => {
        const f = (x.r.body as Shape).fields[x.name];
        const inner = f.kind === 'array' ? f.of : f;
        return unicodeDefect(inner).chain((s) => bodyCase(x, stringify({ ...x.valid, [x.name]: f.kind === 'array' ? [s] : s })));
      }),
    );
  });

  it(`negative, fractional, out-of-range and non-finite amounts: 400 VALIDATION_FAILED (${RUNS} generated)`, async () => {
    await refuseAll(
      'numbers',
      pickField((f) => f.kind === 'int').chain((x) =>
        badNumber((x.r.body as Shape).fields[x.name] as Extract<Field, { kind: 'int' }>).chain((n) =>
          bodyCase(x, stringify({ ...x.valid, [x.name]: rawNumber(n) })),
        ),
      ),
    );
  });

  it(`SQL-looking strings in ids, codes, enums, dates and emails: 400 VALIDATION_FAILED (${RUNS} generated)`, async () => {
    await refuseAll(
      'SQL-looking strings',
      pickField((f) => isConstrained(f) || (f.kind === 'array' && isConstrained(f.of))).chain((x) => {
        const f = (x.r.body as Shape).fields[x.name];
        return fc
          .tuple(fc.constantFrom(...SQLISH), validValue(f.kind === 'array' ? f.of : f))
          .chain(([sql, v]) => fc.constantFrom(sql, `${String(v)}${sql}`))
          .chain((s) => bodyCase(x, stringify({ ...x.valid, [x.name]: f.kind === 'array' ? [s] : s })));
      }),
    );
  });

  it(`bodies that are not JSON, or not a JSON object or array, on every route: 400 INVALID_JSON (${RUNS} generated)`, async () => {
    const notJson = fc
      .oneof(
        fc.string({ minLength: 1, maxLength: 200 }),
        fc.string({ minLength: 1, maxLength: 50, unit: 'binary' }),
        fc
          .jsonValue()
          .map((v) => JSON.stringify(v))
          .chain((s) => fc.nat({ max: Math.max(0, s.length - 1) }).map((i) => s.slice(0, i))),
        fc.constantFrom(
          "{'a': 1}",
          '{"a": 1,}',
          'NaN',
          '{"a": undefined}',
          '<xml/>',
          'title=x&body=y',
          '{"a":1}{"b":2}',
          '\u0000',
          '"str"',
          '123',
          'null',
          'true',
          '  ',
          '[1,]',
        ),
      )
      .filter((s) => {
        try {
          const v: unknown = JSON.parse(s);
          return typeof v !== 'object' || v === null;
        } catch {
          // An empty body parses as `{}`, and the parser drops a leading byte-order mark.
          return s.length > 0 && !s.startsWith('\ufeff');
        }
      });
    await refuseAll(
      'non-JSON bodies',
      fc
        .constantFrom(...withBodies())
        .chain((r) => fc.record({ r: fc.constant(r), req: base(r), s: notJson }).chain((x) => bodyCase(x, x.s, expectCode('INVALID_JSON')))),
    );
  });

  it(`a body that is not declared application/json, on every route: 415 UNSUPPORTED_MEDIA_TYPE (${RUNS} generated)`, async () => {
    const types = fc.oneof(
      fc.constantFrom(
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=xyz',
        'application/xml',
        'text/json',
        'application/jsonx',
        'application/json-patch+json',
        'application/octet-stream',
        'application/json; charset=iso-8859-1',
        'application/json; charset=koi8-r',
        '*/*',
        'json',
        '',
      ),
      fc.stringMatching(/^[a-z]{1,10}\/[a-z0-9.+-]{1,15}$/).filter((t) => t !== 'application/json'),
    );
    await refuseAll(
      'wrong content types',
      fc
        .constantFrom(...withBodies())
        .chain((r) =>
          fc
            .record({ r: fc.constant(r), req: base(r), type: types, valid: typeof r.body === 'object' ? validOf(r.body, world()) : fc.constant({}) })
            .chain((x) =>
              bodyCase(
                { r: x.r, req: { ...x.req, headers: headersWithType(x.req.headers!, x.type) } },
                JSON.stringify(x.valid),
                expectCode('UNSUPPORTED_MEDIA_TYPE'),
              ),
            ),
        ),
    );
  });

  it(`a body whose content encoding is garbage or unknown, on every route: 400 or 415 (${RUNS} generated)`, async () => {
    await refuseAll(
      'undecodable bodies',
      fc.constantFrom(...withBodies()).chain((r) =>
        fc
          .record({
            r: fc.constant(r),
            req: base(r),
            encoding: fc.constantFrom('gzip', 'deflate', 'br', 'x-unknown', 'compress', 'gzip, gzip'),
            bytes: fc.uint8Array({ minLength: 1, maxLength: 200 }),
          })
          // Random bytes that happen to decompress (a one-byte brotli stream can) are not garbage.
          .filter((x) => !decodes(x.encoding, x.bytes))
          .map((x): Case => ({
            req: { ...x.req, headers: { ...x.req.headers, 'Content-Encoding': x.encoding }, body: Buffer.from(x.bytes) },
            expect: ['gzip', 'deflate', 'br'].includes(x.encoding) ? expectCode('INVALID_JSON') : expectCode('UNSUPPORTED_MEDIA_TYPE'),
          })),
      ),
    );
  });

  it(`bodies over the limit, with a length or chunked, on every route: 413 PAYLOAD_TOO_LARGE (${Math.ceil(RUNS / 2)} generated)`, async () => {
    await refuseAll(
      'too large',
      fc.constantFrom(...withBodies()).chain((r) =>
        fc.record({ req: base(r), n: fc.integer({ min: JSON_LIMIT + 1, max: 4 * JSON_LIMIT }), chunked: fc.boolean() }).map((x): Case => ({
          req: { ...x.req, body: JSON.stringify({ pad: 'x'.repeat(x.n) }), chunked: x.chunked },
          expect: expectCode('PAYLOAD_TOO_LARGE'),
        })),
      ),
      Math.ceil(RUNS / 2),
    );
  });

  it(`ids that are not ours, malformed or unknown, in every path: 404 NOT_FOUND (${RUNS} generated)`, async () => {
    const routes = ours().filter((r) => r.target);
    const pathIds = fc.oneof(
      fc.bigInt(10n ** 12n, 10n ** 18n - 1n).map(String),
      fc.constantFrom(
        '0',
        '-1',
        '1.5',
        '1e3',
        '01',
        '%201',
        'abc',
        'null',
        'NaN',
        '9'.repeat(19),
        '99999999999999999999999999',
        "1'%20OR%20'1'='1",
        '1;DROP%20TABLE%20bookings',
        '%00',
        '%ZZ',
        '%E0%A4%A',
        '%C0%AF',
        '%EF%BC%91',
        '%F0%9F%98%80',
        '..%2F..%2Fetc',
        '%2e%2e',
        '1%0d%0aX-Injected:%201',
      ),
      fc
        .string({ minLength: 1, maxLength: 30 })
        .filter((s) => !/^\d+$/.test(s))
        .map((s) => queryString([['', s]]).slice(2)),
    );
    await refuseAll(
      'ids not ours',
      fc.constantFrom(...routes).chain((r) =>
        fc
          .record({
            r: fc.constant(r),
            req: base(r),
            id: pathIds,
            valid: typeof r.body === 'object' ? validOf(r.body, world()) : fc.constant(undefined),
          })
          .chain((x) => {
            const req = { ...x.req, path: r.path.replace(':id', x.id) };
            return x.valid === undefined
              ? fc.constant<Case>({ req, expect: expectCode('NOT_FOUND') })
              : bodyCase({ r, req }, JSON.stringify(x.valid), expectCode('NOT_FOUND'));
          }),
      ),
    );
  });

  it(`query strings: extra, repeated, oversized, odd unicode, bad numbers, SQL, unknown values: 400 VALIDATION_FAILED (${RUNS} generated)`, async () => {
    const routes = ours().filter((r): r is CatalogRoute & { query: Shape } => Boolean(r.query));
    const defect = (r: CatalogRoute & { query: Shape }, valid: Record<string, unknown>): fc.Arbitrary<Array<[string, string]>> => {
      const entries = Object.entries(valid).map(([k, v]) => [k, String(v)] as [string, string]);
      const names = Object.keys(r.query.fields);
      const field = fc.constantFrom(...names);
      const set = (name: string, value: string) => [...entries.filter(([k]) => k !== name), [name, value] as [string, string]];
      const options: Array<fc.Arbitrary<Array<[string, string]>>> = [
        // Repeated: the simple parser makes it an array.
        fc.tuple(field, fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 })).map(([n, a, b]) => [...entries.filter(([k]) => k !== n), [n, a], [n, b]]),
        fc.tuple(field, fc.integer({ min: 0, max: 6_000 })).map(([n, extra]) => {
          const f = r.query.fields[n];
          const max = f.kind === 'text' || f.kind === 'token' ? f.max : 100;
          return set(n, '7'.repeat(max + 1 + extra));
        }),
      ];
      if (!r.stream) {
        // The stream's query is lenient on purpose (see the catalog); everything else is strict.
        options.push(
          fc
            .string({ minLength: 1, maxLength: 20 })
            .filter((k) => !names.includes(k))
            .map((k) => [...entries, [k, 'x'] as [string, string]]),
          fc
            .constantFrom(...names.filter((n) => isConstrained(r.query.fields[n])))
            .chain((n) =>
              fc
                .oneof(
                  fc.constantFrom(...SQLISH),
                  unicodeDefect(r.query.fields[n]),
                  fc.constantFrom('', ' ', ...(r.query.fields[n].kind === 'enum' ? ['unknown', 'PENDING ', 'pending', 'true '] : [])),
                )
                .map((v) => set(n, v)),
            ),
          fc
            .constantFrom(...names.filter((n) => r.query.fields[n].kind === 'int'))
            .chain((n) =>
              fc
                .oneof(badNumber(r.query.fields[n] as Extract<Field, { kind: 'int' }>), fc.constantFrom('', ' ', 'NaN', 'Infinity', 'ten', '１'))
                .map((v) => set(n, v)),
            ),
        );
        // Only NUL: an unpaired surrogate cannot be percent-encoded, it arrives as U+FFFD (valid).
        const texts = names.filter((n) => r.query.fields[n].kind === 'text');
        if (texts.length) options.push(fc.constantFrom(...texts).chain((n) => fc.constantFrom('\u0000', 'a\u0000', 'a\u0000b').map((u) => set(n, u))));
      }
      return fc.oneof(...options);
    };
    await refuseAll(
      'query strings',
      fc
        .constantFrom(...routes)
        .chain((r) =>
          fc
            .record({ req: base(r), valid: validOf(r.query, world()) })
            .chain((x) =>
              defect(r, x.valid).map((q): Case => ({ req: { ...x.req, path: x.req.path + queryString(q) }, expect: expectCode('VALIDATION_FAILED') })),
            ),
        ),
    );
  });

  it(`a malformed Idempotency-Key on a valid request: 400 VALIDATION_FAILED, nothing done (${Math.ceil(RUNS / 2)} generated)`, async () => {
    const routes = ours().filter((r) => r.idempotent);
    const badKey = fc.oneof(
      fc.constantFrom('', '   ', 'a b', 'é', 'key\twith\ttab', 'ÿÿÿ'),
      fc.integer({ min: 256, max: 2_000 }).map((n) => 'k'.repeat(n)),
      fc.tuple(fc.stringMatching(/^[a-z]{1,10}$/), fc.constantFrom(' ', 'é', 'ÿ', '\t')).map(([a, b]) => `${a}${b}${a}`),
    );
    await refuseAll(
      'bad idempotency keys',
      fc.constantFrom(...routes).chain((r) =>
        fc.record({ req: base(r), key: badKey, valid: typeof r.body === 'object' ? validOf(r.body, world()) : fc.constant({}) }).map((x): Case => ({
          req: { ...x.req, headers: { ...x.req.headers, 'Idempotency-Key': x.key }, body: Buffer.from(JSON.stringify(x.valid), 'utf8') },
          expect: expectCode('VALIDATION_FAILED'),
        })),
      ),
      Math.ceil(RUNS / 2),
    );
  });

  it(`stores SQL-looking and unusual-but-valid unicode text verbatim (${Math.ceil(RUNS / 4)} generated, each a new booking)`, async () => {
    const text = fc.oneof(
      fc.constantFrom(...SQLISH),
      fc
        .tuple(freeText(30), fc.constantFrom('\u200b', '\u202e', '\ufeff', '\u0301', '😀', '👩🏽‍🔧', 'İ', '\u2028', '٣', 'ﬁ', '\\', '"', "'"))
        .map(([a, b]) => `${a}${b}${a}`),
    );
    await fc.assert(
      fc.asyncProperty(
        text.filter((s) => s.trim().length > 0 && isStorable(s)),
        text,
        async (service, notes) => {
          tally.add('verbatim text');
          const res = await w.client.post('/api/bookings', { providerId: w.provider.sub, service, scheduledFor: inAnHour(), amount: 1_000, notes }).expect(201);
          const back = await w.client.get(`/api/bookings/${res.body.id}`).expect(200);
          expect([back.body.service, back.body.notes]).toEqual([service.trim(), notes]);
        },
      ),
      { numRuns: Math.ceil(RUNS / 4) },
    );
  });

  it('accepts what the catalog calls valid (so the defects above are the only thing wrong)', async () => {
    // Changes the world, so it runs last.
    for (const r of shaped()) {
      await fc.assert(
        fc.asyncProperty(base(r), validOf(r.body, world()), async (req, valid) => {
          const res = await send(m.srv.url, { ...req, body: JSON.stringify(valid) });
          tally.add('valid bodies');
          const code = (res.json as { error?: { code?: string } } | undefined)?.error?.code;
          expect({ path: req.path, status: res.status < 500 ? 'not 5xx' : res.status, code }).toEqual({
            path: req.path,
            status: 'not 5xx',
            code: code && ['VALIDATION_FAILED', 'INVALID_JSON', 'UNSUPPORTED_MEDIA_TYPE', 'PAYLOAD_TOO_LARGE'].includes(code) ? 'an accepted body' : code,
          });
        }),
        { numRuns: 3 },
      );
    }
  });

  it('refuses a body with fields on POST /api/events/tickets', async () => {
    const r = ours().find((x) => x.path === '/api/events/tickets')!;
    const before = await fingerprint(knex(), ['idempotency_keys']);
    const res = await send(m.srv.url, { ...fc.sample(base(r), 1)[0], body: '{"unexpected": true}' });
    expect(res.status).toBe(400);
    expect(await fingerprint(knex(), ['idempotency_keys'])).toEqual(before);
  });
});

const RAW_DEEP = '__raw_deep__';

function decodes(encoding: string, bytes: Uint8Array): boolean {
  const decode = { gzip: zlib.gunzipSync, deflate: zlib.inflateSync, br: zlib.brotliDecompressSync }[encoding];
  if (!decode) return false;
  try {
    decode(bytes);
    return true;
  } catch {
    return false;
  }
}

function headersWithType(h: Record<string, string>, type: string): Record<string, string> {
  const { 'Content-Type': _drop, ...rest } = h;
  return type === '' ? rest : { ...rest, 'Content-Type': type };
}
