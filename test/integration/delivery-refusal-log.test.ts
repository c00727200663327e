import { describeDb } from '../support/test-db';
import { useChannelMarketplace } from '../support/channel-marketplace';
import { waitUntil } from '../support/browser';
import { PushChannel } from '../../src/channels/push-channel';
import { Dispatcher } from '../../src/channels/dispatcher';

/**
 * While a provider is down every attempt is refused, and a backlog makes thousands of attempts:
 * the log gets the first refusal per channel (with its code), then a summary per channel per
 * interval, and a line when the channel takes sends again, not one line per attempt. Counted from
 * the real server's own log against the fake push service answering 503.
 */
describeDb('refused sends in the log', () => {
  const { m, pushService, awayUsers } = useChannelMarketplace({
    push: true,
    // The server's own dispatcher runs, fast: due at once, retried 10 ms, 20 ms, 40 ms… apart.
    env: { ESCALATE_PUSH_AFTER_S: '0', DISPATCH_POLL_MS: '20', DELIVERY_RETRY_BASE_MS: '10', DELIVERY_MAX_ATTEMPTS: '50' },
  });

  const logsFrom = (mark: number) => m.srv.logs.slice(mark) as Array<{ level: number; code?: string; channel?: string; msg: string; [k: string]: unknown }>;

  it('the server’s own dispatcher logs the first refusal and the recovery, not one line per refused attempt', async () => {
    const { users, endpoints } = await awayUsers('refusal-live', 10);
    for (const e of endpoints) pushService.answer(e, 503);
    const mark = m.srv.logs.length;
    const refusedBefore = pushService.refused.length;
    await m
      .user('refusal-live-ops', 'admin')
      .post('/api/broadcasts', { title: 'Maintenance', body: 'Tonight', userIds: users.map((u) => u.sub) })
      .expect(202);
    await waitUntil('60 refused attempts', () => pushService.refused.length - refusedBefore >= 60, 20_000);
    for (const e of endpoints) pushService.answer(e, 201);
    const mine = () => pushService.received.filter((r) => endpoints.some((e) => e.endsWith(`/${r.subscriptionId}`)));
    await waitUntil('every push taken', () => mine().length === 10, 20_000);
    // The fake counts a push before it answers: the deliveries are recorded sent after the dispatcher hears back.
    const knex = m.srv.running.services.db.knex;
    const sent = async () =>
      Number(
        (
          await knex('notification_deliveries')
            .whereIn(
              'user_id',
              users.map((u) => u.sub),
            )
            .where({ channel: 'push', status: 'sent' })
            .count<{ n: string }[]>({ n: '*' })
        )[0].n,
      );
    await waitUntil('every push recorded sent', async () => (await sent()) === 10, 20_000);

    const refused = pushService.refused.length - refusedBefore;
    const warnings = logsFrom(mark).filter((l) => l.level >= 40);
    expect(warnings.map((l) => [l.code, l.channel])).toEqual([
      ['PUSH_DEFERRED', 'push'],
      ['CHANNEL_RECOVERED', 'push'],
    ]);
    expect(warnings[1]).toEqual(expect.objectContaining({ refused, waiting: expect.any(Number) }));
    expect(refused).toBeGreaterThanOrEqual(60);
    expect(mine()).toHaveLength(10);
  }, 60_000);

  it('a ten-minute outage (the dispatcher on its own clock) gives one summary per 30 s of refusals, with how many wait and since when', async () => {
    const deps = m.srv.running.services;
    const knex = deps.db.knex;
    const { users, endpoints } = await awayUsers('refusal-clock', 8);
    for (const e of endpoints) pushService.answer(e, 503);
    // Due in an hour by the wall clock, so the server's own dispatcher leaves them to this one, driven by the test's clock.
    const notifiedAt = new Date(Date.now() + 3_600_000);
    const inserted: Array<{ id: string; user_id: string }> = await knex('notifications')
      .insert(users.map((u) => ({ user_id: u.sub, type: 'announcement', title: 'Later', body: 'x', data: {}, created_at: notifiedAt })))
      .returning(['id', 'user_id']);
    const ids = inserted.map((r) => String(r.id));
    await knex('notification_deliveries').insert(
      inserted.map((r) => ({
        notification_id: r.id,
        user_id: r.user_id,
        channel: 'push',
        status: 'queued',
        address: r.user_id,
        notified_at: notifiedAt,
        due_at: notifiedAt,
      })),
    );
    const push = new PushChannel(knex, { vapid: { subject: deps.config.VAPID_SUBJECT, ...deps.config.vapid! }, timeoutMs: 2_000 }, deps.logger);
    const d = new Dispatcher(knex, new Map([['push', push]]), () => false, deps.telemetry, deps.logger, {
      delays: { pushAfterS: 0, textAfterS: 600 },
      pollMs: 60_000,
      maxAttempts: 8,
      retryBaseMs: 30_000,
      refusalLogMs: 30_000,
    });
    const at = (s: number) => new Date(notifiedAt.getTime() + s * 1000);
    const mark = m.srv.logs.length;
    const refusedBefore = pushService.refused.length;
    // Down from +0 to +600 s; attempts at +0, +30, +90, +210 and +450 (30 s doubling); a pass every 15 s.
    for (let s = 0; s <= 600; s += 15) await d.sendDue(at(s));
    for (const e of endpoints) pushService.answer(e, 201);
    for (let s = 615; s <= 990; s += 15) await d.sendDue(at(s));
    await d.stop();
    await push.close();

    expect(pushService.refused.length - refusedBefore).toBe(8 * 5);
    const lines = logsFrom(mark).filter((l) => l.channel === 'push' && l.level >= 40);
    expect(lines.map((l) => [l.code, l.refused ?? null])).toEqual([
      ['PUSH_DEFERRED', null],
      // The other 7 of the first attempts, and the 8 at +30 s.
      ['CHANNEL_REFUSING', 15],
      ['CHANNEL_REFUSING', 8],
      ['CHANNEL_REFUSING', 8],
      ['CHANNEL_REFUSING', 8],
      ['CHANNEL_RECOVERED', 40],
    ]);
    expect(lines.slice(1, 5).map((l) => [l.lastCode, l.waiting, l.oldestWaitingSince])).toEqual(
      lines.slice(1, 5).map(() => ['PUSH_DEFERRED', 8, notifiedAt.toISOString()]),
    );
    expect(lines[5]).toEqual(expect.objectContaining({ refusingForS: 930, waiting: 8 }));
    for (const l of logsFrom(mark).filter((x) => x.level >= 40)) expect(l.code).toEqual(expect.any(String));
    const rows = await knex('notification_deliveries').whereIn('notification_id', ids).select('status', 'attempts');
    expect(rows).toEqual(rows.map(() => ({ status: 'sent', attempts: 6 })));
  });
});
