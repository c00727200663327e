import type { Knex } from 'knex';
import { FEW_USERS, OutboxRelay } from '../../src/events/outbox-relay';
import type { ChannelName, EventRecord } from '../../src/events/event-types';
import { createLogger } from '../../src/logger';

/*
 * What the committing instance does with its own events (offer), on the path that needs no
 * database: ids that follow the relay's cursor (a fresh relay's cursor is 0) go out without a read.
 */
describe('OutboxRelay.offer', () => {
  const event = (id: number, audience: ChannelName[]): EventRecord => ({ id: String(id), type: 'test.event', audience, payload: {}, occurredAt: new Date() });
  const setup = () => {
    const delivered: string[] = [];
    // Never read: every offer here follows the cursor with no gap.
    const noDatabase = {} as Knex;
    const relay = new OutboxRelay(noDatabase, (events) => delivered.push(...events.map((e) => e.id)), createLogger('silent'), 60_000);
    return { relay, delivered };
  };
  const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

  it('delivers events for a few users in the committing tick, before the request answers', () => {
    const { relay, delivered } = setup();
    const users = Array.from({ length: FEW_USERS - 1 }, (_, i) => `user:u${i}` as ChannelName);
    relay.offer([event(1, users), event(2, ['user:u0'])]);
    expect(delivered).toEqual(['1', '2']);
    expect(relay.dispatchedId).toBe('2');
  });

  it.each<[string, ChannelName[]]>([
    ['a role', ['role:provider']],
    ['everyone', ['all']],
    ['a user and a role', ['user:u1', 'role:client']],
    ['many users', Array.from({ length: FEW_USERS + 1 }, (_, i) => `user:u${i}` as ChannelName)],
  ])('leaves a fan-out to %s for the next turn of the event loop', async (_what, audience) => {
    const { relay, delivered } = setup();
    relay.offer([event(1, audience)]);
    expect(delivered).toEqual([]);
    await nextTurn();
    expect(delivered).toEqual(['1']);
  });
});
