import { byId, h, reconcileList } from './dom.js';

/** The demo's outbox, as GET /api/demo/outbox answers (src/contract/views.ts, DemoOutboxView). */
interface OutboxMessage {
  id: string;
  channel: 'email' | 'push' | 'whatsapp' | 'sms';
  to: string;
  recipient: string | null;
  at: string;
  title: string;
  text: string;
  status: string;
}
interface Outbox {
  messages: OutboxMessage[];
  escalation: { pushAfterS: number; textAfterS: number };
}

/** Often enough that a message shows up within a second or two of its send. */
const POLL_MS = 1_000;
const CHANNEL_LABEL: Record<OutboxMessage['channel'], string> = { email: 'Email', push: 'Push', whatsapp: 'WhatsApp', sms: 'SMS' };

let clock = new Intl.DateTimeFormat('en-ZA', { timeStyle: 'medium', timeZone: 'Africa/Johannesburg' });

const seconds = (s: number) => (s < 120 ? `${s} s` : `${Math.round(s / 60)} min`);

function setState(state: 'connecting' | 'live' | 'offline', text: string): void {
  byId('outbox-state').dataset.state = state;
  byId('outbox-state-text').textContent = text;
}

function render(m: OutboxMessage): HTMLElement {
  return h(
    'li',
    { class: `card outbox-message channel-${m.channel}`, 'data-id': m.id, 'data-channel': m.channel },
    h(
      'div',
      { class: 'outbox-head' },
      h('span', { class: `pill channel channel-${m.channel}` }, CHANNEL_LABEL[m.channel] ?? m.channel),
      h('span', { class: 'outbox-to' }, m.recipient ? `${m.recipient} · ` : '', h('span', { class: 'muted' }, m.to)),
      h('time', { datetime: m.at, class: 'muted' }, clock.format(new Date(m.at))),
    ),
    m.title ? h('p', { class: 'outbox-title' }, m.title) : null,
    h('p', { class: 'outbox-text' }, m.text),
    h('p', { class: 'outbox-status muted', 'data-status': m.status }, m.status),
  );
}

/** Polls the outbox and redraws what changed: new messages on top, a text's status as it is delivered. */
async function poll(): Promise<boolean> {
  let res: Response;
  try {
    res = await fetch('/api/demo/outbox', { cache: 'no-store' });
  } catch {
    setState('offline', 'Server unreachable, retrying');
    return true;
  }
  if (res.status === 404) {
    byId('outbox-unavailable').hidden = false;
    byId('outbox-intro').hidden = true;
    setState('offline', 'Not in demo mode');
    return false;
  }
  if (!res.ok) {
    setState('offline', `The server answered ${res.status}, retrying`);
    return true;
  }
  const outbox = (await res.json()) as Outbox;
  const { pushAfterS, textAfterS } = outbox.escalation;
  byId('outbox-rules').textContent =
    `A notification nobody reads escalates: by push after ${seconds(pushAfterS)} unread if its recipient has no dashboard open, ` +
    `then by WhatsApp after ${seconds(textAfterS)} unread (short in the demo: ESCALATE_PUSH_AFTER_S and ESCALATE_SMS_AFTER_S). ` +
    'Reading it in the app stops that. Payment and payout receipts go by email at once.';
  reconcileList(
    byId('outbox'),
    outbox.messages.map((m) => ({ key: m.id, version: m.status, render: () => render(m) })),
  );
  byId('outbox-empty').hidden = outbox.messages.length > 0;
  byId('outbox').dataset.count = String(outbox.messages.length);
  setState('live', `Live · ${outbox.messages.length} sent`);
  return true;
}

async function start(): Promise<void> {
  try {
    const settings = (await (await fetch('/api/settings', { cache: 'no-cache' })).json()) as { timeZone?: string };
    if (settings.timeZone) clock = new Intl.DateTimeFormat('en-ZA', { timeStyle: 'medium', timeZone: settings.timeZone });
  } catch {
    // The marketplace's default zone stays.
  }
  const loop = async () => {
    if (await poll()) setTimeout(loop, POLL_MS);
  };
  await loop();
}

void start();
