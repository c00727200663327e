import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from '../logger';
import type { GuessLimit } from './rate-limits';
import { AppError, type ErrorCode } from '../errors/app-error';
import { isDatabaseUnavailable } from '../storage/db-errors';

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: unknown };
}

export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const e = err as { type?: string; status?: number; expose?: boolean } | undefined;
  // body-parser's errors carry a `type`; map them to our codes instead of leaking its messages.
  switch (e?.type) {
    case 'entity.parse.failed':
      return new AppError('INVALID_JSON', 'Request body is not valid JSON');
    case 'entity.too.large':
      return new AppError('PAYLOAD_TOO_LARGE', 'Request body is too large');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new AppError('UNSUPPORTED_MEDIA_TYPE', 'Unsupported body encoding');
  }
  // The router marks a path segment that is not valid percent-encoding (`/api/bookings/%ZZ`) as a
  // 400: like any id that is not ours, it names nothing.
  if (err instanceof URIError && e?.status === 400) return new AppError('NOT_FOUND', 'No such resource');
  // The rest of what the body parser refuses is the client's doing too: a body that does not
  // inflate (bad gzip/deflate/br: the zlib error itself made a 400, no `type`), one shorter than
  // its Content-Length, an aborted upload. Only http-errors' client errors (`expose`) qualify, so
  // a bug that happens to carry a `status` is still a 500.
  if (e?.expose === true && typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    if (e.status === 413) return new AppError('PAYLOAD_TOO_LARGE', 'Request body is too large');
    if (e.status === 415) return new AppError('UNSUPPORTED_MEDIA_TYPE', 'Unsupported body encoding');
    return new AppError('INVALID_JSON', 'Request body could not be read as JSON');
  }
  if (isDatabaseUnavailable(err)) {
    return new AppError('DATABASE_UNAVAILABLE', 'The database is unavailable; try again shortly', undefined, {
      cause: err,
    });
  }
  return new AppError('INTERNAL', 'Internal server error', undefined, { cause: err });
}

function errorBody(err: AppError): ErrorBody {
  const body: ErrorBody = { error: { code: err.code, message: err.message } };
  if (err.details !== undefined) body.error.details = err.details;
  return body;
}

/** An error that knows when trying again makes sense says so the standard way too. */
function setRetryAfter(res: ServerResponse, err: AppError): void {
  const retryAfterMs = (err.details as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
  if (typeof retryAfterMs === 'number' && retryAfterMs >= 0) res.setHeader('Retry-After', String(Math.ceil(retryAfterMs / 1000)));
}

/** The error envelope, with the headers Express's res.json would send, on node:http's response. */
export function sendError(res: ServerResponse, err: AppError): void {
  setRetryAfter(res, err);
  const text = JSON.stringify(errorBody(err));
  res.statusCode = err.status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

export interface ErrorAnswerDeps {
  /** Turns a guess past the limit into RATE_LIMITED (rate-limits.ts). */
  guesses: GuessLimit;
  /** Told of every error answered, before its answer is sent: metrics, the status page. */
  onError: (err: AppError) => void;
}

/**
 * Answers a request that failed, whichever way it came in (Express, or an endpoint served before
 * it), and resolves to what was answered. Unknown errors become a generic 500: the cause goes to
 * `log`, never to the client. 4xx are logged once, by the request's own line (which carries the
 * code); a 5xx also logs its cause here. After the response has started, all it can do is cut it off.
 */
export type ErrorAnswer = (
  err: unknown,
  req: IncomingMessage,
  res: ServerResponse,
  log: Logger,
  /** How the envelope is written: sendError unless the way in has its own (Express's res.json). */
  send?: (err: AppError) => void,
) => Promise<AppError>;

export function errorAnswer(deps: ErrorAnswerDeps): ErrorAnswer {
  return async (err, req, res, log, send = (e) => sendError(res, e)) => {
    let appErr = toAppError(err);
    try {
      appErr = await deps.guesses(req, res, appErr);
    } catch (limitErr) {
      log.error({ code: 'INTERNAL', err: limitErr }, 'the failed-authentication limit failed; answering without it');
    }
    deps.onError(appErr);
    if (appErr.status >= 500 && appErr.code !== 'SHUTTING_DOWN') log.error({ code: appErr.code, err: appErr.cause ?? appErr }, appErr.message);
    if (res.headersSent) res.destroy();
    else send(appErr);
    return appErr;
  };
}

/** Express's last middleware: every error a route or middleware passes on is answered here. */
export function errorHandler(answer: ErrorAnswer, logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    // The code as it stands, for a response already started (then cut off, not answered).
    res.locals.errorCode = toAppError(err).code;
    // Through res.json, so that what wraps it (an Idempotency-Key remembering its refusal) sees the answer.
    const send = (e: AppError) => {
      // The request logger's line carries the code: it reads it here when the response finishes.
      res.locals.errorCode = e.code;
      setRetryAfter(res, e);
      res.status(e.status).json(errorBody(e));
    };
    void answer(err, req, res, req.log ?? logger, send);
  };
}

export const notFound: RequestHandler = (_req, _res, next) => {
  next(new AppError('NOT_FOUND', 'No such route'));
};
