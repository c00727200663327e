import { h } from './dom.js';

/**
 * "Start the demo over": asks first, then POST /api/demo/reset (demo mode only; the server has no
 * such route otherwise). `done` runs after a reset that worked, e.g. to reload the dashboards.
 */
export function demoResetButton(done: () => void): HTMLElement {
  const status = h('span', { class: 'reset-status', role: 'status' });
  const button = h('button', { type: 'button', id: 'demo-reset', class: 'button quiet' }, 'Reset the demo');
  const reset = async () => {
    if (!confirm('Start the demo over? Every booking, payment, payout and notification of the demo is deleted.')) return;
    button.disabled = true;
    status.textContent = 'Resetting…';
    try {
      const res = await fetch('/api/demo/reset', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ confirm: 'reset' }),
      });
      if (!res.ok) throw new Error(`the server answered ${res.status}`);
      status.textContent = 'The demo starts over: no bookings, payments or notifications left.';
      done();
    } catch (err) {
      status.textContent = `Could not reset the demo: ${err instanceof Error ? err.message : String(err)}`;
    } finally {
      button.disabled = false;
    }
  };
  button.addEventListener('click', () => void reset());
  return h('span', { class: 'demo-reset' }, button, ' ', status);
}
