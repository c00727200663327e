import pino, { type Logger } from 'pino';

export type { Logger };

/** Anything that may carry a credential, wherever it appears in a log object. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-paystack-signature"]',
  'req.query.ticket',
  'req.query.access_token',
  'req.query.token',
  'res.headers["set-cookie"]',
  '*.token',
  '*.ticket',
  '*.secret',
  '*.authorization',
];

const SECRET_QUERY = /([?&](?:ticket|access_token|token)=)[^&#]*/gi;

/** Query strings cannot be reached by redact paths, so scrub the URL string itself. */
export function redactUrl(url: string | undefined): string | undefined {
  return url?.replace(SECRET_QUERY, '$1[Redacted]');
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    { level, redact: { paths: REDACT_PATHS, censor: '[Redacted]' }, base: { svc: 'marketplace-rt' } },
    destination,
  );
}
