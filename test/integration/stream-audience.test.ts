import { describeDb } from '../support/test-db';
import { startTestServer, type TestServer } from '../support/test-server';
import { openStream, type TestStream } from '../support/sse-client';
import { sleep } from '../support/sleep';

describeDb('stream audience', () => {
  let srv: TestServer;
  const streams: TestStream[] = [];
  beforeAll(async () => {
    srv = await startTestServer();
  });
  afterEach(() => streams.splice(0).forEach((s) => s.close()));
  afterAll(() => srv.stop());

  const open = async (sub: string, role: 'client' | 'provider' | 'admin') => {
    const s = await openStream(srv.url, { token: srv.token(sub, role) });
    streams.push(s);
    return s;
  };

  it('delivers events addressed to the user, their role and everyone, and nothing else', async () => {
    const a = await open('alice', 'client');
    const b = await open('bob', 'client');
    const p = await open('pat', 'provider');

    const [toAlice] = await srv.publish({ type: 'test.event', audience: ['user:alice'], payload: { n: 1 } });
    const [toBob] = await srv.publish({ type: 'test.event', audience: ['user:bob'], payload: { n: 2 } });
    const [toClients] = await srv.publish({ type: 'test.event', audience: ['role:client'], payload: { n: 3 } });
    const [toProviders] = await srv.publish({ type: 'test.event', audience: ['role:provider'], payload: { n: 4 } });
    const [toAll] = await srv.publish({ type: 'test.event', audience: ['all'], payload: { n: 5 } });
    // A marker to every stream, so "nothing more arrived" is checked after everything was dispatched.
    const [marker] = await srv.publish({ type: 'test.other', audience: ['all'], payload: {} });

    for (const s of [a, b, p]) await s.waitFor((x) => x.ids.includes(marker.id), 5_000, 'marker');
    expect(a.ids).toEqual([toAlice.id, toClients.id, toAll.id, marker.id]);
    expect(b.ids).toEqual([toBob.id, toClients.id, toAll.id, marker.id]);
    expect(p.ids).toEqual([toProviders.id, toAll.id, marker.id]);
  });

  it('sends an event once to a session even when several of its channels match', async () => {
    const a = await open('carol', 'client');
    const [e] = await srv.publish({
      type: 'test.event',
      audience: ['user:carol', 'role:client', 'all'],
      payload: { hello: 'carol' },
    });
    await a.waitForCount(1);
    await sleep(200);
    expect(a.ids).toEqual([e.id]);
  });

  it('frames each event with its log id, type and the JSON envelope', async () => {
    const a = await open('dave', 'provider');
    const [e] = await srv.publish({ type: 'test.event', audience: ['user:dave'], payload: { amount: 135000 } });
    await a.waitForCount(1);
    expect(a.events[0]).toEqual({
      type: 'test.event',
      id: e.id,
      data: { id: e.id, type: 'test.event', occurredAt: e.occurredAt.toISOString(), data: { amount: 135000 } },
    });
  });

  it('gives every open session of one user the event (several tabs or devices)', async () => {
    const tab1 = await open('erin', 'client');
    const tab2 = await open('erin', 'client');
    const [e] = await srv.publish({ type: 'test.event', audience: ['user:erin'], payload: {} });
    await tab1.waitForCount(1);
    await tab2.waitForCount(1);
    expect(tab1.ids).toEqual([e.id]);
    expect(tab2.ids).toEqual([e.id]);
  });
});
