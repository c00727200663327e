import type { Booking } from './bookings.js';
import { h } from './dom.js';

/**
 * The demo's story in five steps, on the client's page in demo mode. The step that is next is
 * marked (aria-current) from the newest booking's state, so the strip follows the booking as it
 * moves, whoever moved it.
 */
export function createDemoGuide(providerName: () => string): { el: HTMLElement; follow(b: Booking | undefined): void } {
  const el = h('ol', { id: 'demo-guide', class: 'guide', 'aria-label': 'The demo, step by step' });
  const follow = (b: Booking | undefined) => {
    const current = stepOf(b);
    const who = providerName();
    const steps = ['Request a plumber', `${who} accepts`, 'Pay', `${who} starts and completes`, 'Confirm, and watch the payout'];
    el.dataset.step = String(current);
    el.replaceChildren(
      ...steps.map((text, i) =>
        h('li', { 'data-step': i + 1, 'aria-current': i + 1 === current ? 'step' : null, class: i + 1 < current ? 'done' : null }, text),
      ),
      ...(current === 6
        ? [h('li', { class: 'guide-end', 'data-step': 6, 'aria-current': 'step' }, `Released: watch the payout reach ${who} on the provider's page`)]
        : []),
      // Beside the steps, not one of them: where the emails, pushes and texts the story sends show up.
      h('li', { class: 'guide-link' }, h('a', { href: '/outbox.html', target: '_blank', rel: 'noopener' }, 'Outbox: emails, push, WhatsApp')),
    );
  };
  return { el, follow };
}

/** 1-5 for the step to take next; 6 once the client has confirmed (the payout follows by itself). */
export function stepOf(b: Booking | undefined): number {
  const pay = b?.payment?.status;
  if (!b || b.status === 'CANCELLED' || b.status === 'REJECTED') return 1;
  if (b.status === 'PENDING') return 2;
  if (b.status === 'CONFIRMED' && pay !== 'ESCROW') return 3;
  if (b.status === 'CONFIRMED' || b.status === 'IN_PROGRESS') return 4;
  if (b.status === 'COMPLETED' && pay === 'ESCROW') return 5;
  return 6;
}
