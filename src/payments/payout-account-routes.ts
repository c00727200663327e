import { Router } from 'express';
import { z } from 'zod';
import { authenticate, principalOf, type AuthDeps } from '../http/authenticate';
import { parseInput } from '../http/validate';
import { AppError } from '../errors/app-error';
import { findUser, setPayoutAccount } from '../users/user-repository';
import { profile } from '../users/user-routes';
import { PaystackError } from './paystack-client';
import type { Database } from '../storage/db';
import type { PaystackClient } from './paystack-client';

export const PayoutAccountRequest = z.strictObject({
  accountName: z.string().trim().min(1).max(200),
  accountNumber: z.string().regex(/^\d{6,20}$/, 'digits only'),
  bankCode: z.string().regex(/^\d{3,10}$/, 'a Paystack bank code'),
});

export interface PayoutAccountRoutesDeps extends AuthDeps {
  db: Pick<Database, 'knex'>;
  /** Null when PAYSTACK_SECRET_KEY is not set: the route answers PAYMENT_PROVIDER_UNAVAILABLE. */
  paystack: Pick<PaystackClient, 'createTransferRecipient'> | null;
}

/** PUT /api/me/payout-account: a provider's bank account, registered with Paystack as a transfer recipient. */
export function payoutAccountRoutes(deps: PayoutAccountRoutesDeps): Router {
  const router = Router();
  const auth = authenticate(deps);
  const db = deps.db.knex;

  router.put('/api/me/payout-account', auth, async (req, res) => {
    const p = principalOf(req);
    if (p.role !== 'provider') throw new AppError('FORBIDDEN', 'Only providers have payout accounts');
    const body = parseInput(PayoutAccountRequest, req.body);
    if (!deps.paystack) throw new AppError('PAYMENT_PROVIDER_UNAVAILABLE', 'Payments are not configured');
    let recipientCode: string;
    try {
      ({ recipientCode } = await deps.paystack.createTransferRecipient({
        name: body.accountName,
        accountNumber: body.accountNumber,
        bankCode: body.bankCode,
        currency: 'ZAR',
      }));
    } catch (err) {
      if (err instanceof PaystackError && err.code === 'PAYSTACK_REJECTED') {
        throw new AppError('PAYOUT_ACCOUNT_REJECTED', 'Paystack did not accept this bank account', { provider: err.message });
      }
      throw new AppError('PAYMENT_PROVIDER_UNAVAILABLE', 'Could not reach the payment provider; try again');
    }
    await setPayoutAccount(db, p.userId, {
      recipientCode,
      accountName: body.accountName,
      bankCode: body.bankCode,
      last4: body.accountNumber.slice(-4),
    });
    res.json(profile((await findUser(db, p.userId))!));
  });

  return router;
}
