import { OFFLINE_HINT, startDashboard, type Dashboard } from './dashboard.js';
import { askToCancel } from './cancel-dialog.js';
import { BOOKING_EVENTS, BookingStore, syncedBookings, type Booking } from './bookings.js';
import { byId, h, reconcileList } from './dom.js';
import { bookingStatusLabel, capitalise, formatAgo, formatMoney, formatWhen, statusLabel } from './format.js';
import { MoneyList, type MoneyItem } from './money-list.js';
import { loadNames } from './names.js';

await startDashboard('provider', providerDashboard);

/** A provider's dashboard: answer requests, do the work, and watch the money arrive. */
async function providerDashboard(d: Dashboard): Promise<void> {
  byId('content').hidden = false;
  const names = d.demo ? await loadNames() : new Map<string, string>();
  const clientName = (id: string) => names.get(id) ?? id;
  const busy = new Set<string>();
  // Money rows are named by their booking, so they are drawn again when bookings change.
  const store = new BookingStore(() => (renderBookings(), renderMoney()));
  const payments = new MoneyList(() => renderMoney());
  const payouts = new MoneyList(() => renderMoney());

  const account = d.me.payoutAccount;
  byId('payout-account').textContent =
    account?.status === 'active'
      ? `Payouts go to ${account.accountName ?? 'your account'} (account ending ${account.accountNumberLast4 ?? '????'}).`
      : 'No payout account yet: payouts will fail until one is added (PUT /api/me/payout-account).';

  const renderBookings = () => {
    const bookings = store.newestFirst();
    byId('bookings-empty').hidden = bookings.length > 0;
    reconcileList(
      byId('bookings'),
      bookings.map((b) => ({
        key: b.id,
        version: `${b.updatedAt}|${b.status}|${b.payment?.status}|${b.payout?.status}|${busy.has(b.id)}|${d.offline()}`,
        render: () => bookingRow(b),
      })),
    );
  };

  const bookingRow = (b: Booking) => {
    const pay = b.payment?.status;
    const actions: HTMLElement[] = [];
    const action = (name: string, label: string, cls = '', disabled = false) =>
      actions.push(
        h(
          'button',
          {
            type: 'button',
            class: `button ${cls}`,
            'data-action': name,
            disabled: disabled || busy.has(b.id) || d.offline(),
            title: d.offline() ? OFFLINE_HINT : null,
            onclick: () => void act(b, name),
          },
          label,
          h('span', { class: 'visually-hidden' }, `: ${b.service} for ${clientName(b.clientId)}`),
        ),
      );
    if (b.status === 'PENDING') {
      action('accept', 'Accept', 'primary');
      action('reject', 'Decline', 'quiet');
    }
    if (b.status === 'CONFIRMED') {
      action('start', 'Start work', 'primary', pay !== 'ESCROW');
      action('cancel', 'Cancel', 'quiet');
    }
    if (b.status === 'IN_PROGRESS') action('complete', 'Mark complete', 'primary');
    return h(
      'li',
      {
        class: 'card booking',
        'data-booking-id': b.id,
        'data-status': b.status,
        'data-payment-status': pay ?? 'NONE',
        'data-payout-status': b.payout?.status ?? 'NONE',
      },
      h(
        'div',
        { class: 'booking-head' },
        h('h3', {}, `${capitalise(b.service)} for ${clientName(b.clientId)}`),
        h('span', { class: 'amount' }, formatMoney(b.amount, b.currency)),
      ),
      h('p', { class: 'booking-when' }, h('time', { datetime: b.scheduledFor }, formatWhen(b.scheduledFor))),
      b.notes ? h('p', { class: 'notes' }, `“${b.notes}”`) : null,
      b.reason && (b.status === 'CANCELLED' || b.status === 'REJECTED') ? h('p', { class: 'reason' }, `Reason: ${b.reason}`) : null,
      h(
        'p',
        { class: 'pills' },
        h('span', { class: `pill status status-${b.status}`, 'data-role': 'status' }, bookingStatusLabel(b.status)),
        pay ? h('span', { class: `pill payment payment-${pay}`, 'data-role': 'payment' }, `Payment: ${statusLabel(pay)}`) : null,
        b.payout ? h('span', { class: `pill payout payout-${b.payout.status}`, 'data-role': 'payout' }, `Payout: ${statusLabel(b.payout.status)}`) : null,
      ),
      hint(b),
      actions.length ? h('div', { class: 'actions' }, actions) : null,
    );
  };

  const hint = (b: Booking): HTMLElement | null => {
    const pay = b.payment?.status;
    const text =
      b.status === 'PENDING'
        ? 'A new request: accept or decline.'
        : b.status === 'EXPIRED'
          ? 'This request expired before you answered.'
          : b.status === 'CONFIRMED' && pay !== 'ESCROW'
            ? 'Waiting for the client to pay. You can start once the money is in escrow.'
            : b.status === 'CONFIRMED'
              ? 'Paid into escrow. Start when you arrive.'
              : b.status === 'COMPLETED' && pay === 'ESCROW'
                ? 'Waiting for the client to confirm; then you are paid.'
                : b.status === 'COMPLETED' && b.payout?.status === 'COMPLETED'
                  ? 'Paid: the payout is in your bank account.'
                  : b.status === 'COMPLETED' && b.payout?.status === 'FAILED'
                    ? 'The payout did not go through; our team has been told.'
                    : b.status === 'COMPLETED' && pay === 'RELEASED'
                      ? 'Released to you; the payout is on its way.'
                      : null;
    return text ? h('p', { class: 'hint' }, text) : null;
  };

  const act = async (b: Booking, action: string) => {
    const id = b.id;
    let body: object | undefined;
    if (action === 'cancel') {
      const reason = await askToCancel(`the ${b.service} for ${clientName(b.clientId)}`);
      if (reason === null) return;
      if (reason) body = { reason };
    }
    busy.add(id);
    renderBookings();
    try {
      store.upsert(await d.api.post<Booking>(`/api/bookings/${id}/${action}`, body));
    } catch (err) {
      d.fail(err, action === 'reject' ? 'decline' : action);
    } finally {
      busy.delete(id);
      renderBookings();
    }
  };

  /** A money row says whose work it pays for, as the booking's card does. */
  const bookingName = (m: MoneyItem) => {
    const b = store.byId.get(m.bookingId);
    return b ? `${capitalise(b.service)} for ${clientName(b.clientId)}` : `Booking #${m.bookingId}`;
  };
  const renderMoney = () => {
    moneyTable('payments', payments.newestFirst(), bookingName);
    moneyTable('payouts', payouts.newestFirst(), bookingName);
    const sum = (items: MoneyItem[]) => formatMoney(items.reduce((s, p) => s + p.amount, 0));
    // Three amounts that never overlap: held for work not yet confirmed, sent, and in the bank.
    const inEscrow = payments.newestFirst().filter((p) => p.status === 'ESCROW' || p.status === 'PAID');
    const onItsWay = payouts.newestFirst().filter((p) => p.status === 'PENDING' || p.status === 'PROCESSING');
    const paidOut = payouts.newestFirst().filter((p) => p.status === 'COMPLETED');
    const totals = byId('totals');
    totals.dataset.escrow = String(inEscrow.reduce((s, p) => s + p.amount, 0));
    totals.dataset.paidOut = String(paidOut.reduce((s, p) => s + p.amount, 0));
    totals.textContent = `${sum(inEscrow)} held in escrow · ${sum(onItsWay)} on its way to you · ${sum(paidOut)} paid out to you`;
  };

  for (const type of BOOKING_EVENTS) d.on(type, (e) => store.apply(e));
  d.onOfflineChange(renderBookings);
  d.on('payment.status_changed', (e) => payments.applyEvent(e, 'paymentId'));
  d.on('payout.status_changed', (e) => payouts.applyEvent(e, 'payoutId'));
  d.onSync((s) => {
    store.replaceAll(syncedBookings(s));
    payments.replaceAll(s.payments.items);
    payouts.replaceAll(s.payouts?.items ?? []);
  });
  window.setInterval(renderMoney, 60_000);
}

function moneyTable(id: 'payments' | 'payouts', items: MoneyItem[], what: (m: MoneyItem) => string): void {
  byId(`${id}-empty`).hidden = items.length > 0;
  byId(`${id}-table`).hidden = items.length === 0;
  reconcileList(
    byId(id),
    items.map((m) => ({
      key: m.id,
      version: `${m.status}|${m.updatedAt}|${formatAgo(m.updatedAt)}`,
      render: () =>
        h(
          'tr',
          { 'data-id': m.id, 'data-status': m.status, 'data-booking-id': m.bookingId },
          h('td', {}, what(m)),
          h('td', { class: 'num' }, formatMoney(m.amount, m.currency)),
          h(
            'td',
            {},
            h('span', { class: `pill ${id === 'payments' ? 'payment payment' : 'payout payout'}-${m.status}` }, statusLabel(m.status)),
            m.reason ? ` (${m.reason})` : '',
          ),
          h('td', {}, h('time', { datetime: m.updatedAt }, formatAgo(m.updatedAt))),
        ),
    })),
  );
}
