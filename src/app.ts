import express from 'express';
import helmet from 'helmet';
import type { Services } from './services';
import { requestLogger, requestMetrics } from './http/request-logging';
import { corsPolicy } from './http/cors';
import { jsonBody, requireJsonBody } from './http/require-json';
import { errorHandler, notFound } from './http/error-handler';
import { ticketRoutes } from './realtime/ticket-routes';
import { STREAM_PATH, streamRoute } from './realtime/stream-endpoint';
import { pollRoute } from './realtime/poll-endpoint';
import { POLL_PATH } from './realtime/poll';
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

/**
 * The HTTP application: middleware, routers, 404, and the error handler last. No globals. Each
 * router takes the services it declares (its `...Deps`); `s` has them all.
 */
export function createApp(s: Services): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  // No API client revalidates (polls carry their cursor instead), so a SHA-1 of every JSON body
  // would be work for nothing. Static files keep theirs: express.static sets its own.
  app.set('etag', false);
  // req.ip is the client's only when the proxies in front are named here.
  app.set('trust proxy', s.trustProxy);
  app.use(requestLogger(s.logger));
  app.use(requestMetrics(s.telemetry.httpDuration));
  // Defaults are strict (CSP 'self' only: the pages load no inline script and nothing external).
  app.use(helmet());
  app.use(demoHostCheck(s.config.demoMode));
  app.use(corsPolicy(s.config));
  // Before the JSON parser: the webhook's signature covers its raw bytes.
  app.use(webhookRoutes(s));
  app.use(twilioWebhookRoutes(s));
  app.use(requireJsonBody);
  app.use(jsonBody(JSON_BODY_LIMIT));

  // Polls and streams are served before Express (poll-endpoint.ts, stream-endpoint.ts); what they
  // pass on comes here: a body, which the middleware above has checked, or a path variant.
  app.get(POLL_PATH, pollRoute(s.poller));
  app.get(STREAM_PATH, streamRoute(s.streams));
  app.use(healthRoutes(s));
  app.use(statusRoutes(s));
  app.use(settingsRoutes(s));
  app.use(ticketRoutes(s));
  app.use(clientModeRoutes(s));
  app.use(broadcastRoutes(s));
  app.use(userRoutes(s));
  app.use(payoutAccountRoutes(s));
  app.use(paymentRoutes(s));
  app.use(moneyRoutes(s));
  app.use(attentionRoutes(s));
  app.use(bookingRoutes(s));
  app.use(notificationRoutes(s));
  app.use(pushRoutes(s));
  app.use(syncRoutes(s));
  app.use(demoRoutes(s));
  app.use(docsRoutes(s));
  app.use(express.static(PUBLIC_DIR));

  app.use(notFound);
  app.use(errorHandler(s.answerError, s.logger));
  return app;
}
