import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { AppError } from '../errors/app-error';
import { bearerToken } from '../http/authenticate';
import { parseInput } from '../http/validate';
import type { Principal } from '../auth/principal';
import { StreamSubscriber, type StreamContext } from './stream-subscriber';
import { resume } from './stream-resume';
import { retryFrame } from './sse-frames';
import { logBounds } from '../events/event-log';
import { TypesParam } from './type-filter';
import type { Config } from '../config';
import type { Logger } from '../logger';
import type { Database } from '../storage/db';
import type { Telemetry } from '../metrics/telemetry';
import type { OutboxRelay } from '../events/outbox-relay';
import type { TokenService } from '../auth/jwt';
import type { TicketStore } from '../auth/stream-tickets';
import type { Lifecycle } from '../http/lifecycle';
import type { ChannelRegistry } from './channel-registry';

export interface StreamOpenerDeps {
  config: Pick<Config, 'STREAM_QUEUE_CAP_BYTES' | 'STREAM_RETRY_MS' | 'STREAMS_PER_USER_MAX'>;
  logger: Logger;
  db: Pick<Database, 'knex'>;
  telemetry: Telemetry;
  relay: OutboxRelay;
  registry: ChannelRegistry;
  tokens: Pick<TokenService, 'verify'>;
  tickets: Pick<TicketStore, 'redeem'>;
  /** Keeps the users table in step with the claims of whoever opens a stream. */
  syncUser: (caller: Principal) => Promise<void>;
  lifecycle: Pick<Lifecycle, 'draining'>;
}

export const StreamQuery = z.object({
  ticket: z.string().max(200).optional(),
  // Validated as an id later: a malformed one is answered in-band with `reset`, not with a 400.
  lastEventId: z.string().max(100).optional(),
  // Only these types (`booking.*,payment.status_changed`); an unknown one is a 400 before the stream opens.
  types: TypesParam.optional(),
});

/**
 * Opens event streams on plain node:http requests, for both ways in (stream-endpoint.ts): made
 * once per server, with what every stream of it shares (see StreamContext).
 */
export class StreamOpener {
  private readonly context: StreamContext;

  constructor(private readonly deps: StreamOpenerDeps) {
    this.context = {
      queueCapBytes: deps.config.STREAM_QUEUE_CAP_BYTES,
      retryFrame: retryFrame(deps.config.STREAM_RETRY_MS),
      telemetry: deps.telemetry,
      logger: deps.logger,
      onClosed: (s) => deps.registry.leave(s),
    };
  }

  /**
   * Opens one stream: authenticate, take one of the user's stream slots, send the headers, resume
   * from Last-Event-ID. It throws (an AppError, or what the database threw) only before the
   * response has started; after that, failures end the stream in-band.
   */
  async open(req: IncomingMessage, res: ServerResponse, rawQuery: unknown): Promise<void> {
    const { deps } = this;
    const { config, logger, telemetry } = deps;
    const query = parseInput(StreamQuery, rawQuery);
    if (deps.lifecycle.draining) throw new AppError('SHUTTING_DOWN', 'Server is shutting down; reconnect');
    const { principal, via } = await this.authenticate(req, query.ticket);
    await deps.syncUser(principal);

    const header = req.headers['last-event-id'];
    // The header wins: the browser keeps it current across its own reconnects.
    const lastEventId = (typeof header === 'string' && header !== '' ? header : undefined) ?? query.lastEventId;

    // A resume needs the log: read its bounds while an error can still be a 503 rather than a
    // stream that opens and closes at once.
    const earlyBounds = lastEventId !== undefined ? await logBounds(deps.db.knex) : undefined;

    const subscriber = new StreamSubscriber(res, principal, this.context, query.types);
    if (!deps.registry.join(subscriber, config.STREAMS_PER_USER_MAX)) {
      throw new AppError('TOO_MANY_STREAMS', `At most ${config.STREAMS_PER_USER_MAX} open streams per user`);
    }
    if (!subscriber.start()) return;
    telemetry.streamsOpened.inc({ auth: via });
    try {
      // In the tick of the join: resume's snapshot depends on it (see stream-resume.ts).
      const outcome = await resume({ db: deps.db.knex, relay: deps.relay }, subscriber, lastEventId, earlyBounds);
      if (logger.isLevelEnabled('debug')) logger.debug({ userId: principal.userId, role: principal.role, outcome }, 'stream opened');
    } catch (err) {
      // Headers are sent; the only honest answer is to end the stream and let the client resume.
      logger.error({ code: 'STREAM_RESUME_FAILED', userId: principal.userId, role: principal.role, err }, 'could not resume a stream');
      subscriber.drop('shutdown');
    }
  }

  private async authenticate(req: IncomingMessage, ticket: string | undefined): Promise<{ principal: Principal; via: 'ticket' | 'bearer' }> {
    const token = bearerToken(req);
    if (token !== undefined) return { principal: this.deps.tokens.verify(token), via: 'bearer' };
    if (ticket !== undefined) return { principal: await this.deps.tickets.redeem(ticket), via: 'ticket' };
    throw new AppError('AUTH_REQUIRED', 'A Bearer token or a stream ticket is required');
  }
}
