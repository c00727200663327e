import { Api } from './api.js';
import { isEventId } from './event-ids.js';
import { ModeReporter } from './mode-reporter.js';
import { randomId, readStored, writeStored } from './browser-storage.js';
import { StreamEngine } from './stream-engine.js';
import { canShareAcrossTabs, TabGroup, type GroupMessage } from './tab-group.js';
import { TabFollower } from './tab-follower.js';
import type { ConnectionState, EventEnvelope } from './types.js';

export type { ConnectionState, EventEnvelope } from './types.js';

export interface LiveClientOptions {
  /** Default '' (same origin). */
  baseUrl?: string;
  /** The user's id (JWT sub): names the tab lock, the channel and the stored ids, so two users' tabs never share. */
  userKey: string;
  /** Bearer token for tickets, polls and mode reports; asked again after auth_expired or a 401. */
  getToken(): string | Promise<string>;
  /** Default: the server's pollIntervalMs, else 60000. */
  pollIntervalMs?: number;
  /** Failed stream attempts in a row before polling. Default 5. */
  maxStreamFailures?: number;
  /** Seconds the server may hold each poll while polling (long poll). Default 20. */
  waitSeconds?: number;
  /** First retry at once, then exponential with jitter. Default 1 s doubling to 30 s (1.5 s while the page is visible). */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Default true: one stream per browser per user, shared by its tabs. */
  shareAcrossTabs?: boolean;
  /** Default true: tell the server this browser's mode (POST /api/events/client-mode). */
  reportMode?: boolean;
}

export interface LiveClient {
  readonly state: ConnectionState;
  readonly lastEventId: string | null;
  readonly isLeader: boolean;
  /**
   * `after`: an event id the page's state already covers (GET /api/sync's `cursor`); the client
   * delivers only what comes after it, instead of resuming from its stored id or from now.
   */
  start(after?: string): void;
  stop(): void;
  /** `'*'` = every event. Returns the unsubscribe. */
  on(type: string, fn: (e: EventEnvelope) => void): () => void;
  onState(fn: (state: ConnectionState, reason: string) => void): () => void;
  /** The page must refetch its state: events were missed that cannot be replayed. */
  onReset(fn: () => void): () => void;
  /** A person asked: retry the stream and poll now, whatever the backoff says. */
  checkNow(): void;
}

export function createLiveClient(o: LiveClientOptions): LiveClient {
  return new BrowserLiveClient(o);
}

/** A page that comes back after this long re-opens even an "open" stream: it may be dead. */
const HIDDEN_RECONNECT_MS = 15_000;

/**
 * A tab's view of the user's events. The leader tab runs the StreamEngine and hands every event,
 * its state and its cursor to the others over the TabGroup; a follower (TabFollower) delivers what
 * it is handed, keeping its own cursor, and reads from the log itself what it was not there to be
 * handed; when it takes over it resumes from the last id it has seen itself. Each tab dedupes by
 * its cursor: nothing reaches a page twice, whoever sent it.
 */
class BrowserLiveClient implements LiveClient {
  private currentState: ConnectionState = 'connecting';
  private cursor: string | null = null;
  private leading = false;
  private started = false;
  private engine: StreamEngine | null = null;
  /** While this tab follows: its cursor is the follower's. */
  private follower: TabFollower | null = null;
  private group: TabGroup | null = null;
  private reporter: ModeReporter | null = null;
  private hiddenAt: number | null = null;
  private readonly api: Api;
  private readonly key: string;
  private readonly handlers = new Map<string, Set<(e: EventEnvelope) => void>>();
  private readonly stateHandlers = new Set<(s: ConnectionState, reason: string) => void>();
  private readonly resetHandlers = new Set<() => void>();
  /** Types this tab listens to, and (while leading) the ones other tabs asked for. */
  private readonly types = new Set<string>();

  constructor(private readonly o: LiveClientOptions) {
    if (!o.userKey) throw new TypeError('createLiveClient: userKey is required');
    this.api = new Api(o.baseUrl ?? '', () => o.getToken());
    this.key = `live-client:${o.userKey}`;
  }

  get state(): ConnectionState {
    return this.currentState;
  }
  get lastEventId(): string | null {
    return this.follower ? this.follower.cursor : this.cursor;
  }
  get isLeader(): boolean {
    return this.leading;
  }

  start(after?: string): void {
    if (this.started) return;
    this.started = true;
    if (isEventId(after)) this.cursor = after;
    for (const [name, fn] of this.windowListeners) addEventListener(name, fn);
    document.addEventListener('visibilitychange', this.onVisibility);
    if (this.o.shareAcrossTabs !== false && canShareAcrossTabs()) {
      this.follower = new TabFollower(this.api, { event: (e) => this.emit(e), reset: () => this.emitReset() }, this.cursor);
      this.group = new TabGroup(
        this.key,
        () => this.lead(),
        (m) => this.onGroupMessage(m),
      );
      this.group.post({ k: 'hello', types: [...this.types] });
      this.group.join();
    } else {
      this.lead();
    }
  }

  stop(): void {
    if (!this.started) return;
    this.started = false;
    this.unfollow();
    for (const [name, fn] of this.windowListeners) removeEventListener(name, fn);
    document.removeEventListener('visibilitychange', this.onVisibility);
    this.engine?.stop();
    this.reporter?.stop();
    // Releases the lock: the next tab in line takes over.
    this.group?.leave();
    this.engine = null;
    this.reporter = null;
    this.group = null;
    this.leading = false;
  }

  on(type: string, fn: (e: EventEnvelope) => void): () => void {
    let set = this.handlers.get(type);
    if (!set) this.handlers.set(type, (set = new Set()));
    set.add(fn);
    if (type !== '*' && !this.types.has(type)) {
      this.types.add(type);
      if (this.engine) this.engine.addTypes([type]);
      else this.group?.post({ k: 'types', types: [type] });
    }
    return () => void set.delete(fn);
  }

  onState(fn: (state: ConnectionState, reason: string) => void): () => void {
    this.stateHandlers.add(fn);
    return () => void this.stateHandlers.delete(fn);
  }

  onReset(fn: () => void): () => void {
    this.resetHandlers.add(fn);
    return () => void this.resetHandlers.delete(fn);
  }

  checkNow(): void {
    this.check(false);
  }

  private lead(): void {
    if (!this.started) return;
    this.unfollow();
    this.leading = true;
    const stored = readStored(`${this.key}:lastEventId`);
    // Our own cursor first: an id the old leader stored but never handed us must be fetched again.
    const cursor = this.cursor ?? (isEventId(stored) ? stored : null);
    this.cursor = cursor;
    if (this.o.reportMode !== false) this.reporter = new ModeReporter(this.api, this.sessionId());
    const engine = new StreamEngine(
      {
        api: this.api,
        pollIntervalMs: this.o.pollIntervalMs,
        maxStreamFailures: this.o.maxStreamFailures ?? 5,
        waitSeconds: this.o.waitSeconds,
        backoff: { initialMs: this.o.backoff?.initialMs ?? 1_000, maxMs: this.o.backoff?.maxMs ?? 30_000 },
      },
      {
        event: (e) => {
          const prev = this.cursor;
          this.remember(e.id);
          this.group?.post({ k: 'event', prev, e });
          this.emit(e);
        },
        cursor: (id) => {
          const prev = this.cursor;
          this.remember(id);
          this.group?.post({ k: 'cursor', prev, lastEventId: id });
        },
        state: (s, reason) => {
          this.group?.post({ k: 'sync', state: s, reason, lastEventId: this.cursor });
          if (s === 'signed-out') this.reporter?.stop();
          else if (s !== 'connecting') this.reporter?.report(s, reason);
          this.setState(s, reason);
        },
        reset: (id) => {
          this.remember(id);
          this.group?.post({ k: 'reset', lastEventId: id });
          this.emitReset();
        },
      },
      cursor,
    );
    this.engine = engine;
    engine.addTypes(this.types);
    // The followers answer with their types.
    this.group?.post({ k: 'leader' });
    this.group?.post({ k: 'sync', state: engine.state, reason: 'new leader', lastEventId: cursor });
    this.setState(engine.state, this.group ? 'leading' : 'starting');
    engine.start();
  }

  private onGroupMessage(m: GroupMessage): void {
    if (!this.started) return;
    if (this.engine) {
      switch (m.k) {
        case 'hello':
        case 'types':
          for (const t of m.types) this.types.add(t);
          this.engine.addTypes(m.types);
          if (m.k === 'hello') {
            this.group?.post({ k: 'sync', state: this.engine.state, reason: 'hello', lastEventId: this.cursor });
          }
          return;
        case 'check':
          return this.engine.check(m.force);
        default:
          return; // another leader's messages: only during a handover, and ours win
      }
    }
    switch (m.k) {
      case 'leader':
        return this.group?.post({ k: 'hello', types: [...this.types] });
      case 'sync':
        this.follower?.take(m);
        return this.setState(m.state, m.reason);
      case 'event':
      case 'cursor':
      case 'reset':
        return this.follower?.take(m);
      default:
        return;
    }
  }

  /** Stops following (to lead, or to stop): the follower's cursor is this tab's from now on. */
  private unfollow(): void {
    if (!this.follower) return;
    this.follower.stop();
    this.cursor = this.follower.cursor;
    this.follower = null;
  }

  private remember(id: string): void {
    this.cursor = id;
    writeStored(`${this.key}:lastEventId`, id);
  }

  /**
   * One per browser and user, shared by the tabs, so a handover does not count as a new client.
   * Tabs that do not share each hold a stream, so each is a session of its own.
   */
  private sessionId(): string {
    if (!this.group) return randomId();
    const k = `${this.key}:session`;
    let id = readStored(k);
    if (!id || !/^[A-Za-z0-9_-]{8,64}$/.test(id)) {
      id = randomId();
      writeStored(k, id);
    }
    return id;
  }

  private check(force: boolean): void {
    if (this.engine) this.engine.check(force);
    else this.group?.post({ k: 'check', force });
  }

  private readonly onVisibility = (): void => {
    if (document.visibilityState === 'hidden') {
      this.hiddenAt = Date.now();
      return;
    }
    const away = this.hiddenAt === null ? 0 : Date.now() - this.hiddenAt;
    this.hiddenAt = null;
    this.check(away > HIDDEN_RECONNECT_MS);
  };

  private readonly windowListeners: Array<[string, (ev: Event) => void]> = [
    // Restored from the back/forward cache: every socket it had is gone.
    ['pageshow', (ev) => (ev as PageTransitionEvent).persisted && this.check(true)],
    ['online', () => this.engine?.goOnline()],
    ['offline', () => this.engine?.goOffline('browser offline')],
  ];

  private setState(s: ConnectionState, reason: string): void {
    if (this.currentState === s) return;
    this.currentState = s;
    for (const fn of [...this.stateHandlers]) guard(() => fn(s, reason));
  }

  private emit(e: EventEnvelope): void {
    for (const fn of [...(this.handlers.get(e.type) ?? []), ...(this.handlers.get('*') ?? [])]) guard(() => fn(e));
  }

  private emitReset(): void {
    for (const fn of [...this.resetHandlers]) guard(() => fn());
  }
}

/** A page's handler that throws must not stop the others, nor the client; it still shows in the console. */
function guard(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    queueMicrotask(() => {
      throw err;
    });
  }
}
