import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { Principal } from '../auth/principal';
import { compareIds } from '../events/event-log';
import type { ChannelName, EventRecord } from '../events/event-types';
import { channelsFor, isAddressedTo } from '../events/audience';
import type { Telemetry } from '../metrics/telemetry';
import type { Logger } from '../logger';
import { passes, type TypeFilter } from './type-filter';
import { controlFrame, eventFrame, eventFrames, HEARTBEAT_FRAME, STREAM_HEADERS } from './sse-frames';

/** What all streams of one server share: one object, so each stream holds one reference to it. */
export interface StreamContext {
  queueCapBytes: number;
  /** The `retry:` frame every stream starts with. */
  retryFrame: string;
  telemetry: Telemetry;
  logger: Logger;
  /** Called once for each stream that started, when its response has closed, however it ended. */
  onClosed: (s: StreamSubscriber) => void;
}

export type DropReason = 'slow_consumer' | 'auth_expired' | 'shutdown';

/**
 * A number that changes once per tick of the event loop, however many streams ask: one nextTick
 * per fan-out rather than one per stream.
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

/**
 * One open stream, written straight to its response with frames from better-sse's EventBuffer
 * (sse-frames.ts). It holds no better-sse Session: a Session brings an EventEmitter, its own
 * EventBuffer, a dozen bound closures and a keep-alive timer per stream, and each channel it
 * joins adds a `once` listener; measured at 2,000 streams that was most of our heap per stream
 * above a raw node:http server's. Heartbeats and token expiry are one sweep for all streams
 * (stream-sweep.ts), not two timers per stream.
 *
 * It starts out buffering: live events that arrive while its replay is being read are held, then
 * flushed after the replay, so nothing falls between the two. `lastSentId` makes every path
 * idempotent: an id at or below it is never written twice.
 *
 * Node does not stop us writing to a client that does not read, so the subscriber watches what
 * the socket has queued and disconnects past `queueCapBytes` (the client resumes with Last-Event-ID).
 */
export class StreamSubscriber {
  readonly channels: readonly ChannelName[];
  private readonly expiresAtMs: number;
  private ending = false;
  private closed = false;
  private buffering = true;
  private buffered: EventRecord[] | null = null;
  private bufferedBytes = 0;
  private lastSentId = '0';
  /** Bytes written in the tick numbered `writtenTick` (see write()). */
  private writtenThisTick = 0;
  private writtenTick = -1;
  /** Sweeps since the last write: the heartbeat goes only to streams that have been quiet. */
  private quietSweeps = 0;

  constructor(
    private readonly res: ServerResponse,
    readonly principal: Principal,
    private readonly ctx: StreamContext,
    /** Only events of these types are sent (live and replayed); undefined for all. */
    readonly types?: TypeFilter,
  ) {
    this.channels = channelsFor(principal);
    this.expiresAtMs = principal.expiresAt.getTime();
  }

  get isOpen(): boolean {
    return !this.ending && !this.closed;
  }

  get queuedBytes(): number {
    return this.res.writableLength;
  }

  /**
   * Sends the headers and the retry field. False when the client is already gone (it can leave
   * while we authenticate): then the response's 'close' has passed and would never reach us.
   */
  start(): boolean {
    const socket = this.res.socket;
    if (!socket || socket.destroyed || this.res.destroyed) {
      this.handleClosed();
      return false;
    }
    this.res.on('close', this.handleClosed);
    socket.setNoDelay(true);
    this.res.writeHead(200, STREAM_HEADERS);
    this.res.write(this.ctx.retryFrame);
    return true;
  }

  /** Live path: called by the registry with consecutive events addressed to this stream. */
  deliver(events: readonly EventRecord[]): void {
    if (!this.isOpen) return;
    if (this.buffering) {
      for (const e of events) {
        (this.buffered ??= []).push(e);
        this.bufferedBytes += eventFrame(e).length;
      }
      if (this.bufferedBytes > this.ctx.queueCapBytes) this.drop('slow_consumer');
      return;
    }
    this.write(events, 'live');
  }

  /** Replay path: writes in order, waiting for the socket to drain rather than piling up. */
  async replay(events: EventRecord[]): Promise<void> {
    let written = 0;
    for (const e of events) {
      if (!this.isOpen) break;
      written += this.write([e], 'replay');
      if (this.res.writableNeedDrain) await this.drained();
    }
    this.ctx.telemetry.eventsDelivered.inc({ path: 'replay' }, written);
  }

  /** Ends buffering: everything above the replayed range goes out, then the stream is live. */
  goLive(replayedThrough: string): void {
    if (compareIds(replayedThrough, this.lastSentId) > 0) this.lastSentId = replayedThrough;
    const pending = this.buffered ?? [];
    this.buffered = null;
    this.bufferedBytes = 0;
    this.buffering = false;
    this.write(pending, 'live');
  }

  /** A message that is not in the log (reset, auth_expired); see controlFrame for the id. */
  control(type: string, data: unknown, id?: string): void {
    if (!this.isOpen) return;
    this.send(controlFrame(type, data, id));
    if (id !== undefined && compareIds(id, this.lastSentId) > 0) this.lastSentId = id;
  }

  /**
   * Called by the sweep: ends a stream whose token has expired (a revoked user stops receiving),
   * and sends a heartbeat to one that has written nothing for `quietSweepsPerHeartbeat` sweeps.
   */
  sweep(nowMs: number, quietSweepsPerHeartbeat: number): void {
    if (!this.isOpen) return;
    if (nowMs >= this.expiresAtMs) {
      this.control('auth_expired', { reason: 'token expired' });
      this.drop('auth_expired');
    } else if (++this.quietSweeps >= quietSweepsPerHeartbeat) {
      this.send(HEARTBEAT_FRAME);
    }
  }

  drop(reason: DropReason): void {
    if (!this.isOpen) return;
    this.ending = true;
    if (reason === 'slow_consumer') {
      this.ctx.telemetry.slowConsumersDropped.inc();
      this.ctx.logger.warn(
        { code: 'SLOW_CONSUMER_DROPPED', userId: this.principal.userId, role: this.principal.role, queuedBytes: this.queuedBytes },
        'stream dropped: client is not reading',
      );
      // The queue is what we are protecting against; a graceful end would wait behind it.
      this.res.socket?.destroy();
    } else {
      this.res.end();
    }
  }

  private readonly handleClosed = (): void => {
    if (this.closed) return;
    this.closed = true;
    this.res.removeListener('close', this.handleClosed);
    this.ctx.onClosed(this);
  };

  private send(frame: string): void {
    this.quietSweeps = 0;
    this.res.write(frame);
  }

  /**
   * Writes, in one piece, the events not yet sent and addressed to this stream; returns how many.
   * Live writes are counted per event by the relay, not here.
   */
  private write(events: readonly EventRecord[], path: 'live' | 'replay'): number {
    if (!this.isOpen) return 0;
    // The usual case is that all of them go: then no array, and the string every stream shares.
    const sending = events.every((e) => this.due(e)) ? events : events.filter((e) => this.due(e));
    if (sending.length === 0) return 0;
    // Node corks the socket for the rest of the tick on a response write, so what this tick wrote
    // is all still queued however fast the client reads. Only the backlog from earlier ticks,
    // which the socket had the chance to send, shows a client that is not reading.
    const tick = currentTick();
    if (tick !== this.writtenTick) {
      this.writtenTick = tick;
      this.writtenThisTick = 0;
    }
    if (path === 'live' && this.res.writableLength - this.writtenThisTick > this.ctx.queueCapBytes) {
      this.drop('slow_consumer');
      return 0;
    }
    const before = this.res.writableLength;
    this.send(sending === events ? eventFrames(events) : sending.map(eventFrame).join(''));
    this.writtenThisTick += this.res.writableLength - before;
    this.lastSentId = sending[sending.length - 1].id;
    return sending.length;
  }

  /** Not sent yet, addressed to this stream, of a type it asked for: the last gate before the socket, whichever path the event came by. */
  private due(e: EventRecord): boolean {
    return compareIds(e.id, this.lastSentId) > 0 && isAddressedTo(e.audience, this.channels) && passes(this.types, e.type);
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
