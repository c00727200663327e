/**
 * What the benchmark's processes say to each other: the bench driver (run.ts), the load client
 * (load-client.ts, forked) and the servers' bench hook (server-hook.ts, preloaded). Benchmark-only.
 */

/**
 * Wall-clock milliseconds with sub-millisecond resolution. Unlike process.hrtime it is comparable
 * across processes on one machine (both sides add their own timeOrigin, which is wall clock), so a
 * send time taken in the driver can be subtracted from a receive time taken in the load client.
 * run.ts measures the residual offset between the two processes and reports it.
 */
export const nowMs = (): number => performance.timeOrigin + performance.now();

/** Carried as JSON in the announcement's `body` so the receiver knows what it got and when it was sent. */
export interface Stamp {
  /** Phase name, e.g. `lat`, `fan0`, `sus`. */
  p: string;
  /** Sequence number within the phase. */
  s: number;
  /** Send time (nowMs) taken just before the POST started. */
  t: number;
  /** Index of the one user this event is addressed to (targeted phases only). */
  u?: number;
  /** Padding (--payload-bytes). */
  x?: string;
}

/** The request body accepted by POST /api/broadcasts on both servers. */
export type BroadcastBody = { title: string; body: string; all: true } | { title: string; body: string; userIds: string[] };

export interface RpcRequest {
  rid: number;
  cmd: string;
  [key: string]: unknown;
}

export interface RpcReply {
  rid: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

export interface ConnectArgs {
  /** `sse` (default): GET `url` as an event stream. `socketio`: a Socket.IO client (websocket only) to the server at `url`. */
  transport?: 'sse' | 'socketio';
  url: string;
  tokens: string[];
  concurrency: number;
  timeoutMs: number;
}

export interface ConnectResult {
  requested: number;
  opened: number;
  failed: number;
  /** Failure reason (HTTP status or socket error code) -> count. */
  failures: Record<string, number>;
  /** Indices (into `tokens`) of the streams that opened. */
  openedIndices: number[];
  startedAt: number;
  lastOpenAt: number;
  durationMs: number;
}

export interface PhaseReport {
  phase: string;
  /** Receipts after dedupe by event id, over all streams. */
  unique: number;
  duplicates: number;
  /** A targeted event (Stamp.u) that arrived on another user's stream. */
  misdelivered: number;
  firstRecv: number | null;
  lastRecv: number | null;
  /** Receive time minus Stamp.t, one per unique receipt (ms). */
  latencies: number[];
  /** Receive times (nowMs), one per unique receipt. */
  recvTimes: number[];
  /** Unique receipts per stream index. */
  perStream: number[];
}

export interface ClientStatus {
  open: number;
  /** Streams that opened and later closed or failed before the benchmark ended them. */
  closedAfterOpen: number;
  errorsAfterOpen: Record<string, number>;
  /** Messages that were not a well-formed announcement carrying a Stamp. */
  malformed: number;
  /** Non-announcement events (e.g. reset, auth_expired). */
  otherEvents: Record<string, number>;
  /** The SSE `id:` and the envelope's `id` differed. */
  idMismatch: number;
  bytesReceived: number;
}
