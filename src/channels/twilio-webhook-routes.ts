import express, { Router } from 'express';
import type { Config } from '../config';
import type { Database } from '../storage/db';
import { receiveTwilioStatus } from './twilio-callbacks';
import type { FormParams } from './twilio-signature';

export const TWILIO_WEBHOOK_PATH = '/api/webhooks/twilio';

export interface TwilioWebhookRoutesDeps {
  config: Pick<Config, 'PUBLIC_BASE_URL' | 'PORT' | 'TWILIO_AUTH_TOKEN'>;
  db: Pick<Database, 'knex'>;
}

/**
 * Twilio's status callbacks are form-encoded, so this router is mounted before the JSON-only
 * check. The signature covers the URL Twilio called, which behind a proxy is the public one:
 * PUBLIC_BASE_URL (or http://localhost:PORT) and the path as requested.
 */
export function twilioWebhookRoutes(deps: TwilioWebhookRoutesDeps): Router {
  const router = Router();
  const base = deps.config.PUBLIC_BASE_URL ?? `http://localhost:${deps.config.PORT}`;
  router.post(TWILIO_WEBHOOK_PATH, express.urlencoded({ extended: false, limit: '64kb', parameterLimit: 200 }), async (req, res) => {
    const params: FormParams = req.is('application/x-www-form-urlencoded') && req.body && typeof req.body === 'object' ? (req.body as FormParams) : {};
    const outcome = await receiveTwilioStatus(deps.db.knex, {
      authToken: deps.config.TWILIO_AUTH_TOKEN,
      url: new URL(req.originalUrl, base).href,
      params,
      signature: req.get('x-twilio-signature'),
      now: new Date(),
    });
    res.json({ received: true, outcome });
  });
  return router;
}
