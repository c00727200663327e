import { EventSource } from 'eventsource';
import { LISTENED_TYPES } from '../../support/sse-client';

/** Every event type the server publishes; EventSource only reports the named events it listens for. */
const TYPES = [...new Set([...LISTENED_TYPES, 'payment.dispute_opened', 'payment.dispute_resolved'])];

export interface Delivery {
  type: string;
  id: string;
}

/**
 * A client that always comes back: on every (re)connect it sends `Last-Event-ID` with the last
 * id it received (or the log position it started from), and when the server refuses it outright
 * (a 503 while the database or the process is down) it opens a new EventSource after a pause.
 * Everything it receives is kept, duplicates included, so the test can tell.
 */
export class ResumingClient {
  readonly received: Delivery[] = [];
  readonly resets: Delivery[] = [];
  /** Successful opens (the first one included). */
  opens = 0;
  /** Connection failures seen (network errors and refusals). */
  failures = 0;
  private es: EventSource | undefined;
  private closed = false;
  private reopenTimer: NodeJS.Timeout | undefined;
  private waiters: Array<() => void> = [];

  constructor(
    private readonly baseUrl: () => string,
    readonly sub: string,
    readonly role: string,
    private readonly token: string,
    /** The log position to resume from: the client has everything up to here. */
    private lastId: string,
    private readonly reopenMs = 200,
    /** A test's deliberate mistake, to check the test can fail: never resume. */
    private readonly sendLastEventId = true,
  ) {
    this.open();
  }

  get lastEventId(): string {
    return this.lastId;
  }

  get isOpen(): boolean {
    return this.es?.readyState === EventSource.OPEN;
  }

  /** The client vanishes without a goodbye and comes back `afterMs` later. */
  drop(afterMs = this.reopenMs): void {
    if (this.closed) return;
    this.es?.close();
    this.scheduleReopen(afterMs);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.reopenTimer);
    this.es?.close();
    this.notify();
  }

  /** Resolves true once the client has received an id at or above `id`; false after `timeoutMs`. */
  async waitForId(id: string, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (BigInt(this.lastId) < BigInt(id)) {
      if (Date.now() > deadline || this.closed) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 200);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return true;
  }

  private open(): void {
    if (this.closed) return;
    const es = new EventSource(new URL('/api/events/stream', this.baseUrl()), {
      fetch: (input, init) => {
        const headers: Record<string, string> = { ...(init?.headers as Record<string, string>), Authorization: `Bearer ${this.token}` };
        delete headers['Last-Event-ID'];
        if (this.sendLastEventId) headers['Last-Event-ID'] = this.lastId;
        return fetch(input, { ...init, headers });
      },
    });
    this.es = es;
    es.addEventListener('open', () => this.opens++);
    es.addEventListener('error', () => {
      this.failures++;
      // CLOSED: refused for good (a non-200); EventSource reconnects by itself otherwise.
      if (es.readyState === EventSource.CLOSED && this.es === es) this.scheduleReopen(this.reopenMs);
    });
    for (const type of TYPES) {
      es.addEventListener(type, (e: MessageEvent) => {
        if (this.es !== es) return;
        const d = { type, id: e.lastEventId };
        if (type === 'reset') this.resets.push(d);
        else this.received.push(d);
        this.lastId = e.lastEventId;
        this.notify();
      });
    }
  }

  private scheduleReopen(ms: number): void {
    clearTimeout(this.reopenTimer);
    this.reopenTimer = setTimeout(() => this.open(), ms);
  }

  private notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}
