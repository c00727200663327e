import { startDashboard, type Dashboard } from './dashboard.js';
import { byId, h } from './dom.js';
import { formatAgo } from './format.js';
import { readJson } from './api.js';
import { createAttentionPanel } from './attention-panel.js';

/** The parts of GET /api/status this page shows (src/ops/status-routes.ts). */
interface Status {
  status: string;
  version: string;
  instanceId: string;
  uptimeSeconds: number;
  database: { reachable: boolean; kind: string; latencyMs: number | null };
  streams: { open: number; byRole: Record<string, number>; connectedUsers: number };
  events: { lastEventId: string | null; dispatchedThrough: string; published: number; delivered: number; replayed: number };
  fanoutLag: { p50Ms: number | null; p99Ms: number | null; samples: number };
  slowConsumersDropped: number;
  pollingRequests: number;
  recentErrors: { windowMinutes: number; byCode: Record<string, number> };
}

const REFRESH_MS = 2_000;
const FEED_SIZE = 25;

await startDashboard('admin', operatorDashboard);

/** An operator's view: the cases that need a person, the server's live status, announcements, and the events this stream gets. */
function operatorDashboard(d: Dashboard): void {
  byId('content').hidden = false;
  createAttentionPanel(d, {
    list: byId('attention'),
    empty: byId('attention-empty'),
    error: byId('attention-error'),
    count: byId('attention-count'),
  });
  let previous: { at: number; published: number } | null = null;

  const refresh = async () => {
    try {
      const s = await readJson<Status>(await fetch('/api/status', { cache: 'no-store', headers: { Accept: 'application/json' } }));
      const at = performance.now();
      const rate = previous ? ((s.events.published - previous.published) * 1000) / (at - previous.at) : null;
      previous = { at, published: s.events.published };
      showStatus(s, rate);
      byId('status-error').textContent = '';
    } catch (err) {
      byId('status-error').textContent = `Status unavailable: ${err instanceof Error ? err.message : String(err)}`;
    }
  };
  void refresh();
  window.setInterval(refresh, REFRESH_MS);

  const feed = byId('feed');
  d.live.on('*', (e) => {
    byId('feed-empty').hidden = true;
    feed.prepend(
      h(
        'li',
        { 'data-type': e.type },
        h('code', {}, `#${e.id}`),
        ' ',
        h('strong', {}, e.type),
        ' ',
        h('time', { datetime: e.occurredAt }, formatAgo(e.occurredAt)),
      ),
    );
    while (feed.children.length > FEED_SIZE) feed.lastElementChild?.remove();
  });

  setUpAnnouncementForm(d);
}

function showStatus(s: Status, eventsPerSecond: number | null): void {
  const set = (id: string, v: string | number) => (byId(id).textContent = String(v));
  const overall = byId('overall');
  overall.dataset.status = s.status;
  overall.textContent = s.status;
  set('version', `${s.version} · ${s.instanceId}`);
  set('uptime', uptime(s.uptimeSeconds));
  set('database', s.database.reachable ? `${s.database.kind}, ${s.database.latencyMs?.toFixed(1)} ms` : `${s.database.kind}: unreachable`);
  set('streams-open', s.streams.open);
  set('users-connected', s.streams.connectedUsers);
  for (const role of ['client', 'provider', 'admin']) set(`streams-${role}`, s.streams.byRole[role] ?? 0);
  set('events-rate', eventsPerSecond === null ? '…' : eventsPerSecond.toFixed(eventsPerSecond < 10 ? 1 : 0));
  set('events-published', s.events.published);
  set('events-delivered', `${s.events.delivered} live · ${s.events.replayed} replayed`);
  set('last-event', s.events.lastEventId ?? '–');
  set('lag', s.fanoutLag.samples ? `${s.fanoutLag.p50Ms ?? '–'} ms / ${s.fanoutLag.p99Ms ?? '–'} ms` : 'no samples yet');
  set('polls', s.pollingRequests);
  set('dropped', s.slowConsumersDropped);
  const errors = Object.entries(s.recentErrors.byCode).sort((a, b) => b[1] - a[1]);
  set('errors-window', s.recentErrors.windowMinutes);
  byId('errors').replaceChildren(
    ...(errors.length
      ? errors.map(([code, n]) => h('tr', { 'data-code': code }, h('td', {}, h('code', {}, code)), h('td', { class: 'num' }, n)))
      : [h('tr', {}, h('td', { colspan: 2, class: 'muted' }, 'None'))]),
  );
}

function uptime(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return h ? `${h} h ${m} min` : m ? `${m} min ${seconds % 60} s` : `${seconds} s`;
}

function setUpAnnouncementForm(d: Dashboard): void {
  const form = byId<HTMLFormElement>('announce-form');
  const title = byId<HTMLInputElement>('announce-title');
  const body = byId<HTMLTextAreaElement>('announce-body');
  const audience = byId<HTMLSelectElement>('announce-audience');
  const result = byId('announce-result');
  const submit = form.querySelector<HTMLButtonElement>('button[type=submit]')!;
  const announce = async (e: Event) => {
    e.preventDefault();
    result.textContent = '';
    submit.disabled = true;
    try {
      const target = audience.value === 'all' ? { all: true } : { role: audience.value };
      const r = await d.api.post<{ eventId: string }>('/api/broadcasts', { title: title.value, body: body.value, ...target });
      const to = audience.selectedOptions[0]?.textContent?.trim() || audience.value;
      result.textContent = `Sent to ${to.toLowerCase()} (event #${r.eventId}).`;
      title.value = '';
      body.value = '';
    } catch (err) {
      result.textContent = `Not sent: ${err instanceof Error ? err.message : String(err)}`;
    } finally {
      submit.disabled = false;
    }
  };
  form.addEventListener('submit', (e) => void announce(e));
}
