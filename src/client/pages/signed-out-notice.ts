import type { ConnectionState } from '../types.js';
import { h } from './dom.js';

/**
 * What a dashboard says when the live client has gone to `signed-out` (the server refused the
 * token, and the one asked for again too): the indicator alone is easy to miss, and what the page
 * shows stops changing, so a notice at the top of <main> says so and how to get back. The page
 * keeps what it shows; the notice goes when the client leaves that state.
 */
export function showSignedOut(main: HTMLElement, state: ConnectionState, notice: HTMLElement | null): HTMLElement | null {
  if (state !== 'signed-out') {
    notice?.remove();
    return null;
  }
  if (notice) return notice;
  const el = h(
    'section',
    { id: 'signed-out', class: 'card notice', role: 'alert' },
    h('h2', {}, 'You are signed out'),
    h('p', {}, 'Your session has expired, so this page no longer updates: what it shows may be out of date.'),
    h('p', {}, 'Sign in again from the home page, or open this page with a new token in its address (#token=<JWT>).'),
    h('p', {}, h('a', { href: '/' }, 'Back to the home page')),
  );
  main.prepend(el);
  return el;
}
