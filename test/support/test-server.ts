import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { startServer, type RunningServer } from '../../src/runtime';
import type { Role } from '../../src/contract/vocabulary';
import type { NewEvent, EventRecord } from '../../src/events/event-types';
import { createTestDatabase, type TestDatabase } from './test-db';
import { TEST_JWT_SECRET } from './env';

export interface TestServer {
  url: string;
  running: RunningServer;
  db: TestDatabase;
  /** Every log line the server wrote, parsed. */
  logs: Array<Record<string, unknown>>;
  rawLogs: string[];
  token(sub: string, role: Role, ttlSeconds?: number): string;
  publish(...events: NewEvent[]): Promise<EventRecord[]>;
  /** The id through which everything committed so far has been dispatched to live sessions. */
  settledLastId(): Promise<string>;
  stop(): Promise<void>;
}

/** The real server (real app, real database, real socket on an ephemeral port). */
export async function startTestServer(env: Record<string, string> = {}, shared?: TestDatabase): Promise<TestServer> {
  const db = shared ?? (await createTestDatabase());
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: 'debug',
    HEARTBEAT_MS: '5000',
    STREAM_RETRY_MS: '50',
    // Suites hammer the API from one address; the limits have their own test.
    AUTH_FAILURE_LIMIT_PER_5MIN: '1000000',
    POLL_RATE_LIMIT_PER_MIN: '1000000',
    WRITE_RATE_LIMIT_PER_MIN: '0',
    MAX_PENDING_BOOKINGS_PER_PAIR: '10000',
    ...env,
  });
  const rawLogs: string[] = [];
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n').filter(Boolean)) {
        rawLogs.push(line);
        logs.push(JSON.parse(line));
      }
      cb();
    },
  });
  const logger = createLogger(config.LOG_LEVEL, sink);
  const running = await startServer(config, logger, db.database);
  let stopped = false;
  return {
    url: running.url,
    running,
    db,
    logs,
    rawLogs,
    token: (sub, role, ttlSeconds = 3600) => running.services.tokens.sign({ sub, role }, ttlSeconds),
    publish: (...events) => running.services.publisher.publish(events),
    settledLastId: async () => {
      await running.services.relay.settle();
      return running.services.relay.dispatchedId;
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await running.shutdown();
      await db.drop();
    },
  };
}
