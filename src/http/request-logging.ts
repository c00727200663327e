import type { RequestHandler } from 'express';
import { pinoHttp } from 'pino-http';
import crypto from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { redactUrl, type Logger } from '../logger';
import type { Histogram } from 'prom-client';

/** The request's id: the caller's X-Request-Id when it is a sane one, else a new one; echoed back. */
export function requestId(req: IncomingMessage, res: ServerResponse): string {
  const incoming = req.headers['x-request-id'];
  const id = typeof incoming === 'string' && /^[\w-]{1,64}$/.test(incoming) ? incoming : crypto.randomUUID();
  res.setHeader('X-Request-Id', id);
  return id;
}

// What identifies a request, not all its headers: pino serializes the request when each one
// starts (for req.log), and pino-http's defaults copy every header in and, for the line, every
// header out, which at info level doubles the logger's cost per request on the poll path that
// runs thousands of times a second. Credentials never get this far: headers are left out and
// the URL is scrubbed.
const serializers = {
  req: (req: IncomingMessage & { id?: unknown }) => ({
    id: req.id,
    method: req.method,
    url: redactUrl(req.url),
    remoteAddress: req.socket?.remoteAddress,
    userAgent: req.headers['user-agent'],
  }),
  res: (res: ServerResponse) => ({ statusCode: res.statusCode }),
};

/** Asked again and again by pages and probes: their answered requests are logged at debug. */
const QUIET_PATHS = new Set(['/api/status', '/healthz', '/readyz']);
const pathOf = (url: string | undefined) => (url ?? '').split('?')[0];

/** One structured line per request; the URL is scrubbed because redact paths cannot reach into it. */
export function requestLogger(logger: Logger): RequestHandler {
  return pinoHttp({
    logger,
    genReqId: requestId,
    wrapSerializers: false,
    serializers,
    customLogLevel: (req, res, err) => {
      // Refusing work while draining is expected on every deploy, not an error.
      if ((res as { locals?: { errorCode?: string } }).locals?.errorCode === 'SHUTTING_DOWN') return 'warn';
      if (err || res.statusCode >= 500) return 'error';
      if (res.statusCode >= 400) return 'warn';
      // A page or a probe asking every few seconds would bury everything else; the request
      // metrics (http_request_duration_seconds by route) count them instead.
      return QUIET_PATHS.has(pathOf(req.url)) ? 'debug' : 'info';
    },
    // Every error line carries its stable code (set by the error handler). pino-http asks at the
    // start of every request too, and makes one more child logger for any object, even {}: none
    // (undefined, which it checks for though its types do not say so) saves that child logger.
    customProps: (_req, res) => {
      const code = (res as { locals?: { errorCode?: string } }).locals?.errorCode;
      return (code ? { code } : undefined) as { code: string };
    },
    autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/metrics' },
  });
}

/** Request durations by matched route (never the raw URL: ids would explode the label set). */
export function requestMetrics(httpDuration: Histogram<'method' | 'route' | 'status'>): RequestHandler {
  return (req, res, next) => {
    const end = httpDuration.startTimer();
    res.once('close', () => {
      // Express types the matched route as any; its path is the pattern it was declared with.
      const routePath = (req.route as { path?: string | RegExp } | undefined)?.path;
      const route = routePath ? `${req.baseUrl}${String(routePath)}` : 'unmatched';
      end({ method: req.method, route, status: String(res.statusCode) });
    });
    next();
  };
}

/**
 * The line pino-http writes for a request, for an endpoint served before Express (poll-endpoint.ts,
 * stream-endpoint.ts), in the same shape and at the same level. pino-http is not used there because it builds a child
 * logger per request, serializing the request, even when its line is below the level.
 */
export function logServed(logger: Logger, req: IncomingMessage & { id?: unknown }, res: ServerResponse, startedAt: number): void {
  if (!logger.isLevelEnabled('info')) return;
  logger.info({ req: serializers.req(req), res: serializers.res(res), responseTime: Date.now() - startedAt }, 'request completed');
}

/** logServed's line for a request answered with an error: its code, at pino-http's level for it. */
export function logFailed(logger: Logger, req: IncomingMessage & { id?: unknown }, res: ServerResponse, startedAt: number, code: string): void {
  const level = code === 'SHUTTING_DOWN' || res.statusCode < 500 ? 'warn' : 'error';
  const line = { req: serializers.req(req), res: serializers.res(res), responseTime: Date.now() - startedAt, code };
  logger[level](line, res.statusCode >= 500 ? 'request errored' : 'request completed');
}
