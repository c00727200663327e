/**
 * What mode the browser clients say they are in, for GET /api/status: how many hold a live stream,
 * how many fell back to polling, how many came back from being offline.
 *
 * Per instance and in memory: a report lands on whichever instance answered it, so with several
 * instances each counts the clients that report to it. Clients report every change and re-report
 * their current mode every CLIENT_MODE_REPORT_EVERY_MS (src/client/mode-reporter.ts), so a session
 * not heard from for `ttlMs` (three missed re-reports) is gone: a closed tab, a lost phone.
 * Sessions are keyed by user and session id, so one user cannot overwrite another's, and the caps
 * bound memory whatever the clients send.
 */

export const CLIENT_MODES = ['live', 'polling', 'offline'] as const;
export type ClientMode = (typeof CLIENT_MODES)[number];
export type ClientModeCounts = Record<ClientMode, number>;

/** Kept in step with src/client/mode-reporter.ts, which cannot import from here. */
export const CLIENT_MODE_REPORT_EVERY_MS = 60_000;

export interface ClientModeTrackerOptions {
  ttlMs?: number;
  maxSessions?: number;
  maxSessionsPerUser?: number;
  now?: () => number;
}

interface Entry {
  userId: string;
  mode: ClientMode;
  seenAt: number;
}

export class ClientModeTracker {
  private readonly ttlMs: number;
  private readonly maxSessions: number;
  private readonly maxPerUser: number;
  private readonly now: () => number;
  /** Insertion order is report order (a report re-inserts), so the oldest are always first. */
  private readonly sessions = new Map<string, Entry>();
  private readonly perUser = new Map<string, number>();

  constructor(o: ClientModeTrackerOptions = {}) {
    this.ttlMs = o.ttlMs ?? 3 * CLIENT_MODE_REPORT_EVERY_MS;
    this.maxSessions = o.maxSessions ?? 100_000;
    this.maxPerUser = o.maxSessionsPerUser ?? 20;
    this.now = o.now ?? Date.now;
  }

  /** Returns the mode the session was in before, if it was known. */
  report(userId: string, sessionId: string, mode: ClientMode): ClientMode | undefined {
    this.expire();
    const key = `${userId}\u0000${sessionId}`;
    const previous = this.sessions.get(key);
    if (previous) {
      this.sessions.delete(key);
    } else {
      if ((this.perUser.get(userId) ?? 0) >= this.maxPerUser) this.evictOldestOf(userId);
      if (this.sessions.size >= this.maxSessions) this.evict(this.sessions.keys().next().value!);
      this.perUser.set(userId, (this.perUser.get(userId) ?? 0) + 1);
    }
    this.sessions.set(key, { userId, mode, seenAt: this.now() });
    return previous?.mode;
  }

  counts(): ClientModeCounts {
    this.expire();
    const counts: ClientModeCounts = { live: 0, polling: 0, offline: 0 };
    for (const e of this.sessions.values()) counts[e.mode]++;
    return counts;
  }

  private expire(): void {
    const cutoff = this.now() - this.ttlMs;
    for (const [key, e] of this.sessions) {
      if (e.seenAt > cutoff) break;
      this.evict(key);
    }
  }

  private evictOldestOf(userId: string): void {
    for (const [key, e] of this.sessions) {
      if (e.userId === userId) return this.evict(key);
    }
  }

  private evict(key: string): void {
    const e = this.sessions.get(key);
    if (!e) return;
    this.sessions.delete(key);
    const left = (this.perUser.get(e.userId) ?? 1) - 1;
    if (left > 0) this.perUser.set(e.userId, left);
    else this.perUser.delete(e.userId);
  }
}
