import type { ConnectionState } from '../types.js';

const LABEL: Record<ConnectionState, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  polling: 'Polling',
  offline: 'Offline',
  'signed-out': 'Signed out',
};

const EXPLAIN: Record<ConnectionState, string> = {
  connecting: 'Connecting to live updates',
  live: 'Live: updates arrive as they happen',
  polling: 'Polling: the live stream is unavailable, so updates are checked for every so often',
  offline: 'Offline: no connection to the server; updates resume when it is back',
  'signed-out': 'Signed out: the session has expired; sign in again to see updates',
};

/** The connection indicator: `data-state` carries the state (the CSS colours it; tests read it). */
export function showConnectionState(el: HTMLElement, state: ConnectionState, reason?: string): void {
  el.dataset.state = state;
  const label = el.querySelector('.connection-label');
  if (label) label.textContent = LABEL[state];
  el.title = reason ? `${EXPLAIN[state]} (${reason})` : EXPLAIN[state];
  el.setAttribute('aria-label', `Connection: ${LABEL[state]}`);
}
