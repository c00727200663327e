import type { Db } from '../storage/db';
import { checkCursor, compareIds, logBounds, readEvents, type LogBounds } from '../events/event-log';
import type { OutboxRelay } from '../events/outbox-relay';
import type { StreamSubscriber } from './stream-subscriber';

const REPLAY_PAGE = 500;

export type ResumeOutcome =
  { kind: 'fresh'; from: string } | { kind: 'replayed'; from: string; through: string; count: number } | { kind: 'reset'; reason: string; lastEventId: string };

/**
 * Replays the log up to a snapshot, then flushes what arrived live meanwhile. The subscriber must
 * have joined the registry in the same tick as this call: the snapshot is the relay's cursor read
 * now, so every event at or below it was dispatched before the stream joined (only replay can
 * bring it), and every event above it will be dispatched into the stream's buffer. Nothing falls
 * between.
 */
export async function resume(
  deps: { db: Db; relay: OutboxRelay },
  subscriber: StreamSubscriber,
  lastEventId: string | undefined,
  /** The log's bounds read before the stream opened (so an unreachable database was a 503). */
  earlyBounds?: LogBounds,
): Promise<ResumeOutcome> {
  const snapshot = deps.relay.dispatchedId;

  if (lastEventId === undefined) {
    subscriber.goLive(snapshot);
    return { kind: 'fresh', from: snapshot };
  }

  let cursor = checkCursor(lastEventId, earlyBounds ?? (await logBounds(deps.db)));
  // Bounds read before the join may predate an event the client has already seen elsewhere:
  // "ahead" is only believed from bounds read now. (Pruning only moves forward, so "pruned" holds.)
  if (!cursor.ok && cursor.reason === 'ahead' && earlyBounds) cursor = checkCursor(lastEventId, await logBounds(deps.db));
  if (!cursor.ok) {
    // In-band, with the snapshot as its id: the client refetches state and resumes from here.
    subscriber.control('reset', { lastEventId: snapshot, reason: cursor.reason }, snapshot);
    subscriber.goLive(snapshot);
    return { kind: 'reset', reason: cursor.reason, lastEventId: snapshot };
  }

  let after = cursor.after;
  let count = 0;
  while (compareIds(after, snapshot) < 0 && subscriber.isOpen) {
    const page = await readEvents(deps.db, { after, upTo: snapshot, channels: subscriber.channels, types: subscriber.types, limit: REPLAY_PAGE });
    await subscriber.replay(page);
    count += page.length;
    if (page.length < REPLAY_PAGE) break;
    after = page[page.length - 1].id;
  }
  // A cursor above the snapshot (committed, not yet dispatched here) skips buffered events up to it.
  const through = compareIds(cursor.after, snapshot) > 0 ? cursor.after : snapshot;
  subscriber.goLive(through);
  return { kind: 'replayed', from: cursor.after, through, count };
}
