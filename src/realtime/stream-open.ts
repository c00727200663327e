import type { IncomingMessage, ServerResponse } from 'node:http';
import { createSession } from 'better-sse';
import { z } from 'zod';
import { AppError } from '../http/app-error';
import { bearerToken } from '../http/authenticate';
import { parseInput } from '../http/validate';
import type { Principal } from '../auth/principal';
import { preSerialized, StreamSubscriber } from './stream-subscriber';
import { LeanNodeConnection } from './lean-connection';
import { openAndResume } from './stream-resume';
import { logBounds } from '../events/event-log';
import type { AppDeps } from '../app-deps';

const STREAM_HEADERS = { 'X-Accel-Buffering': 'no' };

const StreamQuery = z.object({
  ticket: z.string().max(200).optional(),
  // Validated as an id later: a malformed one is answered in-band with `reset`, not with a 400.
  lastEventId: z.string().max(100).optional(),
});

/**
 * Opens one event stream on a plain node:http request: authenticate, reserve a slot, hand the
 * response to better-sse, resume from Last-Event-ID. It throws (an AppError, or what the database
 * threw) only before the response has started; after that, failures end the stream in-band.
 */
export async function openStream(deps: AppDeps, req: IncomingMessage, res: ServerResponse, rawQuery: unknown): Promise<void> {
  const { config, logger, telemetry } = deps;
  const query = parseInput(StreamQuery, rawQuery);
  if (deps.lifecycle.draining) throw new AppError('SHUTTING_DOWN', 'Server is shutting down; reconnect');
  const { principal, via } = await authenticateStream(deps, req, query.ticket);
  await deps.syncUser(principal);

  const header = req.headers['last-event-id'];
  // The header wins: the browser keeps it current across its own reconnects.
  const lastEventId = (typeof header === 'string' && header !== '' ? header : undefined) ?? query.lastEventId;

  // A resume needs the log: read its bounds while an error can still be a 503 rather than a
  // stream that opens and closes at once.
  const earlyBounds = lastEventId !== undefined ? await logBounds(deps.db.knex) : undefined;

  const release = deps.registry.reserveStream(principal.userId, config.STREAMS_PER_USER_MAX);
  if (!release) {
    throw new AppError('TOO_MANY_STREAMS', `At most ${config.STREAMS_PER_USER_MAX} open streams per user`);
  }
  res.once('close', release);
  // better-sse's default headers already say no-cache/no-transform and X-Accel-Buffering: no.
  const session = await createSession(new LeanNodeConnection(req, res, STREAM_HEADERS), {
    keepAlive: config.HEARTBEAT_MS,
    retry: config.STREAM_RETRY_MS,
    trustClientEventId: false,
    serializer: preSerialized,
  });
  if (!session.isConnected) return;
  telemetry.streamsOpened.inc({ auth: via });
  const log = () => logger.child({ userId: principal.userId, role: principal.role });

  const subscriber = new StreamSubscriber(session, res, principal, config.STREAM_QUEUE_CAP_BYTES, telemetry, (s, reason) => {
    if (reason === 'slow_consumer') {
      telemetry.slowConsumersDropped.inc();
      log().warn({ code: 'SLOW_CONSUMER_DROPPED', queuedBytes: s.queuedBytes }, 'stream dropped: client is not reading');
    }
  });

  // Expiry of the token (or the token behind the ticket) ends the stream: a revoked user stops receiving.
  const stopExpiry = atTime(principal.expiresAt, () => {
    subscriber.control('auth_expired', { reason: 'token expired' });
    subscriber.drop('auth_expired');
  });
  session.once('disconnected', stopExpiry);

  try {
    const outcome = await openAndResume(
      { db: deps.db.knex, registry: deps.registry, relay: deps.relay },
      subscriber,
      lastEventId,
      earlyBounds,
    );
    if (logger.isLevelEnabled('debug')) log().debug({ outcome }, 'stream opened');
  } catch (err) {
    // Headers are sent; the only honest answer is to end the stream and let the client resume.
    log().error({ code: 'STREAM_RESUME_FAILED', err }, 'could not resume a stream');
    subscriber.drop('shutdown');
  }
}

async function authenticateStream(
  deps: AppDeps,
  req: IncomingMessage,
  ticket: string | undefined,
): Promise<{ principal: Principal; via: 'ticket' | 'bearer' }> {
  const token = bearerToken(req);
  if (token !== undefined) return { principal: deps.tokens.verify(token), via: 'bearer' };
  if (ticket !== undefined) return { principal: await deps.tickets.redeem(ticket), via: 'ticket' };
  throw new AppError('AUTH_REQUIRED', 'A Bearer token or a stream ticket is required');
}

/** setTimeout for an absolute time, re-armed past setTimeout's ~24.8-day ceiling. */
function atTime(when: Date, fn: () => void): () => void {
  let timer: NodeJS.Timeout;
  const arm = () => {
    const left = when.getTime() - Date.now();
    timer = left > MAX_TIMEOUT_MS ? setTimeout(arm, MAX_TIMEOUT_MS) : setTimeout(fn, Math.max(left, 0));
  };
  arm();
  return () => clearTimeout(timer);
}

const MAX_TIMEOUT_MS = 2 ** 31 - 1;
