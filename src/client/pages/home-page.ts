import { byId, h } from './dom.js';
import { capitalise } from './format.js';
import { demoResetButton } from './demo-reset.js';

interface DemoUser {
  id: string;
  role: string;
  name: string;
  blurb: string;
  page: string;
  services: string[];
  pairedWith?: { providerId: string; service: string };
}

/** A user's dashboard; a client's opens with the provider and service of the demo's story chosen. */
const dashboardLink = (u: DemoUser): string => {
  const q = new URLSearchParams({ as: u.id });
  if (u.pairedWith) {
    q.set('provider', u.pairedWith.providerId);
    q.set('service', u.pairedWith.service);
  }
  return `${u.page}?${q}`;
};

/**
 * In demo mode, the seeded users with a button each for their dashboard; otherwise the
 * explanation of how to open a dashboard with a token (static in the page).
 */
async function home(): Promise<void> {
  let users: DemoUser[] | null = null;
  try {
    const res = await fetch('/api/demo/users');
    if (res.ok) users = ((await res.json()) as { users: DemoUser[] }).users;
  } catch {
    users = null;
  }
  if (!users) {
    byId('no-demo').hidden = false;
    return;
  }
  byId('demo').hidden = false;
  byId('demo-users').replaceChildren(
    ...users.map((u) =>
      h(
        'li',
        { class: 'card user', 'data-user-id': u.id },
        h('h3', {}, u.name),
        h('p', { class: 'muted' }, `${capitalise(u.role)} · ${u.blurb}`),
        u.services.length ? h('p', {}, `Services: ${u.services.join(', ')}`) : null,
        h('a', { class: 'button primary', href: dashboardLink(u), 'data-role': u.role }, `Open ${possessive(u.name)} dashboard`),
      ),
    ),
  );
  const client = users.find((u) => u.role === 'client');
  const provider = users.find((u) => u.id === client?.pairedWith?.providerId) ?? users.find((u) => u.role === 'provider');
  if (client && provider) {
    const link = byId<HTMLAnchorElement>('side-by-side');
    const q = new URLSearchParams({ client: client.id, provider: provider.id });
    if (client.pairedWith?.providerId === provider.id) q.set('service', client.pairedWith.service);
    link.href = `/side-by-side.html?${q}`;
    link.textContent = `Open ${client.name} and ${provider.name} side by side`;
    link.hidden = false;
  }
  byId('demo-reset-slot').replaceChildren(demoResetButton(() => undefined));
}

/** "Thandi Nkosi's", "Operations'" (a name ending in s takes the apostrophe alone). */
function possessive(name: string): string {
  return /s$/i.test(name) ? `${name}'` : `${name}'s`;
}

void home();
