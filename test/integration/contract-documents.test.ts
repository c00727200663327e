import http from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { validate as validateOpenApi } from '@readme/openapi-parser';
import { DiagnosticSeverity, Parser as AsyncApiParser } from '@asyncapi/parser';
import { describeDb } from '../support/test-db';
import { startMarketplace, type Marketplace } from '../support/marketplace';
import { ROUTE_CATALOG } from '../support/route-catalog';
import { checkAnswer, checkEvent, ContractViolation } from '../support/contract';
import { openStream } from '../support/sse-client';
import { OPERATIONS } from '../../src/docs/operations';
import { EVENT_TYPES } from '../../src/contract/event-names';
import { EVENT_DATA } from '../../src/contract/events';
import { inAnHour } from '../support/booking-time';

async function asyncApiErrors(doc: unknown): Promise<string[]> {
  const { diagnostics } = await new AsyncApiParser().parse(JSON.stringify(doc));
  // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-comparison -- the parser's diagnostics and the DiagnosticSeverity it exports come from two copies of @stoplight/types: the same enum, declared twice
  return diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error).map((d) => `${d.path.join('.')}: ${d.message}`);
}

describeDb('the published contract: /api/openapi.json, /api/asyncapi.json, /docs', () => {
  let m: Marketplace;
  beforeAll(async () => {
    m = await startMarketplace();
  }, 60_000);
  afterAll(() => m?.stop());

  it('serves an OpenAPI 3.1 document that its linter accepts, and the linter refuses a broken one', async () => {
    const { body } = await request(m.srv.url).get('/api/openapi.json').expect(200).expect('Content-Type', /json/);
    expect(body.openapi).toBe('3.1.0');
    expect(await validateOpenApi(structuredClone(body))).toMatchObject({ valid: true });
    const broken = structuredClone(body);
    broken.paths['/api/bookings'].post.responses = 'none';
    expect(await validateOpenApi(broken)).toMatchObject({ valid: false });
  });

  it('serves an AsyncAPI 3 document that its parser accepts, and the parser refuses a broken one', async () => {
    const { body } = await request(m.srv.url).get('/api/asyncapi.json').expect(200);
    expect(body.asyncapi).toMatch(/^3\./);
    expect(new URL(`http://${body.servers.api.host}`).host).toBe(new URL(m.srv.url).host);
    expect(await asyncApiErrors(body)).toEqual([]);
    const broken = structuredClone(body);
    broken.operations.receiveStream.action = 'listen';
    expect((await asyncApiErrors(broken)).length).toBeGreaterThan(0);
  });

  it('documents every route the app registers, and nothing it does not', () => {
    const api = (path: string) => !path.startsWith('/docs/assets/');
    const registered = ROUTE_CATALOG.filter((r) => api(r.path)).map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`);
    const documented = OPERATIONS.map((op) => `${op.method.toUpperCase()} ${op.path}`);
    expect([...new Set(documented)].sort()).toEqual([...new Set(registered)].sort());
  });

  it('describes every event type the server emits, with its data, and the stream’s control messages', async () => {
    const { body } = await request(m.srv.url).get('/api/asyncapi.json').expect(200);
    expect(Object.keys(EVENT_DATA).sort()).toEqual([...EVENT_TYPES].sort());
    for (const type of [...EVENT_TYPES, 'reset', 'auth_expired']) expect(body.channels.stream.messages[type]).toBeDefined();
  });

  it('lists every error code a route can give under its status', async () => {
    const { body } = await request(m.srv.url).get('/api/openapi.json').expect(200);
    const start = body.paths['/api/bookings/{id}/start'].post.responses;
    expect(start['409'].content['application/json'].schema.properties.error.properties.code.enum).toEqual(
      expect.arrayContaining(['INVALID_TRANSITION', 'PAYMENT_REQUIRED', 'TOO_EARLY', 'IDEMPOTENCY_KEY_IN_USE']),
    );
    expect(start['401'].content['application/json'].schema.properties.error.properties.code.enum).toEqual(['AUTH_EXPIRED', 'AUTH_INVALID', 'AUTH_REQUIRED']);
  });

  it('serves /docs from node_modules within the CSP: the page, Swagger UI, and its script', async () => {
    const page = await request(m.srv.url).get('/docs/').expect(200).expect('Content-Type', /html/);
    expect(page.headers['content-security-policy']).toMatch(/script-src 'self'/);
    const scripts = [...page.text.matchAll(/<script[^>]*src="([^"]+)"/g)].map((s) => s[1]);
    expect(scripts).toEqual(['/docs/assets/swagger-ui-bundle.js', '/lib/client/docs-page.js']);
    expect(page.text).not.toMatch(/<script>(?!<)/);
    for (const src of scripts)
      await request(m.srv.url)
        .get(src)
        .expect(200)
        .expect('Content-Type', /javascript/);
    await request(m.srv.url).get('/docs/assets/swagger-ui.css').expect(200).expect('Content-Type', /css/);
  });

  describe('the checker every suite goes through', () => {
    it('accepts the real answers and events of a booking', async () => {
      const client = m.user('ct-c', 'client');
      const provider = m.user('ct-p', 'provider');
      await provider.get('/api/me').expect(200);
      const stream = await openStream(m.srv.url, { token: provider.token });
      const b = await client.post('/api/bookings', { providerId: provider.sub, service: 'tiling', scheduledFor: inAnHour(), amount: 12_300 }).expect(201);
      await provider.post(`/api/bookings/${b.body.id}/accept`).expect(200);
      await stream.waitFor((s) => s.idsOf('booking.accepted').length === 1);
      stream.close();
      const polled = await client.get('/api/events?after=0').expect(200);
      expect(polled.body.events.map((e: { type: string }) => e.type)).toEqual(expect.arrayContaining(['booking.created', 'booking.accepted']));
      for (const e of polled.body.events) expect(() => checkEvent(e)).not.toThrow();
    });

    it('refuses an answer that does not match its route: a wrong field, an undocumented status, a route that is not there', async () => {
      const client = m.user('ct-c2', 'client');
      const provider = m.user('ct-p2', 'provider');
      await provider.get('/api/me').expect(200);
      const b = (await client.post('/api/bookings', { providerId: provider.sub, service: 's', scheduledFor: inAnHour(), amount: 500 }).expect(201)).body;
      const ok = { method: 'GET', url: `/api/bookings/${b.id}`, status: 200, contentType: 'application/json; charset=utf-8', body: b };
      expect(() => checkAnswer(ok)).not.toThrow();
      expect(() => checkAnswer({ ...ok, body: { ...b, amount: '500' } })).toThrow(ContractViolation);
      expect(() => checkAnswer({ ...ok, body: { ...b, status: 'MAYBE' } })).toThrow(/does not match the OpenAPI document/);
      const { payment: _p, ...withoutPayment } = b;
      expect(() => checkAnswer({ ...ok, body: withoutPayment })).toThrow(ContractViolation);
      expect(() => checkAnswer({ ...ok, status: 418 })).toThrow(/not documented/);
      expect(() => checkAnswer({ ...ok, status: 404, body: { error: { code: 'TOO_EARLY', message: 'x' } } })).toThrow(ContractViolation);
      expect(() => checkAnswer({ ...ok, contentType: 'text/html' })).toThrow(/answered text\/html/);
      expect(() => checkAnswer({ ...ok, method: 'POST', url: '/api/bookings/1/teleport' })).toThrow(/no route/);
    });

    it('refuses a wrong event: a missing field, a wrong type of data, and a type with no schema', () => {
      const e = {
        id: '7',
        type: 'notification.read',
        occurredAt: new Date().toISOString(),
        data: { ids: ['1'], unreadCount: 0 },
      };
      expect(() => checkEvent(e)).not.toThrow();
      expect(() => checkEvent({ ...e, data: { ids: ['1'] } })).toThrow(/does not match the AsyncAPI document/);
      expect(() => checkEvent({ ...e, data: { ids: [1], unreadCount: 0 } })).toThrow(ContractViolation);
      expect(() => checkEvent({ ...e, type: 'booking.teleported' })).toThrow(/has no schema in the contract/);
      expect(() => checkEvent(e, 'booking.created')).toThrow(ContractViolation);
      expect(() => checkEvent({ lastEventId: '7', reason: 'pruned' }, 'reset')).not.toThrow();
      expect(() => checkEvent({ lastEventId: 7 }, 'reset')).toThrow(ContractViolation);
    });

    it('holds every supertest and fetch answer to the document, so a mismatch fails the request itself', async () => {
      // A server that answers /healthz with a body the document does not allow.
      const liar = http.createServer((_req, res) => res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"status":"fine"}'));
      await new Promise<void>((r) => liar.listen(0, '127.0.0.1', r));
      const url = `http://127.0.0.1:${(liar.address() as AddressInfo).port}`;
      try {
        await expect(request(url).get('/healthz').expect(200)).rejects.toThrow(ContractViolation);
        await expect(fetch(`${url}/healthz`)).rejects.toThrow(ContractViolation);
        // The real server's answer to the same request passes.
        await request(m.srv.url).get('/healthz').expect(200);
      } finally {
        liar.close();
      }
    });
  });
});
