import type { IncomingMessage } from 'node:http';

/*
 * The endpoints served before Express (streams, polls) hand a request that failed to the Express
 * app with its error, so that every error is still logged, counted (the failed-authentication
 * limit) and answered in one place. The error travels with the request object.
 */
const handed = new WeakMap<IncomingMessage, unknown>();

/** Marks `req` as failed with `err`, before it is passed to the Express app. */
export function handOver(req: IncomingMessage, err: unknown): void {
  handed.set(req, err);
}

/** The error an endpoint met before handing this request to Express, if any (once). */
export function takeHandedOver(req: IncomingMessage): unknown {
  const err = handed.get(req);
  handed.delete(req);
  return err;
}
