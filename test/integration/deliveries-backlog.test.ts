import { describeDb } from '../support/test-db';
import { useChannelMarketplace } from '../support/channel-marketplace';
import { PushChannel } from '../../src/channels/push-channel';
import { Dispatcher } from '../../src/channels/dispatcher';

/**
 * A backlog: the push service answers 503 for ten minutes while notifications fall due, then
 * takes pushes again. With the configured attempts and backoff every push is retried (never
 * before it is due), none is given up, each arrives once, and the batches and chunks the
 * dispatcher works in lose nothing between them.
 */
describeDb('a backlog of deliveries drains after a provider outage', () => {
  // The server's own dispatcher stays idle; the test drives one with its own clock.
  const { m, pushService, awayUsers } = useChannelMarketplace({ push: true, env: { DISPATCH_ENABLED: '0', ESCALATE_PUSH_AFTER_S: '120' } });

  it('retries with backoff through a 10-minute outage, then sends every push exactly once', async () => {
    const deps = m.srv.running.services;
    const knex = deps.db.knex;
    const { users, endpoints } = await awayUsers('backlog', 20);
    for (const e of endpoints) pushService.answer(e, 503);
    await m
      .user('backlog-ops', 'admin')
      .post('/api/broadcasts', { title: 'Maintenance', body: 'Tonight', userIds: users.map((u) => u.sub) })
      .expect(202);
    const created = await knex('notifications')
      .whereIn(
        'user_id',
        users.map((u) => u.sub),
      )
      .select('id', 'created_at');
    expect(created).toHaveLength(20);
    const t0 = Math.max(...created.map((r: { created_at: Date }) => new Date(r.created_at).getTime()));

    const push = new PushChannel(knex, { vapid: { subject: deps.config.VAPID_SUBJECT, ...deps.config.vapid! }, timeoutMs: 2_000 }, deps.logger);
    // Batches of 7 and 3 sends at a time: the 20 deliveries cross both kinds of boundary.
    const options = {
      delays: { pushAfterS: 120, textAfterS: 600 },
      pollMs: 60_000,
      maxAttempts: deps.config.DELIVERY_MAX_ATTEMPTS,
      retryBaseMs: deps.config.DELIVERY_RETRY_BASE_MS,
      batch: 7,
      sendConcurrency: 3,
    };
    const a = new Dispatcher(knex, new Map([['push', push]]), () => false, deps.telemetry, deps.logger, options);
    const b = new Dispatcher(knex, new Map([['push', push]]), () => false, deps.telemetry, deps.logger, options);
    const refusedBy = (e: string) => pushService.refused.filter((r) => r.subscriptionId === e.split('/').pop()).length;

    // Due at +120 s; the outage lasts until +720 s; the dispatchers look every 30 s.
    const at = (s: number) => new Date(t0 + s * 1000);
    for (let s = 120; s <= 720; s += 30) await Promise.all([a.runOnce(at(s)), b.runOnce(at(s))]);
    expect(pushService.received).toHaveLength(0);
    // 30 s, 60 s, 120 s, 240 s apart (the default base doubling): attempts at +120, +150, +210, +330 and +570.
    expect(endpoints.map(refusedBy)).toEqual(endpoints.map(() => 5));
    const waiting = await knex('notification_deliveries')
      .whereIn(
        'user_id',
        users.map((u) => u.sub),
      )
      .select('status', 'attempts', 'due_at', 'error_code');
    expect(waiting).toEqual(waiting.map(() => ({ status: 'queued', attempts: 5, due_at: at(570 + 480), error_code: 'PUSH_DEFERRED' })));

    for (const e of endpoints) pushService.answer(e, 201);
    // Back up at +720 s, but each delivery waits for its next attempt, due at +1,050 s.
    for (let s = 750; s < 1050; s += 30) await Promise.all([a.runOnce(at(s)), b.runOnce(at(s))]);
    expect(pushService.received).toHaveLength(0);
    await Promise.all([a.runOnce(at(1050)), b.runOnce(at(1050)), a.runOnce(at(1050))]);
    await Promise.all([a.runOnce(at(1080)), b.runOnce(at(3600))]);

    const received = pushService.received.map((r) => `${r.subscriptionId}`);
    expect(received.sort()).toEqual(endpoints.map((e) => e.split('/').pop()!).sort());
    const rows = await knex('notification_deliveries')
      .whereIn(
        'user_id',
        users.map((u) => u.sub),
      )
      .select('status', 'attempts', 'error_code', 'reason');
    expect(rows).toEqual(rows.map(() => ({ status: 'sent', attempts: 6, error_code: null, reason: null })));
    await a.stop();
    await b.stop();
    await push.close();
  });
});
