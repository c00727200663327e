import type { Db } from '../storage/db';
import type { Logger } from '../logger';
import type { Role } from '../contract/vocabulary';
import type { PaystackClient } from '../payments/paystack-client';
import { findUser, setPayoutAccount, setServices, upsertUser } from '../users/user-repository';

export interface DemoUser {
  id: string;
  role: Role;
  name: string;
  email: string;
  /**
   * A South African mobile number (E.164) for texts. Written only while the demo's own fake Twilio
   * takes them (src/demo/demo-channels.ts): a number that looks real must never reach a real one.
   */
  phone: string;
  /** One line for the home page. */
  blurb: string;
  /** The dashboard this user opens. */
  page: '/client.html' | '/provider.html' | '/operator.html';
  services?: string[];
  /** For a client: the provider and service the demo's story books, pre-selected on their page. */
  pairedWith?: { providerId: string; service: string };
  payoutAccount?: { accountName: string; accountNumber: string; bankCode: string };
}

export const DEMO_USERS: readonly DemoUser[] = Object.freeze([
  {
    id: 'demo-client-thandi',
    role: 'client',
    name: 'Thandi Nkosi',
    email: 'thandi@demo.example.co.za',
    phone: '+27825550101',
    blurb: 'A client in Johannesburg who needs a plumber',
    page: '/client.html',
    pairedWith: { providerId: 'demo-provider-sipho', service: 'plumbing' },
  },
  {
    id: 'demo-provider-sipho',
    role: 'provider',
    name: 'Sipho Dlamini',
    email: 'sipho@demo.example.co.za',
    phone: '+27825550102',
    blurb: 'Plumber and electrician, paid into Capitec',
    page: '/provider.html',
    services: ['plumbing', 'electrical'],
    payoutAccount: { accountName: 'S Dlamini', accountNumber: '1234567890', bankCode: '470010' },
  },
  {
    id: 'demo-provider-lerato',
    role: 'provider',
    name: 'Lerato Mokoena',
    email: 'lerato@demo.example.co.za',
    phone: '+27835550103',
    blurb: 'Cleaning and gardening, paid into FNB',
    page: '/provider.html',
    services: ['cleaning', 'gardening'],
    payoutAccount: { accountName: 'L Mokoena', accountNumber: '62012345678', bankCode: '250655' },
  },
  {
    id: 'demo-admin',
    role: 'admin',
    name: 'Operations',
    email: 'ops@demo.example.co.za',
    phone: '+27845550104',
    blurb: 'An operator: live status and announcements',
    page: '/operator.html',
  },
]);

export const findDemoUser = (id: string): DemoUser | undefined => DEMO_USERS.find((u) => u.id === id);

/**
 * Creates the demo users, or brings them back to their demo shape; safe on every start. Payout
 * accounts are registered with Paystack again each time because an in-process fake forgets its
 * recipients when the server stops (real Paystack answers a known account with its recipient).
 * Paystack is called outside any transaction; a failure leaves that provider without a payout
 * account (its payouts fail visibly) rather than stopping the server.
 */
export async function seedDemoUsers(db: Db, paystack: PaystackClient | null, logger: Logger): Promise<void> {
  for (const u of DEMO_USERS) {
    await upsertUser(db, { userId: u.id, role: u.role, name: u.name, email: u.email });
    if (u.services) await setServices(db, u.id, u.services);
    if (u.payoutAccount) await registerPayoutAccount(db, paystack, logger, u.id, u.payoutAccount);
  }
  logger.info({ users: DEMO_USERS.length }, 'demo mode: demo users ready');
}

async function registerPayoutAccount(
  db: Db,
  paystack: PaystackClient | null,
  logger: Logger,
  userId: string,
  a: NonNullable<DemoUser['payoutAccount']>,
): Promise<void> {
  if (!paystack) {
    logger.warn({ code: 'DEMO_PAYOUT_ACCOUNT_SKIPPED', userId }, 'demo mode: no Paystack, so no payout account');
    return;
  }
  try {
    const { recipientCode } = await paystack.createTransferRecipient({
      name: a.accountName,
      accountNumber: a.accountNumber,
      bankCode: a.bankCode,
      currency: 'ZAR',
    });
    await setPayoutAccount(db, userId, { recipientCode, accountName: a.accountName, bankCode: a.bankCode, last4: a.accountNumber.slice(-4) });
  } catch (err) {
    const kept = Boolean((await findUser(db, userId))?.payout_recipient_code);
    logger.warn(
      { code: 'DEMO_PAYOUT_ACCOUNT_FAILED', userId, keptPrevious: kept, err: String(err) },
      'demo mode: could not register a payout account with Paystack',
    );
  }
}
