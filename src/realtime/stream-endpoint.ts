import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import querystring from 'node:querystring';
import { corsPolicy } from '../http/cors';
import { handOverTo } from '../http/handed-over';
import { openStream } from './stream-open';
import type { AppDeps } from '../app-deps';

export const STREAM_PATH = '/api/events/stream';

/**
 * Serves `GET /api/events/stream` before Express. A stream lives for hours, and everything the
 * middleware chain attaches to a request stays alive with it: Express's routing state, pino-http's
 * per-request child logger and helmet's headers, together more than the stream itself holds
 * (docs/performance.md, "Why the code is shaped so"). None of it serves an open stream.
 *
 * A request that fails before its stream opens is handed to the Express app with its error, so
 * that errors are still logged, counted (the failed-authentication limit) and answered in one
 * place. Every other request goes to Express untouched.
 */
export function withStreamEndpoint(deps: AppDeps, app: RequestListener): RequestListener {
  const cors = corsPolicy(deps.config);
  return (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    if (req.method !== 'GET' || (q === -1 ? url : url.slice(0, q)) !== STREAM_PATH) return app(req, res);
    cors(req, res, () => {
      openStream(deps, req, res, querystring.parse(q === -1 ? '' : url.slice(q + 1))).catch(handOverTo(app, req, res));
    });
  };
}
