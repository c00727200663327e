import type { IncomingMessage } from 'node:http';
import express, { type RequestHandler } from 'express';
import { AppError } from '../errors/app-error';

export function carriesBody(req: Pick<IncomingMessage, 'headers'>): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/** A request that carries a body must say it is JSON; anything else is a 415, not a silent `{}`. */
export const requireJsonBody: RequestHandler = (req, _res, next) => {
  if (carriesBody(req) && !req.is('application/json')) {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'Request bodies must be application/json');
  }
  next();
};

/** Deeper than any body of ours (two levels at most) by a wide margin. */
export const MAX_JSON_DEPTH = 32;

/**
 * express.json, refusing bodies nested deeper than MAX_JSON_DEPTH before they are parsed. A 100 kB
 * body can nest 50,000 levels; JSON.parse copes, but anything recursive afterwards (the
 * JSON.stringify behind Idempotency-Key's request hash, a logger) overflows the stack: a 500.
 */
export function jsonBody(limit: string): RequestHandler {
  return express.json({
    limit,
    verify: (_req, _res, buf) => {
      const depth = jsonDepth(buf);
      if (depth > MAX_JSON_DEPTH) {
        throw new AppError('VALIDATION_FAILED', 'Request is invalid', [
          { path: '', code: 'too_deep', message: `JSON must not nest deeper than ${MAX_JSON_DEPTH} levels` },
        ]);
      }
    },
  });
}

/** The deepest nesting of `[` and `{` outside strings; malformed input is left to the parser. */
export function jsonDepth(buf: Buffer): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) max = depth;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return max;
}
