import { Router } from 'express';
import { authenticate, principalOf, type AuthDeps } from '../http/authenticate';
import { parseInput } from '../http/validate';
import { pathId } from '../http/ids';
import { idempotent } from '../http/idempotency';
import { CreateBookingRequest, DisputeRequest, EmptyRequest, ListBookingsQuery, PaymentRequest, ReasonRequest } from './booking-schemas';
import { BookingAction } from './booking-state';
import { bookingViewFor } from './booking-views';
import type { Database } from '../storage/db';
import type { BookingService } from './booking-service';

export interface BookingRoutesDeps extends AuthDeps {
  db: Pick<Database, 'knex'>;
  bookings: Pick<BookingService, 'create' | 'list' | 'get' | 'checkout' | 'act'>;
}

export function bookingRoutes(deps: BookingRoutesDeps): Router {
  const router = Router();
  const auth = authenticate(deps);
  const once = idempotent(deps.db.knex);

  router.post('/api/bookings', auth, once, async (req, res) => {
    const body = parseInput(CreateBookingRequest, req.body);
    const p = principalOf(req);
    res.status(201).json(bookingViewFor(await deps.bookings.create(p, body), p));
  });

  router.get('/api/bookings', auth, async (req, res) => {
    const p = principalOf(req);
    const { bookings, nextCursor } = await deps.bookings.list(p, parseInput(ListBookingsQuery, req.query));
    res.json({ bookings: bookings.map((b) => bookingViewFor(b, p)), nextCursor });
  });

  router.get('/api/bookings/:id', auth, async (req, res) => {
    const p = principalOf(req);
    res.json(bookingViewFor(await deps.bookings.get(p, pathId(req.params.id, 'Booking')), p));
  });

  router.post('/api/bookings/:id/payment', auth, once, async (req, res) => {
    const id = pathId(req.params.id, 'Booking');
    const body = parseInput(PaymentRequest, req.body ?? {});
    res.json(await deps.bookings.checkout(principalOf(req), id, body.email));
  });

  router.post(
    '/api/bookings/:id/:action',
    auth,
    (req, _res, next) => next(BookingAction.safeParse(req.params.action).success ? undefined : 'route'),
    once,
    async (req, res) => {
      const action = BookingAction.parse(req.params.action);
      const id = pathId(req.params.id, 'Booking');
      const takesReason = action === 'reject' || action === 'cancel';
      const body = parseInput(action === 'dispute' ? DisputeRequest : takesReason ? ReasonRequest : EmptyRequest, req.body ?? {});
      const p = principalOf(req);
      res.json(bookingViewFor(await deps.bookings.act(p, id, action, 'reason' in body ? body.reason : undefined), p));
    },
  );

  return router;
}
