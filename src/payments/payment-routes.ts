import express, { Router } from 'express';
import { authenticate, principalOf, type AuthDeps } from '../http/authenticate';
import { EmptyBody, parseInput } from '../http/validate';
import { pathId } from '../http/ids';
import { idempotent } from '../http/idempotency';
import type { Database } from '../storage/db';
import type { WebhookService } from './webhook-service';
import type { PaymentService } from './payment-service';
import { findPayout } from './payout-repository';

/** Paystack webhooks need the raw bytes for the signature, so this router is mounted before the JSON parser. */
export const WEBHOOK_BODY_LIMIT = '256kb';

export interface WebhookRoutesDeps {
  webhooks: Pick<WebhookService, 'receive'>;
}

export function webhookRoutes(deps: WebhookRoutesDeps): Router {
  const router = Router();
  router.post('/api/webhooks/paystack', express.raw({ type: () => true, limit: WEBHOOK_BODY_LIMIT }), async (req, res) => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const outcome = await deps.webhooks.receive(raw, req.get('x-paystack-signature'));
    res.json({ received: true, outcome });
  });
  return router;
}

export interface PaymentRoutesDeps extends AuthDeps {
  db: Pick<Database, 'knex'>;
  payments: Pick<PaymentService, 'retryPayout'>;
}

export function paymentRoutes(deps: PaymentRoutesDeps): Router {
  const router = Router();
  router.post('/api/payouts/:id/retry', authenticate(deps), idempotent(deps.db.knex), async (req, res) => {
    const id = pathId(req.params.id, 'Payout');
    // Bodiless, and said so: a body with fields is a client's mistake, not something to ignore.
    parseInput(EmptyBody, req.body ?? {});
    await deps.payments.retryPayout(principalOf(req), id);
    // retryPayout found the payout (or threw), and payouts are never deleted.
    const payout = (await findPayout(deps.db.knex, id))!;
    res.json({
      id: String(payout.id),
      bookingId: String(payout.booking_id),
      reference: payout.reference,
      status: payout.status,
      amount: Number(payout.amount),
      ...(payout.reason ? { reason: payout.reason } : {}),
    });
  });
  return router;
}
