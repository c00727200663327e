import { Router } from 'express';
import { z } from 'zod';
import { parseInput } from '../http/validate';
import { AppError } from '../errors/app-error';
import { UserId } from '../contract/vocabulary';
import { findUser } from '../users/user-repository';
import type { Config } from '../config';
import type { Logger } from '../logger';
import type { Database } from '../storage/db';
import type { TokenService } from '../auth/jwt';
import type { DemoOutbox } from './demo-outbox';
import type { DemoOutboxView } from '../contract/views';
import { DEMO_USERS, findDemoUser, type DemoUser } from './demo-seed';
import { wipeDemoData } from './demo-repository';

/** A working day: a demo left open in a tab keeps its stream without anyone signing in again. */
export const DEMO_TOKEN_TTL_SECONDS = 12 * 3600;

export const SessionRequest = z.strictObject({ userId: UserId });
/** A body a cross-site form cannot send (it would be text/plain, refused with 415). */
export const ResetRequest = z.strictObject({ confirm: z.literal('reset') });

const publicView = (u: DemoUser) => ({
  id: u.id,
  role: u.role,
  name: u.name,
  email: u.email,
  blurb: u.blurb,
  page: u.page,
  services: u.services ?? [],
  pairedWith: u.pairedWith,
});

export interface DemoRoutesDeps {
  config: Pick<Config, 'demoMode' | 'NODE_ENV' | 'ESCALATE_PUSH_AFTER_S' | 'ESCALATE_SMS_AFTER_S'>;
  logger: Logger;
  db: Pick<Database, 'knex'>;
  tokens: Pick<TokenService, 'sign'>;
  /** What the in-process fakes of email, SMS, WhatsApp and push received; absent when they do not run. */
  demoOutbox?: DemoOutbox;
}

/**
 * GET /api/demo/users, POST /api/demo/sessions {userId} → {token, user}, GET /api/demo/outbox and
 * POST /api/demo/reset {confirm: "reset"}: anyone who can reach
 * the server may act as a seeded user, which is the point of a demo and why these routes exist only
 * in demo mode and never with NODE_ENV=production (config refuses that combination too). Only the
 * seeded users can be had this way; tokens are minted here, so the browser never sees the secret.
 */
export function demoRoutes(deps: DemoRoutesDeps): Router {
  const router = Router();
  if (!deps.config.demoMode || deps.config.NODE_ENV === 'production') return router;

  router.get('/api/demo/users', async (_req, res) => {
    const users = await Promise.all(
      DEMO_USERS.map(async (u) => {
        const row = await findUser(deps.db.knex, u.id);
        return { ...publicView(u), payoutAccount: u.role === 'provider' ? (row?.payout_recipient_code ? 'active' : 'missing') : undefined };
      }),
    );
    res.set('Cache-Control', 'no-store').json({ users });
  });

  router.post('/api/demo/sessions', (req, res) => {
    const { userId } = parseInput(SessionRequest, req.body ?? {});
    const user = findDemoUser(userId);
    if (!user) throw new AppError('NOT_FOUND', 'No demo user with that id');
    const token = deps.tokens.sign({ sub: user.id, role: user.role, name: user.name, email: user.email }, DEMO_TOKEN_TTL_SECONDS);
    res
      .set('Cache-Control', 'no-store')
      .status(201)
      .json({ token, user: publicView(user), expiresInSeconds: DEMO_TOKEN_TTL_SECONDS });
  });

  // What the in-process fakes of email, SMS, WhatsApp and push received, newest first: the page
  // public/outbox.html polls it. 404 when this server runs none (every provider configured).
  router.get('/api/demo/outbox', (_req, res) => {
    if (!deps.demoOutbox) throw new AppError('NOT_FOUND', 'This demo runs no fake channels');
    const view: DemoOutboxView = {
      messages: deps.demoOutbox.list(),
      escalation: { pushAfterS: deps.config.ESCALATE_PUSH_AFTER_S, textAfterS: deps.config.ESCALATE_SMS_AFTER_S },
    };
    res.set('Cache-Control', 'no-store').json(view);
  });

  // Starts the demo over: every booking, payment, payout and notification goes; the users stay.
  router.post('/api/demo/reset', async (req, res) => {
    parseInput(ResetRequest, req.body ?? {});
    await wipeDemoData(deps.db.knex);
    deps.demoOutbox?.clear();
    deps.logger.info({ code: 'DEMO_RESET' }, 'demo mode: demo data wiped');
    res.set('Cache-Control', 'no-store').json({ reset: true });
  });

  return router;
}
