import { Client } from 'pg';
import type { Logger } from '../logger';

/** The PostgreSQL channel every instance LISTENs on; appends NOTIFY it (delivered only on commit). */
export const COMMIT_CHANNEL = 'rt_events_committed';

/** `application_name` of the LISTEN connection: one per server process, found by its pid. */
export const listenerApplicationName = (pid: number = process.pid): string => `rt-listener pid ${pid}`;

/**
 * Wakes this instance's relay when another instance commits events. It carries no events: the
 * relay reads them from the shared log by id, so a notification lost while this connection was
 * down costs nothing: on reconnect we wake the relay once, and it catches up from its cursor.
 *
 * This is the whole cross-instance bus. Replacing PostgreSQL NOTIFY with another engine (NATS,
 * Redis) means another class with the same two methods.
 */
export class CommitListener {
  private client: Client | null = null;
  private stopped = false;
  private retryMs = 100;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly databaseUrl: string,
    private readonly onWake: () => void,
    private readonly logger: Logger,
    /** Our own commits' NOTIFY payload: those already poked the relay, so they are skipped. */
    private readonly ownOrigin?: string,
  ) {}

  async start(): Promise<void> {
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.client?.end().catch(() => undefined);
  }

  /** For the status page and tests: the backend pid of the listening connection. */
  get backendPid(): number | undefined {
    return (this.client as unknown as { processID?: number } | null)?.processID;
  }

  private async connect(): Promise<void> {
    // Named so operators (and tests) can find each instance's listening backend in pg_stat_activity.
    const client = new Client({ connectionString: this.databaseUrl, keepAlive: true, application_name: listenerApplicationName() });
    client.on('notification', (msg) => {
      if (this.ownOrigin === undefined || msg.payload !== this.ownOrigin) this.onWake();
    });
    client.on('error', (err) => {
      this.logger.warn({ code: 'COMMIT_LISTENER_ERROR', err: err.message }, 'commit listener connection failed');
      this.reconnectSoon(client);
    });
    client.on('end', () => this.reconnectSoon(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${COMMIT_CHANNEL}`);
    } catch (err) {
      this.logger.warn({ code: 'COMMIT_LISTENER_ERROR', err: (err as Error).message }, 'could not LISTEN; retrying');
      this.reconnectSoon(client);
      return;
    }
    this.client = client;
    this.retryMs = 100;
    // Anything committed while we were not listening is in the log above the relay's cursor.
    this.onWake();
  }

  private reconnectSoon(client: Client): void {
    if (this.stopped || (this.client !== client && this.client !== null) || this.timer) return;
    this.client = null;
    client.end().catch(() => undefined);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.connect();
    }, this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, 5_000);
  }
}
