import type { PollResponse } from './types.js';

export type { PollResponse };

/** An answer other than 2xx; `code` is the server's stable error code when it sent one. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
  ) {
    super(`HTTP ${status}${code ? ` ${code}` : ''}`);
    this.name = 'HttpError';
  }
}

/**
 * The three calls the client makes with the user's Bearer token. The token is asked for once and
 * kept; a 401 (AUTH_EXPIRED above all) asks getToken() again and retries once, since a page's token
 * may have been refreshed behind our back. So does a 429 while the token is the one first asked for:
 * past the address's failed-auth limit, a stale token's 401 comes back as 429, and waiting would not
 * cure it. A token that was already refreshed takes a 429 as the rate limit it is, and backs off.
 */
export class Api {
  private token: string | null = null;
  /** Whether `token` came from asking again after a refusal. */
  private refreshed = false;

  constructor(
    private readonly baseUrl: string,
    private readonly getToken: () => string | Promise<string>,
  ) {}

  /** After auth_expired: the next call asks getToken() again. */
  forgetToken(): void {
    this.token = null;
    this.refreshed = true;
  }

  async ticket(): Promise<string> {
    const body = (await this.call('POST', '/api/events/tickets')) as { ticket: string };
    return body.ticket;
  }

  async poll(after: string | null): Promise<PollResponse> {
    const query = after === null ? '' : `?after=${encodeURIComponent(after)}`;
    return (await this.call('GET', `/api/events${query}`)) as PollResponse;
  }

  /** A long poll (`wait` seconds, 0 for none), optionally for some types only; `signal` abandons it. */
  async longPoll(after: string, o: { wait: number; types?: readonly string[]; signal?: AbortSignal }): Promise<PollResponse> {
    const q = new URLSearchParams({ after, wait: String(o.wait) });
    if (o.types?.length) q.set('types', o.types.join(','));
    return (await this.call('GET', `/api/events?${q}`, undefined, o.signal)) as PollResponse;
  }

  /** GET /api/sync: the caller's state and the cursor it is consistent with. */
  async sync<T extends { cursor: string }>(signal?: AbortSignal): Promise<T> {
    return (await this.call('GET', '/api/sync', undefined, signal)) as T;
  }

  async reportMode(report: { sessionId: string; mode: string; reason: string }): Promise<void> {
    await this.call('POST', '/api/events/client-mode', report);
  }

  streamUrl(ticket: string, lastEventId: string | null): string {
    const q = new URLSearchParams({ ticket });
    if (lastEventId !== null) q.set('lastEventId', lastEventId);
    return `${this.baseUrl}/api/events/stream?${q}`;
  }

  private async call(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      this.token ??= await this.getToken();
      const res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          Authorization: `Bearer ${this.token}`,
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
        signal,
      });
      if (attempt === 0 && (res.status === 401 || (res.status === 429 && !this.refreshed))) {
        this.token = null;
        this.refreshed = true;
        continue;
      }
      if (!res.ok) {
        const err = (await res.json().catch(() => null)) as { error?: { code?: string } } | null;
        throw new HttpError(res.status, err?.error?.code);
      }
      return res.status === 204 ? undefined : res.json();
    }
  }
}
