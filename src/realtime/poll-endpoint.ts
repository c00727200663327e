import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import querystring from 'node:querystring';
import helmet from 'helmet';
import type { RequestHandler } from 'express';
import type { Config } from '../config';
import { corsPolicy } from '../http/cors';
import { carriesBody } from '../http/require-json';
import { logServed, requestId } from '../http/request-logging';
import { earlyFailure, type EarlyFailureDeps } from '../http/early-failure';
import { POLL_PATH, type Poller, type PollSink } from './poll';

export interface PollEndpointDeps extends EarlyFailureDeps {
  poller: Poller;
  config: Pick<Config, 'CORS_ORIGINS'>;
}

/**
 * Answers `GET /api/events` before Express. Polling is most of a server's requests (every phone,
 * every few seconds), and Express's router and middleware chain, the body parser and pino-http's
 * per-request child logger serve none of it: answered here, a poll costs about half the CPU
 * (docs/performance.md, "Why the code is shaped so"). It gives what a poll's answer carries in
 * Express: helmet's headers, CORS, the request id, the request's line and its duration metric.
 *
 * Those headers are set when the answer is sent, not when the request comes: a long poll is held
 * for up to POLL_MAX_WAIT_S with nothing to send, and a response's header table is heap to keep
 * for it. Everything an answer needs is in the request, the response and the start
 * time, so one sink serves every poll, and a held poll keeps no closure of this endpoint's.
 *
 * A poll that fails is answered here too, by the same function that answers Express's errors.
 * Every other request, and a poll that carries a body (Express checks it), goes to `next`
 * untouched.
 */
export function withPollEndpoint(deps: PollEndpointDeps, next: RequestListener): RequestListener {
  const cors = corsPolicy(deps.config);
  const securityHeaders = helmet();
  const { poller, telemetry, logger } = deps;
  const decorate = (req: IncomingMessage, res: ServerResponse) => {
    req.id = requestId(req, res);
    inline(securityHeaders, req, res);
    inline(cors, req, res);
  };
  const sink: PollSink = {
    decorate,
    finished(req, res, startedAt) {
      // A long poll whose client left while it was held was never answered: nothing to count.
      if (!res.writableEnded) return;
      const ms = performance.now() - startedAt;
      telemetry.httpDuration.observe({ method: 'GET', route: POLL_PATH, status: '200' }, ms / 1_000);
      logServed(logger, req, res, Date.now() - ms);
    },
    failed: earlyFailure(deps, POLL_PATH, decorate),
  };
  return (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    if (req.method !== 'GET' || (q === -1 ? url : url.slice(0, q)) !== POLL_PATH || carriesBody(req)) return next(req, res);
    void poller.serve(req, res, querystring.parse(q === -1 ? '' : url.slice(q + 1)), sink, performance.now());
  };
}

/**
 * The same polls inside Express, for what the endpoint passes on (a body, which Express's
 * middleware has checked; a path variant such as a trailing slash). Express's middleware sets
 * the answer's headers, logs it and counts it, and its error handler answers a failure.
 */
export function pollRoute(poller: Poller): RequestHandler {
  return (req, res, next) => {
    const sink: PollSink = { decorate: () => undefined, finished: () => undefined, failed: (_q, _s, err) => next(err) };
    void poller.serve(req, res, req.query, sink, performance.now());
  };
}

type Middleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/**
 * Runs a middleware that only sets headers and goes on at once (helmet; cors with fixed origins,
 * on a GET). Headers are set just before the answer is sent, so one that went on later, or
 * failed, would be a bug here: it throws, and the poll fails instead of answering without them.
 */
function inline(middleware: Middleware, req: IncomingMessage, res: ServerResponse): void {
  let went: { err: unknown } | undefined;
  middleware(req, res, (err?: unknown) => (went = { err }));
  if (!went) throw new Error('a header middleware did not go on at once');
  // eslint-disable-next-line @typescript-eslint/only-throw-error -- the middleware's own error, passed on as it came
  if (went.err !== undefined) throw went.err;
}
