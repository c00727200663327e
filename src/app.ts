import express from 'express';
import helmet from 'helmet';
import type { AppDeps } from './app-deps';
import { requestLogger, requestMetrics } from './http/request-logging';
import { corsPolicy } from './http/cors';
import { jsonBody, requireJsonBody } from './http/require-json';
import { authFailureLimit } from './http/rate-limits';
import { errorHandler, notFound } from './http/error-handler';
import { ticketRoutes } from './realtime/ticket-routes';
import { streamRoutes } from './realtime/stream-routes';
import { pollRoutes } from './realtime/poll-routes';
import { clientModeRoutes } from './realtime/client-mode-routes';
import { broadcastRoutes } from './broadcasts/broadcast-routes';
import { statusRoutes } from './ops/status-routes';
import { healthRoutes } from './ops/health-routes';
import { settingsRoutes } from './ops/settings-routes';
import { PUBLIC_DIR } from './package-root';
import { userRoutes } from './users/user-routes';
import { payoutAccountRoutes } from './payments/payout-account-routes';
import { bookingRoutes } from './bookings/booking-routes';
import { paymentRoutes, webhookRoutes } from './payments/payment-routes';
import { twilioWebhookRoutes } from './channels/twilio-webhook-routes';
import { notificationRoutes } from './notifications/notification-routes';
import { pushRoutes } from './channels/push-routes';
import { moneyRoutes } from './payments/money-routes';
import { attentionRoutes } from './payments/attention-routes';
import { demoRoutes } from './demo/demo-routes';
import { demoHostCheck } from './demo/demo-host';
import { syncRoutes } from './sync/sync-routes';
import { docsRoutes } from './docs/docs-routes';

export const JSON_BODY_LIMIT = '100kb';

/** The HTTP application: middleware, routers, 404, and the error handler last. No globals. */
export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  // No API client revalidates (polls carry their cursor instead), so a SHA-1 of every JSON body
  // would be work for nothing. Static files keep theirs: express.static sets its own.
  app.set('etag', false);
  // req.ip (the rate limits' key) is the client's only when the proxies in front are named here.
  if (deps.config.TRUST_PROXY !== undefined) app.set('trust proxy', deps.config.TRUST_PROXY);
  app.use(requestLogger(deps.logger));
  app.use(requestMetrics(deps.telemetry.httpDuration));
  // Defaults are strict (CSP 'self' only: the pages load no inline script and nothing external).
  app.use(helmet());
  app.use(demoHostCheck(deps.config.demoMode));
  app.use(corsPolicy(deps.config));
  // Before the JSON parser: the webhook's signature covers its raw bytes.
  app.use(webhookRoutes(deps));
  app.use(twilioWebhookRoutes(deps));
  app.use(requireJsonBody);
  app.use(jsonBody(JSON_BODY_LIMIT));

  // First: polling clients call it more often than everything else together, and every router
  // mounted ahead of it is walked on each poll.
  app.use(pollRoutes(deps));
  app.use(healthRoutes(deps));
  app.use(statusRoutes(deps));
  app.use(settingsRoutes(deps));
  app.use(ticketRoutes(deps));
  app.use(streamRoutes(deps));
  app.use(clientModeRoutes(deps));
  app.use(broadcastRoutes(deps));
  app.use(userRoutes(deps));
  app.use(payoutAccountRoutes(deps));
  app.use(paymentRoutes(deps));
  app.use(moneyRoutes(deps));
  app.use(attentionRoutes({ ...deps, knex: deps.db.knex }));
  app.use(bookingRoutes(deps));
  app.use(notificationRoutes(deps));
  app.use(pushRoutes(deps));
  app.use(syncRoutes(deps));
  app.use(demoRoutes(deps));
  app.use(docsRoutes(deps));
  app.use(express.static(PUBLIC_DIR));

  app.use(notFound);
  app.use(authFailureLimit(deps.config.AUTH_FAILURE_LIMIT_PER_5MIN));
  app.use(
    errorHandler((err, res) => {
      res.locals.errorCode = err.code;
      deps.telemetry.recordError(err.code);
      if (err.code === 'DATABASE_UNAVAILABLE') deps.statusFigures.databaseFailed();
    }),
  );
  return app;
}
