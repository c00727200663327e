import type { ContactPreferencesView } from '../../contract/views.js';
import { EVENT_TYPES } from '../../contract/event-names.js';
import { ApiError, type Api } from './api.js';
import { h } from './dom.js';

const PATH = '/api/me/notification-preferences';
const CHANNELS = ['email', 'push', 'whatsapp', 'sms'] as const;
/** Types that never become a person's notification: the inbox's own events and the operators' queue. */
const NOT_NOTIFIED = new Set(['notification.created', 'notification.read', 'ops.attention']);
const TYPES = EVENT_TYPES.filter((t) => !NOT_NOTIFIED.has(t));

/**
 * "Preferences" in the bar: a dialog with the user's contact email and phone, time zone, quiet
 * hours, and the channels each notification type may use, read from and saved to the API. A
 * refused save shows the server's message, field by field, and keeps the dialog open.
 */
export function installPreferencesButton(api: Api, after: Element): HTMLButtonElement {
  const button = h('button', { id: 'preferences-toggle', type: 'button', class: 'link-button' }, 'Preferences');
  after.insertAdjacentElement('afterend', button);
  const openPreferences = async () => {
    button.disabled = true;
    try {
      openDialog(api, await api.get<ContactPreferencesView>(PATH));
    } catch (err) {
      button.title = err instanceof Error ? err.message : String(err);
    } finally {
      button.disabled = false;
    }
  };
  button.addEventListener('click', () => void openPreferences());
  return button;
}

function openDialog(api: Api, prefs: ContactPreferencesView): void {
  const input = (id: string, attrs: Record<string, string | boolean>, value: string | null) => h('input', { id, name: id, ...attrs, value: value ?? '' });
  const email = input('pref-email', { type: 'email', autocomplete: 'email' }, prefs.email);
  const phone = input('pref-phone', { type: 'tel', autocomplete: 'tel', placeholder: '+27825551234' }, prefs.phone);
  const zone = input('pref-time-zone', { type: 'text', required: true }, prefs.timeZone);
  const quietStart = input('pref-quiet-start', { type: 'time' }, prefs.quietHours?.start ?? null);
  const quietEnd = input('pref-quiet-end', { type: 'time' }, prefs.quietHours?.end ?? null);
  const error = h('p', { id: 'pref-error', class: 'error', role: 'alert' });
  // A type with no choice saved may use every channel its policy has.
  const allowed = (type: string, channel: string) => !prefs.channels[type] || prefs.channels[type].includes(channel as (typeof CHANNELS)[number]);
  const boxes = new Map<string, HTMLInputElement>();
  const rows = TYPES.map((type) =>
    h(
      'tr',
      { 'data-type': type },
      h('th', { scope: 'row' }, h('code', {}, type)),
      ...CHANNELS.map((channel) => {
        const box = h('input', { type: 'checkbox', 'data-channel': channel, 'aria-label': `${type} by ${channel}`, checked: allowed(type, channel) });
        boxes.set(`${type}|${channel}`, box);
        return h('td', {}, box);
      }),
    ),
  );
  const dialog = h(
    'dialog',
    { id: 'preferences', class: 'card cancel-dialog preferences-dialog', 'aria-labelledby': 'preferences-heading' },
    h(
      'form',
      { method: 'dialog', class: 'form' },
      h('h2', { id: 'preferences-heading' }, 'Notification preferences'),
      h('label', {}, h('span', {}, 'Email'), email),
      h('label', {}, h('span', {}, 'Phone (WhatsApp and SMS)'), phone),
      h('label', {}, h('span', {}, 'Time zone'), zone),
      h(
        'fieldset',
        {},
        h('legend', {}, 'Quiet hours (only urgent messages)'),
        h('label', {}, h('span', {}, 'From'), quietStart),
        h('label', {}, h('span', {}, 'To'), quietEnd),
      ),
      h(
        'details',
        {},
        h('summary', {}, 'Channels per notification type'),
        h(
          'table',
          { class: 'channels' },
          h('thead', {}, h('tr', {}, h('th', {}, 'Type'), ...CHANNELS.map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', {}, rows),
        ),
      ),
      error,
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'submit', value: 'close', class: 'button quiet', formnovalidate: true }, 'Close'),
        h('button', { type: 'button', class: 'button primary', 'data-action': 'save-preferences', onclick: () => void save() }, 'Save'),
      ),
    ),
  );

  const save = async () => {
    error.textContent = '';
    const quietHours = quietStart.value && quietEnd.value ? { start: quietStart.value, end: quietEnd.value } : null;
    const channels = Object.fromEntries(TYPES.map((type) => [type, CHANNELS.filter((c) => boxes.get(`${type}|${c}`)!.checked)]));
    try {
      await api.put<ContactPreferencesView>(PATH, {
        mutedTypes: prefs.mutedTypes,
        email: email.value.trim() || null,
        phone: phone.value.trim() || null,
        timeZone: zone.value.trim(),
        quietHours,
        channels,
      });
      dialog.close('saved');
    } catch (err) {
      error.textContent = describe(err);
    }
  };

  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  email.focus();
}

/** The server's message, with each refused field and why. */
function describe(err: unknown): string {
  if (!(err instanceof ApiError)) return err instanceof Error ? err.message : String(err);
  const issues = Array.isArray(err.details) ? (err.details as Array<{ path?: string; message?: string }>) : [];
  const why = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : String(i.message))).join('; ');
  return why ? `${err.message}: ${why}` : err.message;
}
