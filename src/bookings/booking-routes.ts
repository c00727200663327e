import { Router } from 'express';
import { authenticate, principalOf } from '../http/authenticate';
import { parseInput } from '../http/validate';
import { pathId } from '../http/ids';
import { idempotent } from '../http/idempotency';
import { CreateBookingRequest, DisputeRequest, EmptyRequest, ListBookingsQuery, ReasonRequest } from './booking-schemas';
import { BookingAction } from './booking-state';
import type { AppDeps } from '../app-deps';

export function bookingRoutes(deps: AppDeps): Router {
  const router = Router();
  const auth = authenticate(deps);
  const once = idempotent(deps.db.knex);

  router.post('/api/bookings', auth, once, async (req, res) => {
    const body = parseInput(CreateBookingRequest, req.body);
    res.status(201).json(await deps.bookings.create(principalOf(req), body));
  });

  router.get('/api/bookings', auth, async (req, res) => {
    res.json(await deps.bookings.list(principalOf(req), parseInput(ListBookingsQuery, req.query)));
  });

  router.get('/api/bookings/:id', auth, async (req, res) => {
    res.json(await deps.bookings.get(principalOf(req), pathId(req.params.id, 'Booking')));
  });

  router.post('/api/bookings/:id/:action', auth, (req, _res, next) => next(BookingAction.safeParse(req.params.action).success ? undefined : 'route'), once, async (req, res) => {
    const action = BookingAction.parse(req.params.action);
    const id = pathId(req.params.id, 'Booking');
    const takesReason = action === 'reject' || action === 'cancel';
    const body = parseInput(action === 'dispute' ? DisputeRequest : takesReason ? ReasonRequest : EmptyRequest, req.body ?? {});
    res.json(await deps.bookings.act(principalOf(req), id, action, 'reason' in body ? body.reason : undefined));
  });

  return router;
}
