import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import querystring from 'node:querystring';
import helmet from 'helmet';
import type { RequestHandler } from 'express';
import type { Config } from '../config';
import { corsPolicy } from '../http/cors';
import { requestId } from '../http/request-logging';
import { earlyFailure, type EarlyFailureDeps } from '../http/early-failure';
import type { StreamOpener } from './stream-open';

export const STREAM_PATH = '/api/events/stream';

export interface StreamEndpointDeps extends EarlyFailureDeps {
  streams: StreamOpener;
  config: Pick<Config, 'CORS_ORIGINS'>;
}

/**
 * Serves `GET /api/events/stream` before Express. A stream lives for hours, and everything the
 * middleware chain attaches to a request stays alive with it: Express's routing state, pino-http's
 * per-request child logger and helmet's headers, together more than the stream itself holds
 * (docs/performance.md, "Why the code is shaped so"). None of it serves an open stream.
 *
 * A request that fails before its stream opens is answered here, by the same function that
 * answers Express's errors, with the headers, line and metric Express would give it. Every other
 * request goes to Express untouched.
 */
export function withStreamEndpoint(deps: StreamEndpointDeps, app: RequestListener): RequestListener {
  const cors = corsPolicy(deps.config);
  const securityHeaders = helmet();
  const { streams } = deps;
  const failed = earlyFailure(deps, STREAM_PATH, (req, res) => {
    req.id = requestId(req, res);
    securityHeaders(req, res, () => undefined);
  });
  return (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    if (req.method !== 'GET' || (q === -1 ? url : url.slice(0, q)) !== STREAM_PATH) return app(req, res);
    const startedAt = performance.now();
    cors(req, res, () => {
      streams.open(req, res, querystring.parse(q === -1 ? '' : url.slice(q + 1))).catch((err: unknown) => failed(req, res, err, startedAt));
    });
  };
}

/**
 * The same streams inside Express, for what the endpoint passes on (a path variant such as a
 * trailing slash). Express's middleware and error handler do the rest.
 */
export function streamRoute(streams: StreamOpener): RequestHandler {
  return (req, res, next) => {
    streams.open(req, res, req.query).catch(next);
  };
}
