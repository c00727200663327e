import { h } from './dom.js';

/**
 * Asks before a booking is cancelled, with room for a reason the other side is told. Resolves the
 * reason ('' for none) when the person confirms, null when they keep the booking.
 */
export function askToCancel(what: string): Promise<string | null> {
  return new Promise((resolve) => {
    const reason = h('textarea', { id: 'cancel-reason', rows: 2, maxlength: 500 });
    const dialog = h(
      'dialog',
      { class: 'card cancel-dialog', 'aria-labelledby': 'cancel-heading' },
      h(
        'form',
        { method: 'dialog', class: 'form' },
        h('h2', { id: 'cancel-heading' }, `Cancel ${what}?`),
        h('p', {}, 'The other side is told that you cancelled, and why if you say.'),
        h('label', {}, h('span', {}, 'Reason ', h('span', { class: 'muted' }, '(optional)')), reason),
        h(
          'div',
          { class: 'actions' },
          h('button', { type: 'submit', value: 'keep', class: 'button quiet', 'data-action': 'keep-booking' }, 'Keep the booking'),
          h('button', { type: 'submit', value: 'cancel', class: 'button danger', 'data-action': 'confirm-cancel' }, 'Cancel the booking'),
        ),
      ),
    );
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(dialog.returnValue === 'cancel' ? reason.value.trim() : null);
    });
    document.body.append(dialog);
    dialog.showModal();
    reason.focus();
  });
}
