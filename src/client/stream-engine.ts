import { HttpError, type Api, type PollResponse } from './api.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { isAfter, isEventId } from './event-ids.js';
import { KNOWN_EVENT_TYPES, type ConnectionState, type EventEnvelope } from './types.js';

/** Control events: not in the log, no `id:`. */
const CONTROL_TYPES = new Set(['reset', 'auth_expired', 'message', 'open', 'error', '*']);

export interface EngineHooks {
  /** A new event, in id order, never one at or below the cursor. */
  event(e: EventEnvelope): void;
  /** The cursor moved without an event: a poll found nothing for us up to there. */
  cursor(lastEventId: string): void;
  state(s: ConnectionState, reason: string): void;
  /** The server could not resume from the cursor: the page must refetch, then carry on from here. */
  reset(lastEventId: string): void;
}

export interface EngineOptions {
  api: Api;
  /** Unset: what the server suggests, else 60 s. */
  pollIntervalMs?: number;
  maxStreamFailures: number;
  backoff: BackoffOptions;
  /** A stream that has not opened by then counts as failed (a proxy that holds the request). */
  connectTimeoutMs?: number;
  /** A stream that dies sooner after opening counts as a failure, so a flapping server ends in polling, not a reconnect loop. */
  stableMs?: number;
  /** Seconds a poll may be held by the server while polling (long poll); 0 polls without holding. Default 20. */
  waitSeconds?: number;
}

/** While the page is visible, the stream is retried at least this often, so Live comes back within about 2 s. */
const VISIBLE_MAX_BACKOFF_MS = 1_500;
/** An empty answer quicker than this was not held: the server does not long-poll, so the interval applies. */
const MIN_HELD_MS = 1_000;
/** After a failed poll, the next one waits this long (the stream attempts go on meanwhile). */
const POLL_RETRY_MS = 3_000;

/**
 * One browser's connection to the events: a ticketed EventSource, reconnected by us (each
 * EventSource needs a fresh single-use ticket, so its own auto-reconnect cannot work), with
 * polling after `maxStreamFailures` failed attempts in a row while the stream keeps being retried.
 * One cursor covers both paths, since stream and log share ids: whichever delivers an id first
 * wins and the other's copy is dropped.
 */
export class StreamEngine {
  state: ConnectionState = 'connecting';
  private running = false;
  private es: EventSource | null = null;
  /** Bumped by every new attempt and by stop/offline, so an outdated attempt's answer is ignored. */
  private attempt = 0;
  private failures = 0;
  private openedAt: number | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private pollTimer: ReturnType<typeof setTimeout> | undefined;
  private polling = false;
  private pollInFlight = false;
  /** Aborts a held poll on stop and offline; a stream that comes back lets it finish (its copy is deduped). */
  private pollAbort: AbortController | null = null;
  private serverPollIntervalMs: number | undefined;
  private readonly types = new Set<string>(KNOWN_EVENT_TYPES);

  constructor(
    private readonly o: EngineOptions,
    private readonly hooks: EngineHooks,
    public cursor: string | null,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    if (navigator.onLine === false) this.goOffline('browser offline');
    else void this.connect();
  }

  stop(): void {
    this.running = false;
    this.attempt++;
    this.closeStream();
    this.stopPolling();
    this.abortPoll();
    clearTimeout(this.retryTimer);
  }

  addTypes(types: Iterable<string>): void {
    for (const t of types) {
      if (CONTROL_TYPES.has(t) || this.types.has(t)) continue;
      this.types.add(t);
      this.es?.addEventListener(t, this.onMessage);
    }
  }

  /**
   * The page came back (visible, restored, network back): phones end background streams without
   * telling the page, so a stream that is not open is retried now rather than after its backoff,
   * and `force` replaces even an open one (it may be a dead socket nobody noticed).
   */
  check(force: boolean): void {
    if (!this.running) return;
    if (navigator.onLine === false) return this.goOffline('browser offline');
    if (this.state === 'offline') this.failures = 0;
    if (this.polling && !this.pollInFlight) void this.pollNow();
    if (!force && this.es && this.es.readyState !== EventSource.CLOSED) return;
    void this.connect();
  }

  goOffline(reason: string): void {
    if (!this.running) return;
    this.attempt++;
    this.closeStream();
    this.stopPolling();
    this.abortPoll();
    clearTimeout(this.retryTimer);
    this.setState('offline', reason);
  }

  goOnline(): void {
    if (!this.running) return;
    this.failures = 0;
    if (this.state === 'offline') this.setState('connecting', 'browser online');
    void this.connect();
  }

  private async connect(): Promise<void> {
    clearTimeout(this.retryTimer);
    this.closeStream();
    const attempt = ++this.attempt;
    const current = () => attempt === this.attempt && this.running;
    try {
      // Start from now: the log's current id, so a later fall-back to polling has a cursor too.
      if (this.cursor === null) this.takePoll(await this.o.api.poll(null));
      if (!current()) return;
      const ticket = await this.o.api.ticket();
      if (!current()) return;
      this.openStream(ticket);
    } catch (err) {
      if (!current()) return;
      if (isRefusedToken(err)) this.signOut(err.code ?? 'AUTH_INVALID');
      else this.streamFailed(describe(err));
    }
  }

  private openStream(ticket: string): void {
    const es = new EventSource(this.o.api.streamUrl(ticket, this.cursor));
    this.es = es;
    this.openedAt = null;
    for (const t of this.types) es.addEventListener(t, this.onMessage);
    es.addEventListener('reset', this.onReset);
    es.addEventListener('auth_expired', this.onAuthExpired);
    es.onopen = () => {
      if (this.es !== es) return;
      clearTimeout(this.connectTimer);
      this.openedAt = Date.now();
      const wasPolling = this.polling;
      this.stopPolling();
      this.setState('live', wasPolling ? 'stream back' : 'stream open');
    };
    es.onerror = () => {
      if (this.es !== es) return;
      const opened = this.openedAt !== null;
      this.closeStream();
      this.streamFailed(opened ? 'stream lost' : 'stream refused');
    };
    this.connectTimer = setTimeout(() => {
      if (this.es !== es || es.readyState === EventSource.OPEN) return;
      this.closeStream();
      this.streamFailed('stream connect timeout');
    }, this.o.connectTimeoutMs ?? 20_000);
  }

  private streamFailed(reason: string): void {
    if (!this.running) return;
    this.failures++;
    if (navigator.onLine === false) return this.goOffline('browser offline');
    if (this.failures >= this.o.maxStreamFailures) {
      if (!this.polling) this.startPolling(`${this.failures} stream failures in a row (${reason})`);
    } else if (!this.polling) {
      this.setState('connecting', reason);
    }
    this.retryTimer = setTimeout(() => void this.connect(), backoffDelay(this.failures, this.backoffNow()));
  }

  /** A person looking at the page gets the stream back soon after it is reachable; a hidden tab backs off fully. */
  private backoffNow(): BackoffOptions {
    const visible = typeof document === 'undefined' || document.visibilityState !== 'hidden';
    if (!visible) return this.o.backoff;
    return { initialMs: Math.min(this.o.backoff.initialMs, VISIBLE_MAX_BACKOFF_MS), maxMs: Math.min(this.o.backoff.maxMs, VISIBLE_MAX_BACKOFF_MS) };
  }

  /**
   * The token was refused, and so was the one getToken() gave when asked again (Api retries once):
   * every further attempt would be refused as well, so the engine stops and says so.
   */
  private signOut(reason: string): void {
    this.stop();
    this.setState('signed-out', reason);
  }

  private startPolling(reason: string): void {
    this.polling = true;
    this.setState('polling', reason);
    void this.pollNow();
  }

  private stopPolling(): void {
    this.polling = false;
    clearTimeout(this.pollTimer);
  }

  private abortPoll(): void {
    this.pollAbort?.abort();
    this.pollAbort = null;
  }

  /**
   * One round: pages through everything after the cursor, holding the last request open at the
   * server until an event arrives (long poll), then (while polling) goes again: at once after a
   * held or non-empty answer, after the server's interval when it answered empty without holding.
   */
  private async pollNow(): Promise<void> {
    if (this.pollInFlight) return;
    this.pollInFlight = true;
    clearTimeout(this.pollTimer);
    const abort = (this.pollAbort = new AbortController());
    let nextInMs = POLL_RETRY_MS;
    try {
      for (let page = 0; page < 100 && this.running; page++) {
        const wait = this.o.waitSeconds ?? 20;
        const started = Date.now();
        const r = this.cursor === null ? await this.o.api.poll(null) : await this.o.api.longPoll(this.cursor, { wait, signal: abort.signal });
        if (!this.running || abort.signal.aborted) break;
        const more = this.takePoll(r);
        const held = r.events.length > 0 || Date.now() - started >= MIN_HELD_MS;
        nextInMs = held && wait > 0 ? 0 : this.pollEveryMs();
        if (!more) break;
      }
    } catch (err) {
      if (this.running && isRefusedToken(err)) this.signOut(err.code ?? 'AUTH_INVALID');
      else if (this.running && navigator.onLine === false) this.goOffline('browser offline');
      // Otherwise the next round retries; the stream attempts go on meanwhile.
    } finally {
      if (this.pollAbort === abort) this.pollAbort = null;
      this.pollInFlight = false;
      if (this.polling && this.running) this.pollTimer = setTimeout(() => void this.pollNow(), nextInMs);
    }
  }

  /** Applies one poll answer; true when another page is waiting. */
  private takePoll(r: PollResponse): boolean {
    if (typeof r.pollIntervalMs === 'number' && r.pollIntervalMs > 0) this.serverPollIntervalMs = r.pollIntervalMs;
    if (r.reset) {
      this.adoptReset(r.lastEventId);
      return false;
    }
    for (const e of r.events) this.deliver(e);
    if (isEventId(r.lastEventId) && isAfter(r.lastEventId, this.cursor)) {
      this.cursor = r.lastEventId;
      this.hooks.cursor(r.lastEventId);
    }
    return r.hasMore;
  }

  private pollEveryMs(): number {
    return this.o.pollIntervalMs ?? this.serverPollIntervalMs ?? 60_000;
  }

  private deliver(e: EventEnvelope): void {
    if (!isEventId(e?.id) || typeof e.type !== 'string' || !isAfter(e.id, this.cursor)) return;
    this.cursor = e.id;
    this.hooks.event(e);
  }

  private adoptReset(lastEventId: string): void {
    if (!isEventId(lastEventId)) return;
    // Possibly backwards (a log that was recreated): the server's word is the new cursor.
    this.cursor = lastEventId;
    this.hooks.reset(lastEventId);
  }

  private readonly onMessage = (m: Event): void => {
    const envelope = parseData(m) as EventEnvelope | null;
    if (envelope) this.deliver(envelope);
  };

  private readonly onReset = (m: Event): void => {
    const data = parseData(m) as { lastEventId?: unknown } | null;
    if (isEventId(data?.lastEventId)) this.adoptReset(data.lastEventId);
  };

  private readonly onAuthExpired = (): void => {
    // The server ends this stream now; the next one needs a ticket from a fresh token.
    this.o.api.forgetToken();
    this.closeStream();
    this.setState('connecting', 'auth expired');
    void this.connect();
  };

  private closeStream(): void {
    clearTimeout(this.connectTimer);
    const es = this.es;
    if (!es) return;
    this.es = null;
    // Only a stream that stayed up clears the failure count; one that dies at once is a failure too.
    if (this.openedAt !== null && Date.now() - this.openedAt >= (this.o.stableMs ?? 2_000)) this.failures = 0;
    this.openedAt = null;
    es.onopen = null;
    es.onerror = null;
    es.close();
  }

  private setState(s: ConnectionState, reason: string): void {
    if (this.state === s) return;
    this.state = s;
    this.hooks.state(s, reason);
  }
}

function parseData(m: Event): unknown {
  try {
    return JSON.parse((m as MessageEvent<string>).data);
  } catch {
    return null;
  }
}

function describe(err: unknown): string {
  if (err instanceof HttpError) return err.message;
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/** A 401 from Api, which has already asked getToken() again and retried once. */
function isRefusedToken(err: unknown): err is HttpError {
  return err instanceof HttpError && err.status === 401;
}
