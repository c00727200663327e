import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import querystring from 'node:querystring';
import helmet from 'helmet';
import { corsPolicy } from '../http/cors';
import { handOverTo } from '../http/handed-over';
import { carriesBody } from '../http/require-json';
import { logServed, requestId } from '../http/request-logging';
import type { AppDeps } from '../app-deps';
import { POLL_PATH, pollerOf } from './poll';

/**
 * Answers `GET /api/events` before Express. Polling is most of a server's requests (every phone,
 * every few seconds), and Express's router and middleware chain, the body parser and pino-http's
 * per-request child logger serve none of it: answered here, a poll at 2,000/s costs 176-226 us
 * of CPU instead of 425-453 (docs/scaling.md §2). It keeps what a poll's answer carries in
 * Express: helmet's headers, CORS, the request id, the request's line and its duration metric.
 *
 * A poll that fails is handed to the Express app with its error (see handed-over.ts), so that
 * errors are logged, counted and answered in one place. Every other request, and a poll that
 * carries a body (Express refuses or parses it), goes to `next` untouched.
 */
export function withPollEndpoint(deps: AppDeps, next: RequestListener): RequestListener {
  const cors = corsPolicy(deps.config);
  const securityHeaders = helmet();
  const poller = pollerOf(deps);
  const { telemetry, logger } = deps;
  return (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    if (req.method !== 'GET' || (q === -1 ? url : url.slice(0, q)) !== POLL_PATH || carriesBody(req)) return next(req, res);
    const startedAt = Date.now();
    const timer = telemetry.httpDuration.startTimer();
    req.id = requestId(req, res);
    const failed = handOverTo(next, req, res);
    securityHeaders(req, res, (err?: unknown) => {
      if (err) return failed(err);
      cors(req, res, () => {
        poller.serve(req, res, querystring.parse(q === -1 ? '' : url.slice(q + 1))).then(() => {
          // A long poll whose client left while it was held was never answered: nothing to count.
          if (!res.writableEnded) return;
          timer({ method: 'GET', route: POLL_PATH, status: '200' });
          logServed(logger, req, res, startedAt);
        }, failed);
      });
    });
  };
}
