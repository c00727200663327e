import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/** Anything that may carry a credential, wherever it appears in a log object. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-paystack-signature"]',
  'req.headers["x-twilio-signature"]',
  '*.authToken',
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
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[Redacted]' }, base: { svc: 'marketplace-rt' } }, destination);
}

/**
 * One line a person reads at a glance (time, level, message, then the fields), for the demo's
 * terminal. Synchronous, in this process: no worker thread to start or to flush at exit.
 */
export function prettyDestination(destination: NodeJS.WritableStream | number = 1): pino.DestinationStream {
  return pretty({
    colorize: destination === 1 && process.stdout.isTTY === true,
    translateTime: 'SYS:HH:MM:ss',
    ignore: 'pid,hostname,svc',
    sync: true,
    destination,
  });
}
