import { Connection, createEventBuffer } from 'better-sse';
import { toEnvelope, type EventRecord } from '../events/event-types';

/**
 * Every byte a stream sends after its headers is framed here, by better-sse's EventBuffer. The
 * frames are strings built once: an event to thousands of streams is serialized and framed once,
 * and heartbeats and the retry field are constants. (Why streams hold no better-sse Session: see
 * stream-subscriber.ts.)
 */

/** Event data is JSON already; the buffer must not stringify it a second time. */
const preSerialized = (data: unknown): string => data as string;

/** better-sse's own response headers, plus what a stream behind nginx needs. */
export const STREAM_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  ...Connection.constants.RESPONSE_HEADERS,
  'X-Accel-Buffering': 'no',
});

/** An empty comment, as better-sse's keep-alive writes it. */
export const HEARTBEAT_FRAME = createEventBuffer().comment().dispatch().read();

export function retryFrame(ms: number): string {
  return createEventBuffer().retry(ms).dispatch().read();
}

const frames = new WeakMap<EventRecord, string>();

/** The frame of a logged event: its type, its id, its envelope as data. */
export function eventFrame(e: EventRecord): string {
  let frame = frames.get(e);
  if (frame === undefined) {
    frame = createEventBuffer({ serializer: preSerialized })
      .push(JSON.stringify(toEnvelope(e)), e.type, e.id)
      .read();
    frames.set(e, frame);
  }
  return frame;
}

const runFrames = new WeakMap<readonly EventRecord[], string>();

/** The frames of consecutive events as one string, built once however many streams get them. */
export function eventFrames(events: readonly EventRecord[]): string {
  if (events.length === 1) return eventFrame(events[0]);
  let joined = runFrames.get(events);
  if (joined === undefined) {
    joined = events.map(eventFrame).join('');
    runFrames.set(events, joined);
  }
  return joined;
}

/**
 * A control message (reset, auth_expired) that is not itself in the log. Without an id it carries
 * no `id:` field at all: an empty one would clear the client's Last-Event-ID, and EventBuffer's
 * push would invent a UUID the client would then resume from.
 */
export function controlFrame(type: string, data: unknown, id?: string): string {
  const buf = createEventBuffer().event(type);
  if (id !== undefined) buf.id(id);
  return buf.data(data).dispatch().read();
}
