import type { RequestHandler } from 'express';
import { AppError } from './app-error';

/** A request that carries a body must say it is JSON; anything else is a 415, not a silent `{}`. */
export const requireJsonBody: RequestHandler = (req, _res, next) => {
  const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
  if (hasBody && !req.is('application/json')) {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'Request bodies must be application/json');
  }
  next();
};
