/**
 * Display names of the demo users (the API gives a provider only a client's id). Only asked for
 * in demo mode; elsewhere ids are shown.
 */
export async function loadNames(): Promise<Map<string, string>> {
  try {
    const res = await fetch('/api/demo/users');
    if (!res.ok) return new Map();
    const { users } = (await res.json()) as { users: Array<{ id: string; name: string }> };
    return new Map(users.map((u) => [u.id, u.name]));
  } catch {
    return new Map();
  }
}
