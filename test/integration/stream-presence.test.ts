import { openDatabase } from '../../src/storage/db';
import { describeSharedDb } from '../support/test-db';
import { startTestServer, type TestServer } from '../support/test-server';
import { openStream } from '../support/sse-client';
import { longPoll } from '../support/long-poll';
import { RecordingChannel } from '../fakes/recording-channel';
import { Dispatcher } from '../../src/channels/dispatcher';

/**
 * Push escalation skips a user with a live stream open on any instance, not only on the one
 * whose dispatcher sends: instance B writes who streams there to stream_presence, and instance
 * A's dispatcher reads it when it claims the delivery.
 */
describeSharedDb('a live stream on one instance stops push escalation from another', () => {
  let a: TestServer;
  let b: TestServer;
  beforeAll(async () => {
    // The servers' own dispatchers stay idle; the test drives A's with its own clock.
    const env = { DISPATCH_ENABLED: '0', ESCALATE_PUSH_AFTER_S: '120' };
    a = await startTestServer(env);
    const url = a.db.url!;
    const dbForB = await openDatabase({ databaseUrl: url });
    b = await startTestServer({ ...env, DATABASE_URL: url }, { database: dbForB, url, drop: () => dbForB.close() });
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
  });

  const knex = () => a.running.services.db.knex;
  async function until(predicate: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await predicate())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const presentOn = async (userId: string) =>
    (await knex()('stream_presence').where({ user_id: userId }).select('instance_id')).map((r: { instance_id: string }) => r.instance_id);

  /** A's dispatcher: it knows only A's streams itself. */
  function dispatcherOfA(push: RecordingChannel): Dispatcher {
    const deps = a.running.services;
    return new Dispatcher(knex(), new Map([['push', push]]), (userId) => deps.registry.hasUser(userId), deps.telemetry, deps.logger, {
      delays: { pushAfterS: 120, textAfterS: 600 },
      pollMs: 60_000,
      maxAttempts: 3,
    });
  }

  /** An announcement to the user, published on A; its push is due 120 s after it. */
  async function announce(userId: string): Promise<{ id: string; createdAt: Date }> {
    await a.publish({ type: 'announcement', audience: [`user:${userId}`], payload: { title: 'Hello', body: 'From A' } });
    const row = await knex()('notifications').where({ user_id: userId }).orderBy('id', 'desc').first('id', 'created_at');
    return { id: String(row.id), createdAt: new Date(row.created_at) };
  }

  const pushOf = async (notificationId: string) =>
    knex()('notification_deliveries').where({ notification_id: notificationId, channel: 'push' }).first('status', 'reason');

  it('skips the push while the user streams on B, sends it once the stream closed, and stops counting B’s rows when B’s heartbeat lapses', async () => {
    const user = 'presence-roamer';
    const token = b.token(user, 'provider');
    const stream = await openStream(b.url, { token });
    await knex()('push_subscriptions').insert({ user_id: user, endpoint: 'https://push.example.net/roamer', p256dh: 'k', auth: 'a' });
    await until(async () => (await presentOn(user)).length === 1, 5_000, 'B to write the presence');
    expect(await presentOn(user)).toEqual([b.running.services.config.INSTANCE_ID]);
    expect(a.running.services.registry.hasUser(user)).toBe(false);

    const push = new RecordingChannel('push');
    const d = dispatcherOfA(push);
    const first = await announce(user);
    await d.runOnce(new Date(first.createdAt.getTime() + 121_000));
    expect(push.sent).toEqual([]);
    expect(await pushOf(first.id)).toEqual({ status: 'skipped', reason: 'a live stream was open' });

    // B's heartbeat lapses (B crashed without removing its rows): they no longer count.
    await knex()('instance_heartbeats')
      .where({ instance_id: b.running.services.config.INSTANCE_ID })
      .update({ expires_at: new Date(Date.now() - 1_000) });
    const lapsed = await announce(user);
    await d.runOnce(new Date(lapsed.createdAt.getTime() + 121_000));
    expect(push.sent.map((m) => m.notificationId)).toEqual([lapsed.id]);
    await knex()('instance_heartbeats')
      .where({ instance_id: b.running.services.config.INSTANCE_ID })
      .update({ expires_at: new Date(Date.now() + 45_000) });

    const again = await announce(user);
    await d.runOnce(new Date(again.createdAt.getTime() + 121_000));
    expect(await pushOf(again.id)).toEqual({ status: 'skipped', reason: 'a live stream was open' });

    stream.close();
    await until(async () => (await presentOn(user)).length === 0, 5_000, 'B to remove the presence');
    const after = await announce(user);
    await d.runOnce(new Date(after.createdAt.getTime() + 121_000));
    expect(push.sent.map((m) => m.notificationId)).toEqual([lapsed.id, after.id]);
    expect(await pushOf(after.id)).toEqual({ status: 'sent', reason: null });
    await d.stop();
  });

  it('a long poll held on B counts as live too (a phone in the foreground): no push while it waits, the push once it is gone', async () => {
    const user = 'presence-phone';
    const token = b.token(user, 'client');
    // The first poll (no cursor) makes the user, then their push subscription can be stored.
    const start = await fetch(`${b.url}/api/events`, { headers: { Authorization: `Bearer ${token}` } });
    const { lastEventId } = (await start.json()) as { lastEventId: string };
    await knex()('push_subscriptions').insert({ user_id: user, endpoint: 'https://push.example.net/phone', p256dh: 'k', auth: 'a' });
    // Filtered to bookings, so the announcements below do not answer it: it stays held.
    const poll = longPoll(b.url, token, { after: lastEventId, wait: 25, types: 'booking.*' });
    await until(async () => (await presentOn(user)).length === 1, 5_000, 'B to write the presence of the held poll');
    expect(b.running.services.heldPolls.hasUser(user)).toBe(true);

    const push = new RecordingChannel('push');
    const d = dispatcherOfA(push);
    const held = await announce(user);
    await d.runOnce(new Date(held.createdAt.getTime() + 121_000));
    expect(push.sent).toEqual([]);
    expect(await pushOf(held.id)).toEqual({ status: 'skipped', reason: 'a live stream was open' });

    poll.abort();
    await until(async () => (await presentOn(user)).length === 0, 5_000, 'B to remove the presence');
    const gone = await announce(user);
    await d.runOnce(new Date(gone.createdAt.getTime() + 121_000));
    expect(push.sent.map((m) => m.notificationId)).toEqual([gone.id]);
    await d.stop();
  });

  it('a user with streams on both instances stays present until the last one closes; a stopped instance removes its rows', async () => {
    const user = 'presence-twice';
    const onA = await openStream(a.url, { token: a.token(user, 'client') });
    const onB = await openStream(b.url, { token: b.token(user, 'client') });
    await until(async () => (await presentOn(user)).length === 2, 5_000, 'both instances to write the presence');
    onA.close();
    await until(async () => (await presentOn(user)).length === 1, 5_000, 'A to remove its row');
    expect(await presentOn(user)).toEqual([b.running.services.config.INSTANCE_ID]);

    const bId = b.running.services.config.INSTANCE_ID;
    await b.stop();
    expect(Number((await knex()('stream_presence').where({ instance_id: bId }).count('* as n').first())!.n)).toBe(0);
    expect(await knex()('instance_heartbeats').where({ instance_id: bId }).first()).toBeUndefined();
    onB.close();
  });
});
