import fc from 'fast-check';
import type express from 'express';
import type { Role } from '../../src/contract/vocabulary';

/*
 * Every HTTP route of ours, described from the outside: who may call it, what it names in its
 * path, and the shape of its body and query, field by field. The hostile suites derive their
 * inputs from these shapes (a valid value, then one deliberate defect), so the catalog is written
 * by hand from src/**\/*-routes.ts rather than imported from the schemas it is meant to check.
 * `appRoutes()` reads the live router stack so a route added without an entry here fails a test.
 */

export type Field =
  /** Free text: anything printable that survives trim, up to `max` characters. */
  | { kind: 'text'; max: number }
  /** A constrained string: ids, digits, codes. `valid` generates one the server accepts. */
  | { kind: 'token'; max: number; valid: fc.Arbitrary<string> }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'datetime' }
  | { kind: 'email' }
  | { kind: 'int'; min: number; max: number }
  | { kind: 'true' }
  | { kind: 'array'; of: Field; min: number; max: number };

export type FieldSpec = Field & { required?: boolean };

export interface Shape {
  fields: Record<string, FieldSpec>;
  /** Exactly one of these fields must be present (the broadcast's target). */
  exactlyOne?: readonly string[];
  /** Values that must come from the world (an existing provider), by field name. */
  fixed?: Record<string, (w: WorldIds) => fc.Arbitrary<unknown>>;
}

/** What a path `:id` names. Filled from the fixture world. */
export type Target = 'booking' | 'payout' | 'notification';

export interface CatalogRoute {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** As registered with Express, e.g. `/api/bookings/:id/:action`: compared with the live app. */
  registered: string;
  /** What a caller requests, `:id` still in place, e.g. `/api/bookings/:id/accept`. */
  path: string;
  auth: 'none' | 'bearer' | 'bearer-or-ticket' | 'paystack-signature' | 'twilio-signature';
  /** Roles that may call it; for booking routes, further limited to the booking's parties. */
  roles: readonly Role[];
  /** Which party of the booking may act (booking-scoped routes only). */
  party?: 'client' | 'provider' | 'either';
  target?: Target;
  /** The body's shape; `'empty'` accepts none or `{}`; `'ignored'`: the route does not read it. */
  body?: Shape | 'empty' | 'ignored';
  query?: Shape;
  /** Accepts `Idempotency-Key`. */
  idempotent?: boolean;
  /**
   * An SSE stream, served before Express (src/realtime/stream-endpoint.ts): no body parser, and a
   * request that gets through stays open.
   */
  stream?: boolean;
  /** Mounted only in demo mode (never in production, nor in the test server). */
  demoOnly?: boolean;
  /** Why the route sits outside a generic property, when it does. */
  note?: string;
}

export interface WorldIds {
  providerId: string;
}

const BOOKING_STATUSES = ['PENDING', 'CONFIRMED', 'IN_PROGRESS', 'COMPLETED', 'REJECTED', 'CANCELLED'] as const;
const PAYMENT_STATUSES = ['PENDING', 'PAID', 'ESCROW', 'RELEASED', 'FAILED', 'FLAGGED', 'REFUND_PENDING', 'REFUNDED'] as const;
const PAYOUT_STATUSES = ['PENDING', 'PROCESSING', 'COMPLETED', 'FAILED', 'REVERSED'] as const;
const ROLES = ['client', 'provider', 'admin'] as const;
const ALL_ROLES: readonly Role[] = ROLES;

const rowId = (): Field => ({ kind: 'token', max: 18, valid: fc.bigInt(1n, 999_999_999_999_999_999n).map(String) });
const userId = (): Field => ({ kind: 'token', max: 128, valid: fc.stringMatching(/^[A-Za-z0-9._:@-]{1,40}$/) });
const limit = (max: number): Field => ({ kind: 'int', min: 1, max });
const eventType = (): Field => ({ kind: 'token', max: 64, valid: fc.stringMatching(/^[a-z][a-z0-9_]{0,10}(\.[a-z][a-z0-9_]{0,10}){0,2}$/) });
const digits = (min: number, max: number): Field => ({
  kind: 'token',
  max,
  valid: fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: min, maxLength: max }),
});

const bookingAction = (action: string, party: CatalogRoute['party'], body: CatalogRoute['body']): CatalogRoute => ({
  method: 'POST',
  registered: '/api/bookings/:id/:action',
  path: `/api/bookings/:id/${action}`,
  auth: 'bearer',
  roles: party === 'client' ? ['client'] : party === 'provider' ? ['provider'] : ['client', 'provider'],
  party,
  target: 'booking',
  body,
  idempotent: true,
});

const reason: Shape = { fields: { reason: { kind: 'text', max: 500 } } };

export const ROUTE_CATALOG: readonly CatalogRoute[] = [
  // src/ops
  { method: 'GET', registered: '/healthz', path: '/healthz', auth: 'none', roles: [] },
  { method: 'GET', registered: '/readyz', path: '/readyz', auth: 'none', roles: [] },
  { method: 'GET', registered: '/metrics', path: '/metrics', auth: 'none', roles: [] },
  { method: 'GET', registered: '/api/status', path: '/api/status', auth: 'none', roles: [] },
  // src/docs
  { method: 'GET', registered: '/api/openapi.json', path: '/api/openapi.json', auth: 'none', roles: [] },
  { method: 'GET', registered: '/api/asyncapi.json', path: '/api/asyncapi.json', auth: 'none', roles: [] },
  {
    method: 'GET',
    registered: '/docs/assets/swagger-ui-bundle.js',
    path: '/docs/assets/swagger-ui-bundle.js',
    auth: 'none',
    roles: [],
    note: 'a file of swagger-ui-dist, not JSON',
  },
  {
    method: 'GET',
    registered: '/docs/assets/swagger-ui.css',
    path: '/docs/assets/swagger-ui.css',
    auth: 'none',
    roles: [],
    note: 'a file of swagger-ui-dist, not JSON',
  },
  // src/realtime
  {
    method: 'POST',
    registered: '/api/events/tickets',
    path: '/api/events/tickets',
    auth: 'bearer',
    roles: ALL_ROLES,
    body: 'ignored',
    note: 'no Idempotency-Key (a stored answer would hold the ticket). src/realtime/ticket-routes.ts never reads its body, so `{"x":1}` mints a ticket (see hostile-input)',
  },
  {
    method: 'GET',
    registered: '/api/events/stream',
    path: '/api/events/stream',
    auth: 'bearer-or-ticket',
    roles: ALL_ROLES,
    stream: true,
    // Lenient on purpose (z.object, not strict): a malformed Last-Event-ID is answered in-band.
    query: { fields: { ticket: { kind: 'token', max: 200, valid: fc.constant('x') }, lastEventId: { kind: 'text', max: 100 } } },
  },
  {
    method: 'GET',
    registered: '/api/events',
    path: '/api/events',
    auth: 'bearer',
    roles: ALL_ROLES,
    // `wait` is left out: a valid one holds the request (test/integration/long-poll.test.ts covers it).
    query: {
      fields: {
        after: { kind: 'token', max: 18, valid: fc.constantFrom('0', '1') },
        limit: limit(500),
        types: { kind: 'token', max: 1000, valid: fc.constantFrom('booking.*', 'payment.status_changed,announcement') },
      },
    },
  },
  {
    method: 'POST',
    registered: '/api/events/client-mode',
    path: '/api/events/client-mode',
    auth: 'bearer',
    roles: ALL_ROLES,
    body: {
      fields: {
        sessionId: { kind: 'token', max: 64, valid: fc.stringMatching(/^[A-Za-z0-9_-]{8,20}$/), required: true },
        mode: { kind: 'enum', values: ['live', 'polling', 'offline'], required: true },
        reason: { kind: 'text', max: 200 },
      },
    },
  },
  // src/ops/settings-routes.ts
  { method: 'GET', registered: '/api/settings', path: '/api/settings', auth: 'none', roles: [] },
  // src/demo
  { method: 'GET', registered: '/api/demo/users', path: '/api/demo/users', auth: 'none', roles: [], demoOnly: true },
  { method: 'GET', registered: '/api/demo/outbox', path: '/api/demo/outbox', auth: 'none', roles: [], demoOnly: true },
  {
    method: 'POST',
    registered: '/api/demo/sessions',
    path: '/api/demo/sessions',
    auth: 'none',
    roles: [],
    demoOnly: true,
    body: { fields: { userId: { ...userId(), required: true } } },
  },
  {
    method: 'POST',
    registered: '/api/demo/reset',
    path: '/api/demo/reset',
    auth: 'none',
    roles: [],
    demoOnly: true,
    body: { fields: { confirm: { kind: 'enum', values: ['reset'], required: true } } },
  },
  // src/broadcasts
  {
    method: 'POST',
    registered: '/api/broadcasts',
    path: '/api/broadcasts',
    auth: 'bearer',
    roles: ['admin'],
    idempotent: true,
    body: {
      fields: {
        title: { kind: 'text', max: 200, required: true },
        body: { kind: 'text', max: 4000, required: true },
        userIds: { kind: 'array', of: userId(), min: 1, max: 1000 },
        role: { kind: 'enum', values: ROLES },
        all: { kind: 'true' },
      },
      exactlyOne: ['userIds', 'role', 'all'],
    },
  },
  // src/users
  { method: 'GET', registered: '/api/me', path: '/api/me', auth: 'bearer', roles: ALL_ROLES },
  // src/sync
  { method: 'GET', registered: '/api/sync', path: '/api/sync', auth: 'bearer', roles: ALL_ROLES },
  {
    method: 'PUT',
    registered: '/api/me/services',
    path: '/api/me/services',
    auth: 'bearer',
    roles: ['provider'],
    body: { fields: { services: { kind: 'array', of: { kind: 'text', max: 100 }, min: 0, max: 50, required: true } } },
  },
  {
    method: 'GET',
    registered: '/api/providers',
    path: '/api/providers',
    auth: 'bearer',
    roles: ALL_ROLES,
    query: { fields: { service: { kind: 'text', max: 100 }, cursor: userId(), limit: limit(100) } },
  },
  {
    method: 'PUT',
    registered: '/api/me/payout-account',
    path: '/api/me/payout-account',
    auth: 'bearer',
    roles: ['provider'],
    body: {
      fields: {
        accountName: { kind: 'text', max: 200, required: true },
        accountNumber: { ...digits(6, 20), required: true },
        bankCode: { ...digits(3, 10), required: true },
      },
    },
  },
  // src/payments
  {
    method: 'POST',
    registered: '/api/webhooks/paystack',
    path: '/api/webhooks/paystack',
    auth: 'paystack-signature',
    roles: [],
    note: "Paystack's payloads vary and are read leniently after the signature: hostile-webhooks",
  },
  // src/channels
  {
    method: 'POST',
    registered: '/api/webhooks/twilio',
    path: '/api/webhooks/twilio',
    auth: 'twilio-signature',
    roles: [],
    note: "Twilio's form-encoded status callbacks, read after the signature: deliveries-sms",
  },
  {
    method: 'POST',
    registered: '/api/bookings/:id/payment',
    path: '/api/bookings/:id/payment',
    auth: 'bearer',
    roles: ['client'],
    party: 'client',
    target: 'booking',
    idempotent: true,
    body: { fields: { email: { kind: 'email' } } },
  },
  {
    method: 'POST',
    registered: '/api/payouts/:id/retry',
    path: '/api/payouts/:id/retry',
    auth: 'bearer',
    roles: ['admin'],
    target: 'payout',
    idempotent: true,
    body: 'empty',
  },
  { method: 'GET', registered: '/api/ledger/summary', path: '/api/ledger/summary', auth: 'bearer', roles: ['admin'] },
  // src/payments/attention-routes.ts
  { method: 'GET', registered: '/api/ops/attention', path: '/api/ops/attention', auth: 'bearer', roles: ['admin'] },
  ...['accept-flagged', 'refund', 'release', 'retry-refund'].map((action): CatalogRoute => ({
    method: 'POST',
    registered: '/api/ops/bookings/:id/:action',
    path: `/api/ops/bookings/:id/${action}`,
    auth: 'bearer',
    roles: ['admin'],
    target: 'booking',
    idempotent: true,
    body: { fields: { reason: { kind: 'text', max: 500, required: true } } },
  })),
  {
    method: 'GET',
    registered: '/api/payments',
    path: '/api/payments',
    auth: 'bearer',
    roles: ALL_ROLES,
    query: { fields: { cursor: rowId(), limit: limit(100), status: { kind: 'enum', values: PAYMENT_STATUSES } } },
  },
  {
    method: 'GET',
    registered: '/api/payouts',
    path: '/api/payouts',
    auth: 'bearer',
    roles: ['provider', 'admin'],
    query: { fields: { cursor: rowId(), limit: limit(100), status: { kind: 'enum', values: PAYOUT_STATUSES } } },
  },
  // src/bookings
  {
    method: 'POST',
    registered: '/api/bookings',
    path: '/api/bookings',
    auth: 'bearer',
    roles: ['client'],
    idempotent: true,
    body: {
      fields: {
        providerId: { ...userId(), required: true },
        service: { kind: 'text', max: 100, required: true },
        scheduledFor: { kind: 'datetime', required: true },
        amount: { kind: 'int', min: 100, max: 100_000_000, required: true },
        currency: { kind: 'enum', values: ['ZAR'] },
        notes: { kind: 'text', max: 2000 },
      },
      fixed: { providerId: (w) => fc.constant(w.providerId) },
    },
  },
  {
    method: 'GET',
    registered: '/api/bookings',
    path: '/api/bookings',
    auth: 'bearer',
    roles: ALL_ROLES,
    query: { fields: { status: { kind: 'enum', values: BOOKING_STATUSES }, cursor: rowId(), limit: limit(100) } },
  },
  { method: 'GET', registered: '/api/bookings/:id', path: '/api/bookings/:id', auth: 'bearer', roles: ALL_ROLES, party: 'either', target: 'booking' },
  bookingAction('accept', 'provider', 'empty'),
  bookingAction('reject', 'provider', reason),
  bookingAction('start', 'provider', 'empty'),
  bookingAction('complete', 'provider', 'empty'),
  bookingAction('cancel', 'either', reason),
  bookingAction('confirm-completion', 'client', 'empty'),
  bookingAction('dispute', 'client', { fields: { reason: { kind: 'text', max: 500, required: true } } }),
  // src/notifications
  {
    method: 'GET',
    registered: '/api/notifications',
    path: '/api/notifications',
    auth: 'bearer',
    roles: ALL_ROLES,
    query: { fields: { unread: { kind: 'enum', values: ['true', 'false'] }, before: rowId(), limit: limit(100) } },
  },
  {
    method: 'POST',
    registered: '/api/notifications/read-all',
    path: '/api/notifications/read-all',
    auth: 'bearer',
    roles: ALL_ROLES,
    idempotent: true,
    body: 'empty',
  },
  {
    method: 'POST',
    registered: '/api/notifications/:id/read',
    path: '/api/notifications/:id/read',
    auth: 'bearer',
    roles: ALL_ROLES,
    target: 'notification',
    idempotent: true,
    body: 'empty',
  },
  { method: 'GET', registered: '/api/me/notification-preferences', path: '/api/me/notification-preferences', auth: 'bearer', roles: ALL_ROLES },
  // src/channels
  { method: 'GET', registered: '/api/push/vapid-public-key', path: '/api/push/vapid-public-key', auth: 'none', roles: [] },
  {
    method: 'POST',
    registered: '/api/me/push-subscriptions',
    path: '/api/me/push-subscriptions',
    auth: 'bearer',
    roles: ALL_ROLES,
    body: 'ignored',
    note: "a browser's PushSubscription: a nested `keys` object the shapes here cannot express; its refusals (private, loopback, link-local and plain-http endpoints, bad keys) are tested in deliveries.test.ts",
  },
  {
    method: 'DELETE',
    registered: '/api/me/push-subscriptions',
    path: '/api/me/push-subscriptions',
    auth: 'bearer',
    roles: ALL_ROLES,
    body: 'ignored',
    note: "`{endpoint}` of one of the caller's own subscriptions (tested in deliveries.test.ts)",
  },
  {
    method: 'PUT',
    registered: '/api/me/notification-preferences',
    path: '/api/me/notification-preferences',
    auth: 'bearer',
    roles: ALL_ROLES,
    body: { fields: { mutedTypes: { kind: 'array', of: eventType(), min: 0, max: 50, required: true } } },
  },
];

/** `METHOD /registered/path` for every route the live app registers (its router stack, walked). */
export function appRoutes(app: express.Express): string[] {
  const found = new Set<string>();
  type Layer = { route?: { path: unknown; methods: Record<string, boolean> }; handle?: { stack?: Layer[] } };
  const walk = (stack: Layer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const [m, on] of Object.entries(layer.route.methods)) if (on && m !== '_all') found.add(`${m.toUpperCase()} ${String(layer.route.path)}`);
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack);
      }
    }
  };
  const router = (app as unknown as { router: { stack: Layer[] } }).router;
  walk(router.stack);
  return [...found].sort();
}

export const catalogRoutes = (o: { demo: boolean }): string[] =>
  [...new Set(ROUTE_CATALOG.filter((r) => o.demo || !r.demoOnly).map((r) => `${r.method} ${r.registered}`))].sort();

/* ---- Valid values, from the shapes ---- */

/** Printable text that is not blank after trim, with a little unicode. */
export const freeText = (max: number): fc.Arbitrary<string> =>
  fc.string({ minLength: 1, maxLength: Math.min(max, 40), unit: 'grapheme' }).filter((s) => s.trim().length > 0 && s.trim().length <= max && isStorable(s));

/** Free of what PostgreSQL cannot store in text or jsonb: NUL and unpaired surrogates. */
export function isStorable(s: string): boolean {
  // eslint-disable-next-line no-control-regex -- NUL is the character looked for
  return !/\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);
}

export function validValue(f: Field): fc.Arbitrary<unknown> {
  switch (f.kind) {
    case 'text':
      return freeText(f.max);
    case 'token':
      return f.valid;
    case 'enum':
      return fc.constantFrom(...f.values);
    case 'datetime':
      return fc.integer({ min: 3_600, max: 365 * 86_400 }).map((s) => new Date(Date.now() + s * 1000).toISOString());
    case 'email':
      return fc.stringMatching(/^[a-z0-9]{1,12}@[a-z0-9]{1,12}\.(co\.za|com|org)$/);
    case 'int':
      return fc.integer({ min: f.min, max: f.max });
    case 'true':
      return fc.constant(true);
    case 'array':
      return fc.array(validValue(f.of), { minLength: f.min, maxLength: Math.min(f.max, 5) });
  }
}

/** A body (or query) the route accepts: every required field, some optional ones, one target. */
export function validOf(shape: Shape, world: WorldIds): fc.Arbitrary<Record<string, unknown>> {
  const names = Object.keys(shape.fields).filter((n) => !shape.exactlyOne?.includes(n));
  const gen = (n: string) => shape.fixed?.[n]?.(world) ?? validValue(shape.fields[n]);
  const base = fc.record(Object.fromEntries(names.map((n) => [n, gen(n)])), { requiredKeys: names.filter((n) => shape.fields[n].required) });
  if (!shape.exactlyOne) return base;
  const target = fc.constantFrom(...shape.exactlyOne).chain((t) => gen(t).map((v) => ({ [t]: v })));
  return fc.tuple(base, target).map(([b, t]) => ({ ...b, ...t }));
}

/** A query value as it travels: every field a string. */
export const asQuery = (v: Record<string, unknown>): Record<string, string> => Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)]));
