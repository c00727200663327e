import { OFFLINE_HINT, startDashboard, type Dashboard } from './dashboard.js';
import { askToCancel } from './cancel-dialog.js';
import { BOOKING_EVENTS, BookingStore, syncedBookings, type Booking } from './bookings.js';
import { byId, h, reconcileList } from './dom.js';
import { bookingStatusLabel, capitalise, formatMoney, formatWhen, fromZoneInput, statusLabel, toZoneInput, zoneName } from './format.js';
import { createDemoGuide } from './demo-guide.js';

interface Provider {
  id: string;
  name: string | null;
  services: string[];
}

await startDashboard('client', clientDashboard);

/** A client's dashboard: book a provider, pay into escrow, cancel, and confirm completed work. */
async function clientDashboard(d: Dashboard): Promise<void> {
  byId('content').hidden = false;
  const list = byId('bookings');
  const providers = new Map<string, Provider>();
  const store = new BookingStore(() => render());
  const busy = new Set<string>();

  const providerName = (id: string) => providers.get(id)?.name ?? id;
  // The pairing the demo's story uses (the home page and the side-by-side view pass it).
  const q = new URLSearchParams(location.search);
  const paired = { providerId: q.get('provider'), service: q.get('service') };
  const guide = d.demo ? createDemoGuide(() => (paired.providerId ? providerName(paired.providerId) : 'The provider').split(' ')[0]) : null;
  if (guide) byId('content').prepend(guide.el);

  const render = () => {
    const bookings = store.newestFirst();
    guide?.follow(bookings[0]);
    byId('bookings-empty').hidden = bookings.length > 0;
    reconcileList(
      list,
      bookings.map((b) => ({
        key: b.id,
        version: `${b.updatedAt}|${b.status}|${b.payment?.status}|${busy.has(b.id)}|${providers.size}|${d.offline()}`,
        render: () => row(b),
      })),
    );
  };

  const row = (b: Booking) => {
    const pay = b.payment?.status;
    const actions: HTMLElement[] = [];
    const action = (name: string, label: string, fn: () => Promise<void>, cls = '') =>
      actions.push(
        h(
          'button',
          {
            type: 'button',
            class: `button ${cls}`,
            'data-action': name,
            disabled: busy.has(b.id) || d.offline(),
            title: d.offline() ? OFFLINE_HINT : null,
            onclick: () => void act(b.id, fn),
          },
          label,
          h('span', { class: 'visually-hidden' }, `: ${b.service} with ${providerName(b.providerId)}`),
        ),
      );
    if (b.status === 'CONFIRMED' && (!pay || pay === 'EXPIRED')) action('pay', `Pay ${formatMoney(b.amount, b.currency)}`, () => payFor(b), 'primary');
    // A checkout is open: the same one again, never a second payment.
    if (b.status === 'CONFIRMED' && pay === 'PENDING') action('pay', 'Reopen the checkout', () => payFor(b));
    if (b.status === 'COMPLETED' && pay === 'ESCROW') action('confirm-completion', 'Confirm work is done', () => post(b.id, 'confirm-completion'), 'primary');
    if (b.status === 'PENDING' || b.status === 'CONFIRMED') action('cancel', 'Cancel', () => cancel(b), 'quiet');
    return h(
      'li',
      { class: 'card booking', 'data-booking-id': b.id, 'data-status': b.status, 'data-payment-status': pay ?? 'NONE' },
      h(
        'div',
        { class: 'booking-head' },
        h('h3', {}, `${capitalise(b.service)} with ${providerName(b.providerId)}`),
        h('span', { class: 'amount' }, formatMoney(b.amount, b.currency)),
      ),
      h('p', { class: 'booking-when' }, h('time', { datetime: b.scheduledFor }, formatWhen(b.scheduledFor))),
      h(
        'p',
        { class: 'pills' },
        h('span', { class: `pill status status-${b.status}`, 'data-role': 'status' }, bookingStatusLabel(b.status)),
        pay ? h('span', { class: `pill payment payment-${pay}`, 'data-role': 'payment' }, `Payment: ${statusLabel(pay)}`) : null,
      ),
      b.reason ? h('p', { class: 'reason' }, `Reason: ${b.reason}`) : null,
      hint(b),
      actions.length ? h('div', { class: 'actions' }, actions) : null,
    );
  };

  const hint = (b: Booking): HTMLElement | null => {
    const pay = b.payment?.status;
    const text =
      b.status === 'PENDING'
        ? 'Waiting for the provider to accept.'
        : b.status === 'EXPIRED'
          ? 'The provider did not answer in time. You can book another provider.'
          : b.status === 'CONFIRMED' && pay === 'ESCROW'
            ? 'Paid. The money is held safely until you confirm the work is done.'
            : b.status === 'CONFIRMED' && pay === 'PENDING'
              ? 'Payment in progress… finish it in the checkout tab; this card turns paid by itself.'
              : b.status === 'CONFIRMED'
                ? 'Accepted. Pay to secure the booking; the money is held in escrow.'
                : b.status === 'IN_PROGRESS'
                  ? 'Work is under way.'
                  : b.status === 'COMPLETED' && pay === 'ESCROW'
                    ? 'Done? Confirm, and the provider is paid.'
                    : // A client is not shown the provider's payout, so this stays true until the end.
                      b.status === 'COMPLETED' && pay === 'RELEASED'
                      ? 'Released to the provider; the payout is on its way.'
                      : null;
    return text ? h('p', { class: 'hint' }, text) : null;
  };

  const act = async (id: string, fn: () => Promise<void>) => {
    busy.add(id);
    render();
    try {
      await fn();
    } finally {
      busy.delete(id);
      render();
    }
  };

  const post = async (id: string, action: string, body?: object) => {
    try {
      store.upsert(await d.api.post<Booking>(`/api/bookings/${id}/${action}`, body));
    } catch (err) {
      d.fail(err, action.replace('-', ' '));
    }
  };

  const cancel = async (b: Booking) => {
    const reason = await askToCancel(`the ${b.service} with ${providerName(b.providerId)}`);
    if (reason !== null) await post(b.id, 'cancel', reason ? { reason } : undefined);
  };

  /**
   * Paystack's checkout opens in a new tab, opened before the request so popup blockers see the
   * click; this page stays and turns "paid" by itself when Paystack's webhook arrives.
   */
  const payFor = async (b: Booking) => {
    const tab = window.open('', '_blank');
    try {
      const init = await d.api.post<{ authorizationUrl: string }>(`/api/bookings/${b.id}/payment`);
      if (tab) {
        tab.opener = null;
        tab.location.href = init.authorizationUrl;
      } else {
        d.toast.show({
          title: 'Your checkout is ready',
          body: 'Your browser blocked the new tab.',
          link: { href: init.authorizationUrl, text: 'Open the checkout' },
        });
      }
    } catch (err) {
      tab?.close();
      d.fail(err, 'start the payment');
    }
  };

  const loadProviders = async () => {
    const r = await d.api.get<{ providers: Provider[] }>('/api/providers?limit=100');
    providers.clear();
    for (const p of r.providers) providers.set(p.id, p);
    fillProviderForm([...providers.values()]);
    render();
  };

  for (const type of BOOKING_EVENTS) d.on(type, (e) => store.apply(e));
  d.onOfflineChange(render);
  await d.load(loadProviders);
  d.onSync((s) => store.replaceAll(syncedBookings(s)));
  setUpBookingForm(d, store, () => providers, paired);
}

function fillProviderForm(list: Provider[]): void {
  const select = byId<HTMLSelectElement>('provider');
  const chosen = select.value || new URLSearchParams(location.search).get('provider');
  select.replaceChildren(...list.map((p) => h('option', { value: p.id }, `${p.name ?? p.id} (${p.services.join(', ') || 'no services yet'})`)));
  if (chosen && list.some((p) => p.id === chosen)) select.value = chosen;
  select.dispatchEvent(new Event('change'));
}

function setUpBookingForm(
  d: Dashboard,
  store: BookingStore,
  providers: () => Map<string, Provider>,
  paired: { providerId: string | null; service: string | null },
): void {
  const form = byId<HTMLFormElement>('book-form');
  const provider = byId<HTMLSelectElement>('provider');
  const service = byId<HTMLSelectElement>('service');
  const when = byId<HTMLInputElement>('when');
  const amount = byId<HTMLInputElement>('amount');
  const notes = byId<HTMLTextAreaElement>('notes');
  const error = byId('book-error');
  const submit = form.querySelector<HTMLButtonElement>('button[type=submit]')!;

  const syncServices = () => {
    const p = providers().get(provider.value);
    service.replaceChildren(...(p?.services ?? []).map((s) => h('option', { value: s }, capitalise(s))));
    service.disabled = !p?.services.length;
  };
  const followConnection = () => {
    submit.disabled = d.offline();
    submit.title = d.offline() ? OFFLINE_HINT : '';
  };
  d.onOfflineChange(followConnection);
  followConnection();
  provider.addEventListener('change', syncServices);
  syncServices();
  if (paired.service && provider.value === paired.providerId && [...service.options].some((o) => o.value === paired.service)) service.value = paired.service;
  // Within the window in which the provider may start (START_EARLY_MINUTES, two hours by
  // default), so the whole booking can be played through at once.
  // Typed and read as a clock in the marketplace's zone, the one every time on the page is in.
  when.value = toZoneInput(inAboutAnHour());
  when.min = toZoneInput(new Date());
  const whenLabel = when.closest('label')?.firstChild;
  if (whenLabel) whenLabel.textContent = `When (${zoneName()} time) `;

  const requestBooking = async (e: Event) => {
    e.preventDefault();
    error.textContent = '';
    const cents = Math.round(Number(amount.value) * 100);
    const at = fromZoneInput(when.value);
    if (!provider.value || !service.value) return void (error.textContent = 'Choose a provider and a service.');
    if (Number.isNaN(at.getTime()) || at.getTime() <= Date.now()) return void (error.textContent = 'Choose a time in the future.');
    if (!Number.isFinite(cents) || cents < 100) return void (error.textContent = 'The amount must be at least R1.00.');
    submit.disabled = true;
    try {
      const b = await d.api.post<Booking>('/api/bookings', {
        providerId: provider.value,
        service: service.value,
        scheduledFor: at.toISOString(),
        amount: cents,
        ...(notes.value.trim() ? { notes: notes.value.trim() } : {}),
      });
      store.upsert(b);
      notes.value = '';
      d.toast.show({
        kind: 'success',
        type: 'booking.requested',
        title: '📨 Booking requested',
        body: `${capitalise(b.service)}, ${formatMoney(b.amount, b.currency)}. We will tell you when the provider answers.`,
      });
    } catch (err) {
      error.textContent = err instanceof Error ? err.message : String(err);
    } finally {
      followConnection();
    }
  };
  form.addEventListener('submit', (e) => void requestBooking(e));
}

/** An hour from now, rounded up to the quarter hour. */
function inAboutAnHour(): Date {
  const quarter = 15 * 60_000;
  return new Date(Math.ceil((Date.now() + 3_600_000) / quarter) * quarter);
}
