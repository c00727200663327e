import type { ConnectionState } from '../types.js';

const LABEL: Record<ConnectionState, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  polling: 'Reconnecting… checking for updates every few seconds',
  offline: 'Offline',
  'signed-out': 'Signed out',
};

const EXPLAIN: Record<ConnectionState, string> = {
  connecting: 'Connecting to live updates',
  live: 'Live: updates arrive as they happen',
  polling: 'The live connection is down; updates still arrive by checking the server, and Live comes back by itself',
  offline: 'Offline: no connection to the server; updates resume when it is back',
  'signed-out': 'Signed out: the session has expired; sign in again to see updates',
};

/** States in which a person may ask to check now rather than wait for the next attempt. */
const CHECKABLE: ReadonlySet<ConnectionState> = new Set(['connecting', 'polling']);

/**
 * The connection indicator: `data-state` carries the state (the CSS colours it; tests read it).
 * The words are for people; the client's technical reason is kept in `data-reason` for whoever
 * debugs it. `checkNow`, when given, is shown only while a check can help.
 */
export function showConnectionState(el: HTMLElement, state: ConnectionState, reason?: string, checkNow?: HTMLElement): void {
  el.dataset.state = state;
  if (reason) el.dataset.reason = reason;
  else delete el.dataset.reason;
  const label = el.querySelector('.connection-label');
  if (label) label.textContent = LABEL[state];
  el.title = EXPLAIN[state];
  el.setAttribute('aria-label', `Connection: ${LABEL[state]}`);
  if (checkNow) checkNow.hidden = !CHECKABLE.has(state);
}
