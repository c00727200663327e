import type { SyncState } from '../../contract/views.js';
import { isAfter } from '../event-ids.js';
import { createLiveClient } from '../live-client.js';
import type { EventEnvelope } from '../types.js';
import { ApiError, createApi, type Api } from './api.js';
import { byId, h } from './dom.js';
import { showConnectionState } from './indicator.js';
import { showSignedOut } from './signed-out-notice.js';
import { setTimeZone } from './format.js';
import { createNotificationPanel, type NotificationView } from './notification-panel.js';
import { DASHBOARD_OF, openSession, type Me, type Role } from './session.js';
import { createToaster, type Toaster } from './toasts.js';
import { relatedKey, toastText } from './toast-text.js';
import { installPushButton } from './push-button.js';
import { installPreferencesButton } from './preferences-dialog.js';

export type LiveClient = ReturnType<typeof createLiveClient>;

export interface Dashboard {
  me: Me;
  /** Signed in as a seeded demo user (so /api/demo/users exists). */
  demo: boolean;
  api: Api;
  live: LiveClient;
  toast: Toaster;
  /** Shows an API failure as an error toast. */
  fail(err: unknown, what: string): void;
  /**
   * Subscribes to an event type. While a sync or a loader runs, events wait and are applied after
   * it, in order, except those the synced state already covers (at or before its `cursor`).
   */
  on(type: string, fn: (e: EventEnvelope) => void): void;
  /** Registers a renderer of GET /api/sync's state: run on start and after every `reset`. */
  onSync(fn: (s: SyncState) => void): void;
  /** Registers a loader for what the sync does not carry, runs it now, and again after every `reset`. */
  load(fn: () => Promise<void>): Promise<void>;
  /** No connection to the server: actions that need it are disabled, with OFFLINE_HINT as their tooltip. */
  offline(): boolean;
  /** Runs `fn` whenever offline() changes. */
  onOfflineChange(fn: () => void): void;
}

export const OFFLINE_HINT = 'Offline: this needs the server; it comes back when the connection does';

/**
 * What every dashboard shares: the session, the header (who, connection indicator, bell), toasts,
 * the notification panel, and the live client. `setUp` registers the page's renderers and event
 * handlers; then the state comes from one GET /api/sync and the live client starts after its
 * `cursor`, so nothing is missed or applied twice. Resolves null when the page cannot be used (no
 * token, wrong role); it then says why in <main>.
 */
export async function startDashboard(role: Role, setUp: (d: Dashboard) => Promise<void> | void): Promise<Dashboard | null> {
  const main = byId('main');
  const toast = createToaster(byId('toasts'), byId('alerts'));
  let session;
  try {
    session = await openSession();
  } catch (err) {
    explain(main, 'Could not sign in', err instanceof ApiError ? `${err.message} (${err.code})` : String(err));
    return null;
  }
  if (!session) {
    explain(main, 'Who are you?', 'Open this page from the home page, or add your token to the address: #token=<JWT>.');
    return null;
  }
  const { me } = session;
  if (me.role !== role) {
    explain(main, `This page is for ${role}s`, `You are signed in as a ${me.role}.`, DASHBOARD_OF[me.role] + location.search);
    return null;
  }
  // The page's name already says the role.
  byId('who').textContent = me.name ?? me.id;
  // Inside the side-by-side view: one bar per frame, without the brand the outer page shows.
  if (window.top !== window.self) document.body.classList.add('embedded');
  document.title = `${me.name ?? me.id} · ${document.title}`;

  const api = createApi(() => session.getToken());
  await useMarketplaceZone();
  const pushButton = installPushButton(api, byId('who'));
  // Operators are not notified of bookings or money of their own.
  if (role !== 'admin') installPreferencesButton(api, pushButton);
  const fail = (err: unknown, what: string) =>
    toast.show({ kind: 'error', type: 'error', title: `Could not ${what}`, body: err instanceof ApiError ? err.message : String(err) });

  const panel = createNotificationPanel(
    api,
    {
      toggle: byId<HTMLButtonElement>('bell'),
      badge: byId('badge'),
      panel: byId('notifications'),
      list: byId('notification-list'),
      markAll: byId<HTMLButtonElement>('mark-all-read'),
    },
    (err) => fail(err, 'mark the notification read'),
  );

  // Three failed attempts (about 2 s while the page is visible) and updates come by long poll.
  const live = createLiveClient({ userKey: me.id, getToken: () => session.getToken(), maxStreamFailures: 3 });
  const indicator = byId('connection');
  const checkNow = h('button', { id: 'check-now', type: 'button', class: 'check-now', hidden: true, onclick: () => live.checkNow() }, 'Check now');
  indicator.after(checkNow);
  showConnectionState(indicator, live.state, undefined, checkNow);
  live.onState((state, reason) => showConnectionState(indicator, state, reason, checkNow));
  let signedOut: HTMLElement | null = null;
  live.onState((state) => (signedOut = showSignedOut(main, state, signedOut)));

  // Events wait while a sync or loader runs; a synced state covers every event up to its cursor.
  let holds = 0;
  let syncedThrough: string | null = null;
  const held: EventEnvelope[] = [];
  const handlers = new Map<string, Array<(e: EventEnvelope) => void>>();
  const deliver = (e: EventEnvelope) => {
    if (syncedThrough !== null && !isAfter(e.id, syncedThrough)) return;
    for (const fn of handlers.get(e.type) ?? []) {
      try {
        fn(e);
      } catch (err) {
        // One handler that throws must not stop the others; it still shows in the console.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  };
  live.on('*', (e) => (holds > 0 ? held.push(e) : deliver(e)));
  const on = (type: string, fn: (e: EventEnvelope) => void) => {
    const list = handlers.get(type) ?? [];
    list.push(fn);
    handlers.set(type, list);
  };
  const run = async (fn: () => Promise<void>, what = 'load this page') => {
    holds++;
    try {
      await fn();
    } catch (err) {
      fail(err, what);
    } finally {
      if (--holds === 0) held.splice(0).forEach(deliver);
    }
  };
  const loaders: Array<() => Promise<void>> = [];
  const load = async (fn: () => Promise<void>) => {
    loaders.push(fn);
    await run(fn);
  };
  const renderers: Array<(s: SyncState) => void> = [];
  let cursor: string | undefined;
  const sync = () =>
    run(async () => {
      const state = await api.get<SyncState>('/api/sync');
      syncedThrough = cursor = state.cursor;
      panel.synced(state.notifications);
      for (const fn of renderers) fn(state);
    });
  live.onReset(() => {
    void sync();
    loaders.forEach((fn) => void run(fn));
  });

  // The event a notification is about comes first in the log; its figures make the toast.
  const related = new Map<string, EventEnvelope>();
  live.on('*', (e) => {
    if (e.type === 'notification.created' || e.type === 'notification.read') return;
    const key = relatedKey(e.type, e.data);
    if (key) related.set(key, e);
    if (related.size > 200) related.delete(related.keys().next().value!);
  });
  on('notification.created', (e) => {
    const p = e.data as { notification: NotificationView; unreadCount?: number };
    panel.created(p);
    if (p.notification.silent) return;
    const key = relatedKey(p.notification.type, p.notification.data);
    toast.show({ ...toastText(p.notification, key ? related.get(key) : undefined), type: p.notification.type });
  });
  on('notification.read', (e) => panel.read(e.data as { ids: string[]; unreadCount: number }));

  const isOffline = () => live.state === 'offline' || live.state === 'signed-out';
  const offlineWatchers: Array<() => void> = [];
  let wasOffline = isOffline();
  live.onState(() => {
    if (isOffline() === wasOffline) return;
    wasOffline = isOffline();
    offlineWatchers.forEach((fn) => fn());
  });
  const dashboard: Dashboard = {
    me,
    demo: session.demo,
    api,
    live,
    toast,
    fail,
    on,
    load,
    onSync: (fn) => void renderers.push(fn),
    offline: isOffline,
    onOfflineChange: (fn) => void offlineWatchers.push(fn),
  };
  await run(async () => setUp(dashboard), 'set up this page');
  // Synced first, then live from the sync's cursor: what happens after the snapshot arrives as events.
  await sync();
  live.start(cursor);
  document.getElementById('loading')?.remove();
  window.addEventListener('pagehide', () => live.stop());
  window.addEventListener('pageshow', (e) => e.persisted && live.start());
  return dashboard;
}

/** The marketplace's time zone, before anything is shown; the default zone if the server cannot say. */
async function useMarketplaceZone(): Promise<void> {
  try {
    const res = await fetch('/api/settings', { cache: 'no-cache' });
    if (res.ok) setTimeZone(((await res.json()) as { timeZone: string }).timeZone);
  } catch {
    // The default zone, the marketplace's usual one, is used.
  }
}

function explain(main: HTMLElement, title: string, text: string, link?: string): void {
  main.replaceChildren(
    h(
      'section',
      { class: 'card notice', role: 'alert' },
      h('h2', {}, title),
      h('p', {}, text),
      link ? h('p', {}, h('a', { href: link }, 'Go to your dashboard')) : null,
      h('p', {}, h('a', { href: '/' }, 'Back to the home page')),
    ),
  );
  byId('connection').hidden = true;
}
