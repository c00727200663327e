import type { NotificationView } from '../../contract/views.js';
import type { Api } from './api.js';
import { h, reconcileList } from './dom.js';
import { formatAgo, formatWhen } from './format.js';

export type { NotificationView };

interface Elements {
  toggle: HTMLButtonElement;
  badge: HTMLElement;
  panel: HTMLElement;
  list: HTMLElement;
  markAll: HTMLButtonElement;
}

export interface NotificationPanel {
  /** The unread notifications and count of a sync (GET /api/sync); read ones already shown stay. */
  synced(s: { unread: NotificationView[]; unreadCount: number }): void;
  /** A `notification.created` payload; `unreadCount` is absent for announcements to a role or all. */
  created(p: { notification: NotificationView; unreadCount?: number }): void;
  /** A `notification.read` payload (marked in this tab or another). */
  read(p: { ids: string[]; unreadCount: number }): void;
}

const SHOWN = 30;

/**
 * The bell, its unread badge and the panel it opens: newest first, each with its time, a button to
 * mark it read, and one to mark all. Counts come from the server whenever it sends one.
 */
export function createNotificationPanel(api: Api, el: Elements, onError: (err: unknown) => void): NotificationPanel {
  const items = new Map<string, NotificationView>();
  let unread = 0;

  const setUnread = (n: number) => {
    unread = Math.max(0, n);
    el.badge.textContent = unread > 99 ? '99+' : String(unread);
    el.badge.hidden = unread === 0;
    el.badge.dataset.count = String(unread);
    el.toggle.setAttribute('aria-label', unread ? `Notifications, ${unread} unread` : 'Notifications');
    el.markAll.disabled = unread === 0;
  };

  const render = () => {
    const newest = [...items.values()].sort((a, b) => Number(b.id) - Number(a.id)).slice(0, SHOWN);
    if (newest.length === 0) {
      el.list.replaceChildren(h('li', { class: 'empty' }, 'Nothing yet.'));
      return;
    }
    el.list.querySelector('.empty')?.remove();
    reconcileList(
      el.list,
      newest.map((n) => ({ key: n.id, version: `${n.readAt ?? ''}|${formatAgo(n.createdAt)}`, render: () => item(n) })),
    );
  };

  const item = (n: NotificationView) =>
    h(
      'li',
      { class: `notification ${n.readAt ? 'read' : 'unread'}`, 'data-id': n.id, 'data-type': n.type, 'data-read': String(Boolean(n.readAt)) },
      h('p', { class: 'notification-title' }, n.title),
      h('p', { class: 'notification-body' }, n.body),
      h('time', { datetime: n.createdAt, title: formatWhen(n.createdAt) }, formatAgo(n.createdAt)),
      n.readAt
        ? null
        : h(
            'button',
            { type: 'button', class: 'link-button', 'data-action': 'mark-read', onclick: () => void markOne(n.id) },
            'Mark read',
            h('span', { class: 'visually-hidden' }, `: ${n.title}`),
          ),
    );

  const markOne = async (id: string) => {
    try {
      const r = await api.post<{ unreadCount: number }>(`/api/notifications/${encodeURIComponent(id)}/read`);
      markLocally([id], r.unreadCount);
    } catch (err) {
      onError(err);
    }
  };

  const markLocally = (ids: string[], count: number) => {
    const focusWasInside = el.panel.contains(document.activeElement);
    const at = new Date().toISOString();
    for (const id of ids) {
      const n = items.get(id);
      if (n && !n.readAt) items.set(id, { ...n, readAt: at });
    }
    setUnread(count);
    render();
    // The button that had focus is now disabled or gone: focus stays in the panel, so Escape still closes it.
    const focused = document.activeElement as HTMLButtonElement | null;
    if (focusWasInside && !el.panel.hidden && (!el.panel.contains(focused) || focused?.disabled)) el.panel.focus();
  };

  const open = (yes: boolean) => {
    el.panel.hidden = !yes;
    el.toggle.setAttribute('aria-expanded', String(yes));
    if (yes) {
      render();
      el.panel.focus();
    }
  };

  el.toggle.addEventListener('click', () => open(el.panel.hidden));
  el.panel.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      open(false);
      el.toggle.focus();
    }
  });
  const markAll = async () => {
    try {
      const r = await api.post<{ unreadCount: number }>('/api/notifications/read-all');
      markLocally([...items.keys()], r.unreadCount);
    } catch (err) {
      onError(err);
    }
  };
  el.markAll.addEventListener('click', () => void markAll());
  // Relative times ("2 min ago") age while the page is open.
  window.setInterval(() => !el.panel.hidden && render(), 30_000);

  return {
    synced({ unread: list, unreadCount }) {
      for (const [id, n] of items) if (!n.readAt) items.delete(id);
      for (const n of list) items.set(n.id, n);
      setUnread(unreadCount);
      render();
    },
    created({ notification, unreadCount }) {
      const known = items.has(notification.id);
      items.set(notification.id, notification);
      if (unreadCount !== undefined) setUnread(unreadCount);
      else if (!known && !notification.readAt) setUnread(unread + 1);
      render();
    },
    read({ ids, unreadCount }) {
      markLocally(ids, unreadCount);
    },
  };
}
