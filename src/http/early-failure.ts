import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../logger';
import type { Telemetry } from '../metrics/telemetry';
import type { ErrorAnswer } from './error-handler';
import { logFailed } from './request-logging';

export interface EarlyFailureDeps {
  answerError: ErrorAnswer;
  telemetry: Pick<Telemetry, 'httpDuration'>;
  logger: Logger;
}

/**
 * How an endpoint served before Express (streams, polls) answers a request that failed: the
 * headers Express would have set (`decorate`: the request id, helmet's, CORS), the one error
 * answer Express uses too, then the request's line and its duration under `route`, as Express's
 * middleware would write them. A failure to decorate is what is answered instead.
 */
export function earlyFailure(
  deps: EarlyFailureDeps,
  route: string,
  decorate: (req: IncomingMessage, res: ServerResponse) => void,
): (req: IncomingMessage, res: ServerResponse, err: unknown, startedAt: number) => void {
  const { answerError, telemetry, logger } = deps;
  return (req, res, err, startedAt) => {
    if (!res.headersSent) {
      try {
        decorate(req, res);
      } catch (decorating) {
        err = decorating;
      }
    }
    void answerError(err, req, res, logger).then((answered) => {
      const ms = performance.now() - startedAt;
      telemetry.httpDuration.observe({ method: 'GET', route, status: String(res.statusCode) }, ms / 1_000);
      logFailed(logger, req, res, Date.now() - ms, answered.code);
    });
  };
}
