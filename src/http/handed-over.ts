import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

/*
 * The endpoints served before Express (streams, polls) hand a request that failed to the Express
 * app with its error, so that every error is still logged, counted (the failed-authentication
 * limit) and answered in one place. The error travels with the request object.
 */
const handed = new WeakMap<IncomingMessage, unknown>();

/**
 * What an endpoint does when it fails: before the response has started, hand the request with its
 * error to `app` (the Express app, or what leads to it); after, all it can do is cut it off.
 */
export function handOverTo(app: RequestListener, req: IncomingMessage, res: ServerResponse): (err: unknown) => void {
  return (err) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    handed.set(req, err);
    app(req, res);
  };
}

/** The error an endpoint met before handing this request to Express, if any (once). */
export function takeHandedOver(req: IncomingMessage): unknown {
  const err = handed.get(req);
  handed.delete(req);
  return err;
}
