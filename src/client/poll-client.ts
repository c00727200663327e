import { Api, HttpError, type PollResponse } from './api.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { isAfter } from './event-ids.js';
import type { EventEnvelope } from './types.js';

/*
 * A client for phones and servers: no DOM, no EventSource; fetch and timers only. It loads the
 * user's state once (GET /api/sync), then long-polls from the cursor that state is consistent
 * with, so that nothing is missed or applied twice, and it keeps the cursor in storage the app
 * provides, so a restarted app resumes where it was.
 */

/**
 * `connecting` until the first answer; `live` while polls are answered; `retrying` after a failed
 * one (backing off); `signed-out` when a fresh token was refused too (call start() again once the
 * user has signed in); `stopped` after stop() or an error that retrying cannot fix.
 */
export type PollClientState = 'connecting' | 'live' | 'retrying' | 'signed-out' | 'stopped';

/** Where the cursor is kept across restarts of the app (a file, AsyncStorage, a database row). */
export interface CursorStorage {
  load(): string | null | Promise<string | null>;
  save(cursor: string): void | Promise<void>;
}

/** A storage that forgets on restart: every start syncs. */
export function memoryStorage(initial: string | null = null): CursorStorage {
  let cursor = initial;
  return {
    load: () => cursor,
    save: (c) => {
      cursor = c;
    },
  };
}

/** What GET /api/sync answers; the fields besides `cursor` are the routes' own views. */
export interface SyncState {
  cursor: string;
  [part: string]: unknown;
}

export interface PollClientOptions {
  /** Default '' (same origin; a server or phone gives the API's address). */
  baseUrl?: string;
  /** Bearer token; asked again when the server answers 401 (AUTH_EXPIRED), once per refusal. */
  getToken(): string | Promise<string>;
  /** Default: memoryStorage(). */
  storage?: CursorStorage;
  /** Seconds each poll may be held; the server holds at most its POLL_MAX_WAIT_S. Default 25. */
  waitSeconds?: number;
  /** Only these event types (`booking.*` for a family). Default: all. */
  types?: readonly string[];
  /** First retry at once, then exponential with jitter. Default 1 s doubling to 30 s. */
  backoff?: Partial<BackoffOptions>;
  /** For tests: the jitter's randomness. */
  random?: () => number;
}

export interface PollClient {
  readonly state: PollClientState;
  /** The id of the last event applied (or of the last sync); null before the first. */
  readonly cursor: string | null;
  /** Begins (or, after signed-out or stopped, begins again) from the stored cursor. */
  start(): void;
  /** Stops polling and abandons a held poll. */
  stop(): void;
  /** The app went to the background: poll every pollIntervalMs without holding a connection. */
  background(): void;
  /** The app is in front again: poll now, then hold polls again. */
  foreground(): void;
  /** `'*'` = every event. Returns the unsubscribe. */
  on(type: string, fn: (e: EventEnvelope) => void): () => void;
  /** The whole state, on start without a stored cursor and after a `reset`: replace, do not merge. */
  onSync(fn: (s: SyncState) => void): () => void;
  onState(fn: (state: PollClientState, reason: string) => void): () => void;
}

export function createPollClient(o: PollClientOptions): PollClient {
  return new LongPollClient(o);
}

/** An empty answer quicker than this means the server did not hold it: wait out the rest before asking again. */
const MIN_EMPTY_CYCLE_MS = 1_000;

class LongPollClient implements PollClient {
  private currentState: PollClientState = 'stopped';
  private currentCursor: string | null = null;
  private readonly api: Api;
  private readonly storage: CursorStorage;
  private readonly backoff: BackoffOptions;
  private readonly handlers = new Map<string, Set<(e: EventEnvelope) => void>>();
  private readonly syncHandlers = new Set<(s: SyncState) => void>();
  private readonly stateHandlers = new Set<(s: PollClientState, reason: string) => void>();
  /** One per run of the loop: stop() aborts it, which ends the loop and any request it holds. */
  private run: AbortController | null = null;
  private inBackground = false;
  /** Cuts short the current pause (foreground, stop). */
  private wakeUp: (() => void) | null = null;

  constructor(private readonly o: PollClientOptions) {
    // The app's own failure to give a token is told apart from a network failure: it means signed out.
    this.api = new Api(o.baseUrl ?? '', async () => {
      try {
        return await o.getToken();
      } catch {
        throw new TokenRefused();
      }
    });
    this.storage = o.storage ?? memoryStorage();
    this.backoff = { initialMs: o.backoff?.initialMs ?? 1_000, maxMs: o.backoff?.maxMs ?? 30_000 };
  }

  get state(): PollClientState {
    return this.currentState;
  }

  get cursor(): string | null {
    return this.currentCursor;
  }

  start(): void {
    if (this.run) return;
    const run = (this.run = new AbortController());
    this.setState('connecting', 'starting');
    void this.loop(run.signal).finally(() => {
      if (this.run === run) this.run = null;
    });
  }

  stop(): void {
    this.run?.abort();
    this.run = null;
    this.wakeUp?.();
    this.setState('stopped', 'stopped');
  }

  background(): void {
    this.inBackground = true;
    // A held poll is left to finish; the next one is short.
  }

  foreground(): void {
    this.inBackground = false;
    this.wakeUp?.();
  }

  on(type: string, fn: (e: EventEnvelope) => void): () => void {
    let set = this.handlers.get(type);
    if (!set) this.handlers.set(type, (set = new Set()));
    set.add(fn);
    return () => void set.delete(fn);
  }

  onSync(fn: (s: SyncState) => void): () => void {
    this.syncHandlers.add(fn);
    return () => void this.syncHandlers.delete(fn);
  }

  onState(fn: (state: PollClientState, reason: string) => void): () => void {
    this.stateHandlers.add(fn);
    return () => void this.stateHandlers.delete(fn);
  }

  private async loop(signal: AbortSignal): Promise<void> {
    let failures = 0;
    let needSync = false;
    // The first poll after starting or after a failure is not held: it tells at once whether the
    // server is there (live) and catches up; the ones after it wait for events.
    let confirmed = false;
    try {
      this.currentCursor = await this.storage.load();
    } catch {
      this.currentCursor = null;
    }
    while (!signal.aborted) {
      try {
        if (this.currentCursor === null || needSync) {
          await this.sync(signal);
          needSync = false;
          confirmed = true;
          this.setState('live', 'synced');
        }
        const wait = this.inBackground || !confirmed ? 0 : (this.o.waitSeconds ?? 25);
        const started = Date.now();
        const page = await this.api.longPoll(this.currentCursor!, { wait, types: this.o.types, signal });
        if (signal.aborted) return;
        failures = 0;
        this.setState('live', 'polled');
        const wasConfirmed = confirmed;
        confirmed = true;
        if (page.reset) {
          // The server cannot continue from our cursor: the whole state again, and its cursor.
          needSync = true;
          continue;
        }
        await this.apply(page);
        if (page.hasMore) continue;
        const took = Date.now() - started;
        if (this.inBackground) await this.pause(page.pollIntervalMs, signal);
        else if (wasConfirmed && page.events.length === 0 && took < MIN_EMPTY_CYCLE_MS) await this.pause(MIN_EMPTY_CYCLE_MS - took, signal);
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof HttpError && err.status === 401) {
          // Api has already asked getToken() again and retried once: the new token was refused too.
          this.api.forgetToken();
          return this.end('signed-out', err.code ?? 'AUTH_INVALID');
        }
        if (err instanceof TokenRefused) return this.end('signed-out', 'getToken failed');
        if (err instanceof HttpError && err.status >= 400 && err.status < 500 && err.status !== 408 && err.status !== 429) {
          // A request the server will refuse however often it is sent (a filter it does not know).
          return this.end('stopped', err.code ?? `HTTP ${err.status}`);
        }
        failures++;
        confirmed = false;
        this.setState('retrying', err instanceof HttpError ? (err.code ?? `HTTP ${err.status}`) : 'network');
        await this.pause(backoffDelay(failures, this.backoff, this.o.random), signal);
      }
    }
  }

  private async sync(signal: AbortSignal): Promise<void> {
    const state = await this.api.sync<SyncState>(signal);
    if (signal.aborted) return;
    this.currentCursor = state.cursor;
    for (const fn of [...this.syncHandlers]) guard(() => fn(state));
    await this.save(state.cursor);
  }

  /** Events in order, each once (an id at or below the cursor was applied already), then the new cursor. */
  private async apply(page: PollResponse): Promise<void> {
    for (const e of page.events) {
      if (!isAfter(e.id, this.currentCursor)) continue;
      this.currentCursor = e.id;
      for (const fn of [...(this.handlers.get(e.type) ?? []), ...(this.handlers.get('*') ?? [])]) guard(() => fn(e));
    }
    // Past events that were not ours; never backwards.
    if (isAfter(page.lastEventId, this.currentCursor)) this.currentCursor = page.lastEventId;
    await this.save(this.currentCursor!);
  }

  private async save(cursor: string): Promise<void> {
    try {
      await this.storage.save(cursor);
    } catch {
      // A cursor that was not kept costs a sync after the next restart, nothing more.
    }
  }

  private pause(ms: number, signal: AbortSignal): Promise<void> {
    if (ms <= 0 || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.wakeUp === done) this.wakeUp = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeUp = done;
    });
  }

  private end(state: PollClientState, reason: string): void {
    this.run = null;
    this.setState(state, reason);
  }

  private setState(s: PollClientState, reason: string): void {
    if (this.currentState === s) return;
    this.currentState = s;
    for (const fn of [...this.stateHandlers]) guard(() => fn(s, reason));
  }
}

/** getToken() itself failed: the app has no token to give (signed out on its side). */
class TokenRefused extends Error {}

/** A handler's exception is the app's bug, not a reason to stop delivering. */
function guard(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    console.error(err);
  }
}
