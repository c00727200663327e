import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { createEventBuffer, type EventBuffer, type Session } from 'better-sse';
import type { Principal } from '../auth/principal';
import { compareIds } from '../events/event-log';
import { toEnvelope, type ChannelName, type EventRecord } from '../events/event-types';
import { channelsFor, isAddressedTo } from '../events/audience';
import type { Telemetry } from '../ops/telemetry';

/**
 * An event framed once (by better-sse's EventBuffer), however many sessions receive it: an
 * announcement to thousands would otherwise be serialized and framed thousands of times.
 */
const frameCache = new WeakMap<EventRecord, EventBuffer>();
function frameOf(e: EventRecord): EventBuffer {
  let frame = frameCache.get(e);
  if (frame === undefined) {
    frame = createEventBuffer({ serializer: preSerialized }).push(JSON.stringify(toEnvelope(e)), e.type, e.id);
    frameCache.set(e, frame);
  }
  return frame;
}

/**
 * A number that changes once per tick of the event loop, however many sessions ask: one
 * nextTick per fan-out rather than one per session.
 */
let tickNumber = 0;
let tickScheduled = false;
function currentTick(): number {
  if (!tickScheduled) {
    tickScheduled = true;
    process.nextTick(() => {
      tickNumber++;
      tickScheduled = false;
    });
  }
  return tickNumber;
}

/** Sessions are created with this serializer: everything pushed through them is already JSON. */
export const preSerialized = (data: unknown): string => data as string;

export type DropReason = 'slow_consumer' | 'auth_expired' | 'shutdown';

/**
 * One open stream. It starts out buffering: live events that arrive while its replay is being read
 * are held, then flushed after the replay, so nothing falls between the two. `lastSentId` makes
 * every path idempotent: an id at or below it is never written twice.
 *
 * better-sse ignores socket backpressure, so the subscriber watches what the socket has queued and
 * disconnects past `queueCapBytes` (the client resumes with Last-Event-ID).
 */
export class StreamSubscriber {
  private buffering = true;
  private buffered: EventRecord[] = [];
  private bufferedBytes = 0;
  private lastSentId = '0';
  private closed = false;
  /** Bytes written in the tick numbered `writtenTick` (see write()). */
  private writtenThisTick = 0;
  private writtenTick = -1;
  readonly channels: readonly ChannelName[];

  constructor(
    readonly session: Session,
    private readonly res: ServerResponse,
    readonly principal: Principal,
    private readonly queueCapBytes: number,
    private readonly telemetry: Telemetry,
    private readonly onDrop: (s: StreamSubscriber, reason: DropReason) => void,
  ) {
    this.channels = channelsFor(principal);
  }

  get isOpen(): boolean {
    return !this.closed && this.session.isConnected;
  }

  get queuedBytes(): number {
    return this.res.writableLength;
  }

  /** Live path: called by the registry for every event addressed to this session. */
  deliver(event: EventRecord): void {
    if (!this.isOpen) return;
    if (this.buffering) {
      this.buffered.push(event);
      this.bufferedBytes += frameOf(event).read().length;
      if (this.bufferedBytes > this.queueCapBytes) this.drop('slow_consumer');
      return;
    }
    this.write(event, 'live');
  }

  /** Replay path: writes in order, waiting for the socket to drain rather than piling up. */
  async replay(events: EventRecord[]): Promise<void> {
    let written = 0;
    for (const e of events) {
      if (!this.isOpen) break;
      if (this.write(e, 'replay')) written++;
      if (this.res.writableNeedDrain) await this.drained();
    }
    this.telemetry.eventsDelivered.inc({ path: 'replay' }, written);
  }

  /** Ends buffering: everything above the replayed range goes out, then the session is live. */
  goLive(replayedThrough: string): void {
    if (compareIds(replayedThrough, this.lastSentId) > 0) this.lastSentId = replayedThrough;
    const pending = this.buffered;
    this.buffered = [];
    this.bufferedBytes = 0;
    this.buffering = false;
    for (const e of pending) this.write(e, 'live');
  }

  /**
   * A control message (reset, auth_expired) that is not itself in the log. Without an id it must
   * carry no `id:` field at all: an empty one would clear the client's Last-Event-ID, and
   * better-sse's push would invent a UUID the client would then resume from.
   */
  control(type: string, data: unknown, id?: string): void {
    if (!this.isOpen) return;
    const buf = createEventBuffer().event(type);
    if (id !== undefined) buf.id(id);
    // An EventBuffer instance is written synchronously, so order with later pushes is kept.
    void this.session.batch(buf.data(data).dispatch());
    if (id !== undefined && compareIds(id, this.lastSentId) > 0) this.lastSentId = id;
  }

  drop(reason: DropReason): void {
    if (this.closed) return;
    this.closed = true;
    this.onDrop(this, reason);
    if (reason === 'slow_consumer') {
      // The queue is what we are protecting against; a graceful end would wait behind it.
      this.res.socket?.destroy();
    } else {
      this.res.end();
    }
  }

  /** True when the event went out. Live writes are counted per event by the relay, not here. */
  private write(e: EventRecord, path: 'live' | 'replay'): boolean {
    if (!this.isOpen || compareIds(e.id, this.lastSentId) <= 0) return false;
    // The last gate before the socket, whichever path the event came by: never another's event.
    if (!isAddressedTo(e.audience, this.channels)) return false;
    // Node corks the socket for the rest of the tick on a response write, so what this tick wrote
    // is all still queued however fast the client reads. Only the backlog from earlier ticks,
    // which the socket had the chance to send, shows a client that is not reading.
    const tick = currentTick();
    if (tick !== this.writtenTick) {
      this.writtenTick = tick;
      this.writtenThisTick = 0;
    }
    if (path === 'live' && this.res.writableLength - this.writtenThisTick > this.queueCapBytes) {
      this.drop('slow_consumer');
      return false;
    }
    const before = this.res.writableLength;
    // The frame better-sse built, written as its Session.batch() would write it (LeanNodeConnection's
    // sendChunk is this same res.write), without an async call and its promise per session.
    this.res.write(frameOf(e).read());
    this.writtenThisTick += this.res.writableLength - before;
    this.lastSentId = e.id;
    return true;
  }

  private async drained(): Promise<void> {
    const ac = new AbortController();
    try {
      await Promise.race([once(this.res, 'drain', { signal: ac.signal }), once(this.res, 'close', { signal: ac.signal })]);
    } catch {
      // aborted or closed: the caller checks isOpen
    } finally {
      ac.abort();
    }
  }
}
