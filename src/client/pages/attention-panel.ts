import { ApiError } from './api.js';
import type { Dashboard } from './dashboard.js';
import { h, reconcileList } from './dom.js';
import { formatMoney } from './format.js';

/** A case as GET /api/ops/attention lists it (src/payments/attention.ts AttentionItem). */
export interface AttentionItem {
  kind: 'payment' | 'payout' | 'booking';
  id: string;
  bookingId: string;
  reason: string;
  amount: number;
  currency: string;
  since: string;
}

type ActionName = 'accept-flagged' | 'refund' | 'release' | 'retry-refund' | 'retry-payout';

interface ActionSpec {
  label: string;
  /** What the confirm button says and the toast reports. */
  done: string;
  /** The payout retry route takes no body, so there is no reason to ask for. */
  asksReason: boolean;
  path(item: AttentionItem): string;
}

const opsAction = (name: string) => (item: AttentionItem) => `/api/ops/bookings/${item.bookingId}/${name}`;

/** Which action does what; src/payments/escrow-admin.ts says which fits which case. */
const ACTIONS: Record<ActionName, ActionSpec> = {
  'accept-flagged': { label: 'Accept', done: 'Accepted into escrow', asksReason: true, path: opsAction('accept-flagged') },
  refund: { label: 'Refund', done: 'Refund requested', asksReason: true, path: opsAction('refund') },
  release: { label: 'Release', done: 'Released to the provider', asksReason: true, path: opsAction('release') },
  'retry-refund': { label: 'Retry refund', done: 'Refund requested again', asksReason: true, path: opsAction('retry-refund') },
  'retry-payout': { label: 'Retry payout', done: 'Payout sent again', asksReason: false, path: (item) => `/api/payouts/${item.id}/retry` },
};

interface CaseSpec {
  title: string;
  hint: string;
  actions: ActionName[];
}

/** Each reason in plain words, what an operator does about it, and the actions that fit it. */
const CASES: Record<string, CaseSpec> = {
  FLAGGED: {
    title: 'Charge does not match the booking',
    hint: 'Paystack verified a different amount or currency than the booking. Accept what was paid into escrow, or refund the client.',
    actions: ['accept-flagged', 'refund'],
  },
  REFUND_FAILING: {
    title: 'Refund failing',
    hint: 'Paystack did not complete the refund. Retry it once the cause is fixed.',
    actions: ['retry-refund'],
  },
  CLIENT_DISPUTE: {
    title: 'Client disputes the work',
    hint: 'The client says the work was not done. Refund the client, or release the money to the provider.',
    actions: ['refund', 'release'],
  },
  CARD_DISPUTE: {
    title: 'Card dispute open for long',
    hint: 'The bank decides a card dispute: answer it with evidence in the Paystack dashboard. The payout waits until it is resolved.',
    actions: [],
  },
  PAYOUT_FAILED: {
    title: 'Payout failed',
    hint: 'The transfer to the provider failed. Check their payout account, then retry.',
    actions: ['retry-payout'],
  },
  PAYOUT_REVERSED: {
    title: 'Payout reversed',
    hint: 'The bank sent the transfer back. Check the provider’s payout account, then retry.',
    actions: ['retry-payout'],
  },
  OTP_REQUIRED: {
    title: 'Transfer waits for an OTP',
    hint: 'Paystack wants an OTP for transfers. Finish this one in the Paystack dashboard and turn transfer OTP off there, so payouts go through on their own.',
    actions: [],
  },
  STALLED_WORK: {
    title: 'Work not done past its time',
    hint: 'Money is in escrow and the work is not complete long after the booking’s time. Refund the client, or release the money to the provider.',
    actions: ['refund', 'release'],
  },
};

const caseOf = (reason: string): CaseSpec => CASES[reason] ?? { title: reason, hint: '', actions: [] };

/** Events after which the queue may have changed; the server decides what is in it. */
export const ATTENTION_EVENTS = ['ops.attention', 'booking.admin_action', 'payment.status_changed', 'payout.status_changed'];

const AGE_REFRESH_MS = 60_000;

export interface AttentionElements {
  list: HTMLElement;
  empty: HTMLElement;
  error: HTMLElement;
  count: HTMLElement;
}

/**
 * The operators' "Needs attention" queue: read from the server on start, after a reset and after
 * each event that may change it, with the actions that fit each case. Each action asks for a
 * reason in an inline form and shows the server's refusal there.
 */
export function createAttentionPanel(d: Dashboard, el: AttentionElements): void {
  let running: Promise<void> | null = null;
  let again = false;

  // Events come in bursts (a case and the money move behind it share a transaction): one read
  // at a time, and one more after it when anything asked meanwhile.
  const refresh = (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          try {
            show((await d.api.get<{ items: AttentionItem[] }>('/api/ops/attention')).items);
            el.error.textContent = '';
          } catch (err) {
            el.error.textContent = `Queue unavailable: ${err instanceof Error ? err.message : String(err)}`;
          }
        } while (again);
      } finally {
        // In the same step as the last check of `again`, so no request falls between them.
        running = null;
      }
    })();
    return running;
  };

  const show = (items: AttentionItem[]) => {
    el.empty.hidden = items.length > 0;
    el.count.textContent = String(items.length);
    el.count.dataset.count = String(items.length);
    reconcileList(
      el.list,
      items.map((item) => ({
        key: `${item.kind}:${item.id}:${item.reason}`,
        version: `${item.amount}|${item.currency}|${item.since}`,
        render: () => caseRow(item),
      })),
    );
    updateAges();
  };

  const updateAges = () => {
    for (const t of el.list.querySelectorAll<HTMLTimeElement>('time[data-role="age"]')) t.textContent = waitingFor(t.dateTime);
  };

  const caseRow = (item: AttentionItem): HTMLElement => {
    const spec = caseOf(item.reason);
    const form = spec.actions.length ? reasonForm(item) : null;
    // A lone action is the way forward; between two, the operator weighs both alike.
    const buttons = spec.actions.map((name) =>
      h(
        'button',
        { type: 'button', class: spec.actions.length === 1 ? 'button primary' : 'button', 'data-action': name, onclick: () => form?.open(name) },
        ACTIONS[name].label,
        h('span', { class: 'visually-hidden' }, `: booking #${item.bookingId}`),
      ),
    );
    return h(
      'li',
      { class: 'attention-case', 'data-reason': item.reason, 'data-booking-id': item.bookingId, 'data-kind': item.kind, 'data-id': item.id },
      h('div', { class: 'booking-head' }, h('h3', {}, spec.title), h('span', { class: 'amount' }, formatMoney(item.amount, item.currency))),
      h(
        'p',
        { class: 'booking-when' },
        `Booking #${item.bookingId} · waiting `,
        h('time', { datetime: item.since, 'data-role': 'age' }, waitingFor(item.since)),
      ),
      spec.hint ? h('p', { class: 'hint' }, spec.hint) : null,
      buttons.length ? h('div', { class: 'actions' }, buttons) : null,
      form?.el,
    );
  };

  const reasonForm = (item: AttentionItem) => {
    let action: ActionName | null = null;
    const legend = h('span', { class: 'reason-form-title' });
    const reason = h('textarea', { name: 'reason', rows: 2, maxlength: 500 });
    const reasonLabel = h('label', {}, 'Why? Both parties are told, and it is kept with the action.', reason);
    const confirm = h('button', { type: 'submit', class: 'button primary', 'data-role': 'confirm' });
    const cancel = h('button', { type: 'button', class: 'button quiet', 'data-role': 'cancel', onclick: () => close() }, 'Cancel');
    const error = h('p', { class: 'form-error', role: 'alert', 'data-role': 'error' });
    const el = h(
      'form',
      { class: 'form reason-form', 'data-role': 'reason-form', hidden: true },
      legend,
      reasonLabel,
      h('div', { class: 'actions' }, confirm, cancel),
      error,
    );

    const close = () => {
      el.hidden = true;
      action = null;
      error.textContent = '';
    };
    const open = (name: ActionName) => {
      const spec = ACTIONS[name];
      action = name;
      el.dataset.action = name;
      legend.textContent = `${spec.label}: booking #${item.bookingId}`;
      confirm.textContent = spec.label;
      reasonLabel.hidden = !spec.asksReason;
      reason.required = spec.asksReason;
      error.textContent = '';
      el.hidden = false;
      (spec.asksReason ? reason : confirm).focus();
    };
    const submitAction = async (e: Event) => {
      e.preventDefault();
      if (!action) return;
      const spec = ACTIONS[action];
      // `required` lets spaces through; the server would refuse them in its own words.
      if (spec.asksReason && !reason.value.trim()) {
        error.textContent = 'Say why, in a few words.';
        reason.focus();
        return;
      }
      error.textContent = '';
      confirm.disabled = true;
      try {
        await d.api.post(spec.path(item), spec.asksReason ? { reason: reason.value } : undefined);
        d.toast.show({ kind: 'success', type: 'ops.action', title: spec.done, body: `Booking #${item.bookingId}` });
        close();
        // The events bring the same news as fast as the live client's mode allows; reading now shows it at once.
        void refresh();
      } catch (err) {
        error.textContent = err instanceof ApiError ? err.message : String(err);
      } finally {
        confirm.disabled = false;
      }
    };
    el.addEventListener('submit', (e) => void submitAction(e));
    return { el, open };
  };

  for (const type of ATTENTION_EVENTS) d.on(type, () => void refresh());
  void d.load(refresh);
  window.setInterval(updateAges, AGE_REFRESH_MS);
}

/** How long a case has waited: "under a minute", "5 min", "3 h", "2 days". */
function waitingFor(iso: string, now = Date.now()): string {
  const minutes = Math.floor((now - Date.parse(iso)) / 60_000);
  if (!(minutes >= 1)) return 'under a minute';
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h`;
  return `${Math.floor(hours / 24)} days`;
}
