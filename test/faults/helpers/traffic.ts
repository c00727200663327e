import { api, pick, type Reply } from './http';
import { inAnHour } from '../../support/booking-time';
import { sleep } from '../../support/sleep';
import type { Actor } from '../../support/actors';

export interface Outcome {
  kind: string;
  status: number;
  /** For broadcasts answered 202: the event the server says it committed. */
  eventId?: string;
  /** For broadcasts: the unique title, to find it in the log whatever the answer was. */
  title?: string;
  /** For broadcasts: the same request again, with the same Idempotency-Key (a client's retry). */
  retry?: () => Promise<Reply>;
}

export interface Traffic {
  outcomes: Outcome[];
  /** Stops issuing requests and waits for those in flight. */
  stop(): Promise<void>;
}

/**
 * Publishers through the real routes, until stopped: admin broadcasts to chosen users, a role or
 * everyone, and booking flows between clients and providers. Requests that fail (the server or
 * the database is gone) are recorded and retried later, never thrown.
 */
export function startTraffic(o: {
  url: () => string;
  admin: Actor;
  clients: Actor[];
  providers: Actor[];
  /** Users no stream belongs to: events to them must reach nobody here. */
  strangers?: string[];
  broadcasters?: number;
  bookers?: number;
  pauseMs?: number;
}): Traffic {
  const outcomes: Outcome[] = [];
  let running = true;
  let n = 0;
  const everyone = [...o.clients, ...o.providers, o.admin].map((a) => a.sub).concat(o.strangers ?? []);
  const record = (kind: string, r: Reply, extra: Partial<Outcome> = {}) => {
    outcomes.push({ kind, status: r.status, ...extra });
    return r;
  };
  const backoff = (r: Reply) => sleep(r.status === 0 || r.status >= 500 ? 100 : (o.pauseMs ?? 20));

  const broadcaster = async () => {
    while (running) {
      const title = `b${++n}-${Date.now()}`;
      const roll = Math.random();
      const target =
        roll < 0.6
          ? { userIds: [...new Set([pick(everyone), pick(everyone)])] }
          : roll < 0.9
            ? { role: pick(['client', 'provider', 'admin'] as const) }
            : { all: true };
      const send = () => api(o.url(), o.admin.token, 'POST', '/api/broadcasts', { title, body: 'fault suite', ...target }, { 'Idempotency-Key': title });
      const r = await send();
      record('broadcast', r, { title, eventId: r.status === 202 ? r.body.eventId : undefined, retry: send });
      await backoff(r);
    }
  };

  const booker = async () => {
    while (running) {
      const client = pick(o.clients);
      const provider = pick(o.providers);
      const created = record(
        'booking.create',
        await api(o.url(), client.token, 'POST', '/api/bookings', { providerId: provider.sub, service: 'plumbing', scheduledFor: inAnHour(), amount: 25_000 }),
      );
      if (created.status !== 201) {
        await backoff(created);
        continue;
      }
      const id = created.body.id as string;
      const move = Math.random();
      const r =
        move < 0.5
          ? await api(o.url(), provider.token, 'POST', `/api/bookings/${id}/accept`)
          : move < 0.75
            ? await api(o.url(), provider.token, 'POST', `/api/bookings/${id}/reject`, { reason: 'busy' })
            : await api(o.url(), client.token, 'POST', `/api/bookings/${id}/cancel`);
      record('booking.move', r);
      if (move < 0.5 && r.status === 200 && Math.random() < 0.5)
        record('booking.cancel', await api(o.url(), client.token, 'POST', `/api/bookings/${id}/cancel`));
      await backoff(r);
    }
  };

  const loops = [...Array.from({ length: o.broadcasters ?? 2 }, broadcaster), ...Array.from({ length: o.bookers ?? 2 }, booker)];
  return {
    outcomes,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** Every user's first request creates its row (providers must exist before they can be booked). */
export async function signIn(url: string, actors: Actor[]): Promise<void> {
  for (const a of actors) {
    const r = await api(url, a.token, 'GET', '/api/me');
    if (r.status !== 200) throw new Error(`GET /api/me for ${a.sub}: ${r.status} ${JSON.stringify(r.body)}`);
  }
}
