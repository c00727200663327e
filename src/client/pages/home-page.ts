import { byId, h } from './dom.js';
import { capitalise } from './format.js';

interface DemoUser {
  id: string;
  role: string;
  name: string;
  blurb: string;
  page: string;
  services: string[];
}

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
      h('li', { class: 'card user', 'data-user-id': u.id },
        h('h3', {}, u.name),
        h('p', { class: 'muted' }, `${capitalise(u.role)} · ${u.blurb}`),
        u.services.length ? h('p', {}, `Services: ${u.services.join(', ')}`) : null,
        h('a', { class: 'button primary', href: `${u.page}?as=${encodeURIComponent(u.id)}`, 'data-role': u.role }, `Open ${u.name}'s dashboard`)),
    ),
  );
  const client = users.find((u) => u.role === 'client');
  const provider = users.find((u) => u.role === 'provider');
  if (client && provider) {
    const link = byId<HTMLAnchorElement>('side-by-side');
    link.href = `/side-by-side.html?client=${encodeURIComponent(client.id)}&provider=${encodeURIComponent(provider.id)}`;
    link.textContent = `Open ${client.name} and ${provider.name} side by side`;
    link.hidden = false;
  }
}

void home();
