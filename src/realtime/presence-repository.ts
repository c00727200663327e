import type { Knex } from 'knex';

/** How long a dead instance's rows stay before any instance deletes them. */
const FORGET_DEAD_AFTER = "interval '1 hour'";

/** Everything this instance wrote of presence: at a (re)start, or when it stops. */
export async function forgetInstance(knex: Knex, instanceId: string, heartbeatToo: boolean): Promise<void> {
  await knex('stream_presence').where({ instance_id: instanceId }).delete();
  if (heartbeatToo) await knex('instance_heartbeats').where({ instance_id: instanceId }).delete();
}

/** These users are live on this instance (again: a row that is there stays). */
export async function markLive(knex: Knex, instanceId: string, userIds: string[]): Promise<void> {
  await knex.raw('INSERT INTO stream_presence (user_id, instance_id) SELECT unnest(?::text[]), ? ON CONFLICT DO NOTHING', [userIds, instanceId]);
}

/** These users are no longer live on this instance. */
export async function markGone(knex: Knex, instanceId: string, userIds: string[]): Promise<void> {
  await knex.raw('DELETE FROM stream_presence WHERE instance_id = ? AND user_id = ANY(?::text[])', [instanceId, userIds]);
}

/** This instance's rows count for `ttlMs` more; the rows of instances dead for long go. */
export async function beat(knex: Knex, instanceId: string, ttlMs: number): Promise<void> {
  await knex.raw(
    `INSERT INTO instance_heartbeats (instance_id, expires_at) VALUES (?, now() + ? * interval '1 millisecond')
     ON CONFLICT (instance_id) DO UPDATE SET expires_at = excluded.expires_at`,
    [instanceId, ttlMs],
  );
  await knex.raw(
    `DELETE FROM stream_presence WHERE instance_id IN (SELECT instance_id FROM instance_heartbeats WHERE expires_at < now() - ${FORGET_DEAD_AFTER})`,
  );
  await knex.raw(`DELETE FROM instance_heartbeats WHERE expires_at < now() - ${FORGET_DEAD_AFTER}`);
}
