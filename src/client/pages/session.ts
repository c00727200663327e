import type { Profile } from '../../contract/views.js';
import { ApiError, readJson } from './api.js';

export type Role = Profile['role'];

/** GET /api/me's answer: the profile and the unread count (src/docs/operations.ts). */
export type Me = Profile & { unreadCount: number };

export interface Session {
  me: Me;
  /** A valid token, minted again for demo users shortly before it expires. */
  getToken(): Promise<string>;
  demo: boolean;
}

/** Per page, so a client's and a provider's dashboard in one tab (frames) keep their own. */
const storageKey = () => `marketplace.token:${location.pathname}`;
const REFRESH_BEFORE_MS = 5 * 60_000;

/**
 * Who this page acts for: `?as=<demo user id>` (demo mode mints a token on the server), or
 * `#token=<jwt>` (kept for this tab, and taken out of the address bar so it is not shared by
 * copying the link), or the token this tab was given before. Null when there is none.
 */
export async function openSession(): Promise<Session | null> {
  const demoUser = new URLSearchParams(location.search).get('as');
  let token: string;
  let demo = false;
  if (demoUser) {
    token = await mintDemoToken(demoUser);
    demo = true;
  } else {
    const fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
    if (fromHash) {
      sessionStorage.setItem(storageKey(), fromHash);
      history.replaceState(null, '', location.pathname + location.search);
    }
    const stored = fromHash ?? sessionStorage.getItem(storageKey());
    if (!stored) return null;
    token = stored;
  }
  let me: Me;
  try {
    me = await readJson<Me>(await fetch('/api/me', { headers: { Authorization: `Bearer ${token}` } }));
  } catch (err) {
    if (err instanceof ApiError && err.status === 401 && !demo) sessionStorage.removeItem(storageKey());
    throw err;
  }
  let refreshing: Promise<string> | null = null;
  return {
    me,
    demo,
    async getToken() {
      if (!demo || expiresAt(token) - Date.now() > REFRESH_BEFORE_MS) return token;
      refreshing ??= mintDemoToken(demoUser!).then(
        (t) => ((token = t), (refreshing = null), t),
        (err: unknown) => {
          refreshing = null;
          throw err;
        },
      );
      return refreshing;
    },
  };
}

async function mintDemoToken(userId: string): Promise<string> {
  const res = await fetch('/api/demo/sessions', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ userId }),
  });
  return (await readJson<{ token: string }>(res)).token;
}

/** The token's `exp` in ms; only to decide when to refresh, never trusted for anything else. */
function expiresAt(token: string): number {
  try {
    const payload = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))) as { exp?: number };
    return (payload.exp ?? 0) * 1000;
  } catch {
    return 0;
  }
}

export const DASHBOARD_OF: Record<Role, string> = { client: '/client.html', provider: '/provider.html', admin: '/operator.html' };
