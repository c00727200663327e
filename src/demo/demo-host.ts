import type { IncomingMessage, RequestListener } from 'node:http';
import type { RequestHandler } from 'express';
import { AppError } from '../errors/app-error';

// The names a browser uses for this machine, with or without a port.
const LOOPBACK_HOST = /^(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?$/i;

/**
 * Demo mode hands out admin tokens to whoever asks, and binding to loopback keeps other machines
 * out but not a web page: by DNS rebinding, attacker.example can resolve to 127.0.0.1 and read our
 * answers from the victim's browser. Its requests carry its own name in Host, so only a loopback
 * name is served.
 */
const fromLoopbackName = (req: Pick<IncomingMessage, 'headers'>): boolean => LOOPBACK_HOST.test(req.headers.host ?? '');

/** Express: in demo mode, 421 MISDIRECTED_REQUEST for any other Host. */
export function demoHostCheck(demoMode: boolean): RequestHandler {
  return (req, _res, next) => {
    if (!demoMode || fromLoopbackName(req)) return next();
    next(new AppError('MISDIRECTED_REQUEST', 'In demo mode this server answers only to localhost, 127.0.0.1 or [::1]'));
  };
}

/**
 * In front of the endpoints served before Express (polls, streams): in demo mode a request with
 * another Host goes straight to the Express app, whose demoHostCheck refuses it.
 */
export function guardDemoHost(demoMode: boolean, app: RequestListener, next: RequestListener): RequestListener {
  if (!demoMode) return next;
  return (req, res) => (fromLoopbackName(req) ? next(req, res) : app(req, res));
}
