/**
 * The steps of the announce phase, in the order they run: the users, the sample's requests before
 * the announcement, the announcement to all, each sampled user's inbox and unread count, read-all,
 * and the read state afterwards. Each step writes its figures into the phase's result.
 */
import { nowMs } from './protocol';
import { json, lat, type AnnounceSession, type AnnounceUser } from './announce-session';
import { countRows } from './announce-rows';
import { readMetrics } from './http';
import type { AnnounceResult } from './announce';

/** The announcement as every sampled user must find it in their inbox. */
export interface Announcement {
  title: string;
  body: string;
}

/** Users: PostgreSQL, one INSERT through `pg`; PGlite, `GET /api/me` for each within the budget. */
export async function createUsers(s: AnnounceSession, result: AnnounceResult): Promise<void> {
  const { o, pg } = s;
  const { users } = s.who;
  const tc = nowMs();
  if (pg) {
    s.say(`inserting ${o.users} users (one INSERT)`);
    const r = await pg.query('INSERT INTO users (id, role) SELECT * FROM unnest($1::text[], $2::text[])', [users.map((u) => u.id), users.map((u) => u.role)]);
    result.users.created = r.rowCount ?? 0;
  } else {
    await createUsersThroughApi(s, result.users);
  }
  result.users.seconds = (nowMs() - tc) / 1000;
  result.users.perSec = result.users.created / Math.max(1e-9, result.users.seconds);
  s.say(`${result.users.created}/${o.users} users in ${result.users.seconds.toFixed(1)} s (${result.users.perSec.toFixed(0)}/s)`);
}

async function createUsersThroughApi(s: AnnounceSession, created: AnnounceResult['users']): Promise<void> {
  const { o } = s;
  const { users } = s.who;
  s.say(`creating ${o.users} users through GET /api/me, ${o.createConcurrency} at a time (budget ${o.createBudgetMs / 1000} s)`);
  const deadline = Date.now() + o.createBudgetMs;
  let next = 0;
  let lastReport = Date.now();
  await Promise.all(
    Array.from({ length: o.createConcurrency }, async () => {
      while (next < users.length && Date.now() < deadline) {
        const u = users[next++];
        const r = await s.call('GET', '/api/me', u.token, undefined, s.pool);
        if (r.status === 200) created.created++;
        else {
          const k = r.status ? `HTTP ${r.status}` : r.body;
          created.failures[k] = (created.failures[k] ?? 0) + 1;
        }
        if (Date.now() - lastReport > 10_000) {
          lastReport = Date.now();
          s.say(`${created.created}/${o.users} users created`);
        }
      }
    }),
  );
}

/** True, with the reason in the result, when fewer users were created than asked for. */
export function skippedForTooFewUsers(s: AnnounceSession, result: AnnounceResult): boolean {
  const { o, pg } = s;
  if (result.users.created >= o.users) return false;
  result.skipped =
    `only ${result.users.created} of ${o.users} users created in ${result.users.seconds.toFixed(0)} s` +
    (Object.keys(result.users.failures).length ? ` (failures ${JSON.stringify(result.users.failures)})` : '') +
    (pg ? '' : `; the budget for creating them through the API is ${o.createBudgetMs / 1000} s`);
  s.say(`skipped: ${result.skipped}`);
  return true;
}

/** Warm-up: the sample and the admin have been active before; the sample's requests are timed for the table. */
export async function beforeTheAnnouncement(s: AnnounceSession, sample: AnnounceUser[], result: AnnounceResult): Promise<void> {
  const { seq } = s;
  const { admin } = s.who;
  s.say(`sample of ${sample.length}: inbox and unread count before the announcement`);
  const beforeInbox: number[] = [];
  const beforeMe: number[] = [];
  for (const u of sample) {
    const a = await s.call('GET', '/api/notifications', u.token, undefined, seq);
    if (a.status !== 200) s.error(`${u.id}: GET /api/notifications before answered ${a.status} ${a.body.slice(0, 200)}`);
    else beforeInbox.push(a.ms);
    const b = await s.call('GET', '/api/me', u.token, undefined, seq);
    if (b.status !== 200) s.error(`${u.id}: GET /api/me before answered ${b.status} ${b.body.slice(0, 200)}`);
    else {
      beforeMe.push(b.ms);
      if (json(b)?.unreadCount !== 0) s.error(`${u.id}: unreadCount before the announcement is ${json(b)?.unreadCount}, expected 0`);
    }
  }
  result.before = { inbox: lat(beforeInbox), me: lat(beforeMe) };
  // The admin's claims are written, and the publish path compiled, by a broadcast to the admin
  // alone (a personal notification), before anything is counted.
  const warm = await s.call('POST', '/api/broadcasts', admin.token, { title: 'bench warm-up', body: 'to the admin only', userIds: [admin.id] }, seq);
  if (warm.status !== 202) s.error(`warm-up broadcast to the admin answered ${warm.status} ${warm.body.slice(0, 200)}`);
}

/** `POST /api/broadcasts {all: true}`: time to 202 and server CPU, rows counted around it (PostgreSQL). */
export async function sendAnnouncement(s: AnnounceSession, result: AnnounceResult): Promise<Announcement> {
  const { o, pg, server } = s;
  const { admin } = s.who;
  const title = `bench announcement ${s.who.run}`;
  const body = `To all ${o.users} users, sent by the bench at ${new Date().toISOString()}`;
  if (pg) {
    result.rows.method = 'before-after';
    result.rows.before = await countRows(pg, admin.id);
  }
  s.say(`POST /api/broadcasts {all: true} with ${o.users} users in the database`);
  const m0 = await readMetrics(server.url);
  const sent = await s.call('POST', '/api/broadcasts', admin.token, { title, body, all: true }, s.seq);
  const m1 = await readMetrics(server.url);
  result.send = {
    status: sent.status,
    ms: sent.status === 202 ? sent.ms : null,
    serverCpuMs: (m1.cpuSeconds - m0.cpuSeconds) * 1000,
    eventId: json(sent)?.eventId ?? null,
  };
  if (sent.status !== 202) {
    s.error(`POST /api/broadcasts {all: true} answered ${sent.status} ${sent.body.slice(0, 200)}`);
  }
  if (pg) {
    result.rows.afterSend = await countRows(pg, admin.id);
    result.rows.sendNotifications = result.rows.afterSend.notifications - result.rows.before!.notifications;
    result.rows.sendReads = result.rows.afterSend.notificationReads - result.rows.before!.notificationReads;
  }
  s.say(`202 after ${sent.ms.toFixed(1)} ms` + (pg ? `; rows written: ${result.rows.sendNotifications} notifications, ${result.rows.sendReads} reads` : ''));
  return { title, body };
}

/** Each sampled user's inbox (the announcement in it, unread) and unread count, one at a time. */
export async function readInboxes(s: AnnounceSession, sample: AnnounceUser[], sent: Announcement, result: AnnounceResult): Promise<void> {
  const { seq } = s;
  s.say(`sample of ${sample.length}: GET /api/notifications and GET /api/me, one at a time`);
  const inbox: number[] = [];
  const me: number[] = [];
  for (const u of sample) {
    const a = await s.call('GET', '/api/notifications', u.token, undefined, seq);
    if (a.status !== 200) s.error(`${u.id}: GET /api/notifications answered ${a.status} ${a.body.slice(0, 200)}`);
    else {
      inbox.push(a.ms);
      const v = json(a);
      const list: Array<{ type: string; title: string; body: string; readAt: string | null }> = v?.notifications ?? [];
      const found = list.find((n) => n.title === sent.title && n.body === sent.body);
      if (!found) s.error(`${u.id} (${u.role}): the announcement is not in GET /api/notifications (${list.length} notifications)`);
      else if (found.type !== 'announcement' || found.readAt !== null)
        s.error(`${u.id}: announcement listed as ${JSON.stringify({ type: found.type, readAt: found.readAt })}`);
      if (!(typeof v?.unreadCount === 'number' && v.unreadCount >= 1))
        s.error(`${u.id} (${u.role}): GET /api/notifications unreadCount ${v?.unreadCount}, expected >= 1`);
    }
    const b = await s.call('GET', '/api/me', u.token, undefined, seq);
    if (b.status !== 200) s.error(`${u.id}: GET /api/me answered ${b.status} ${b.body.slice(0, 200)}`);
    else {
      me.push(b.ms);
      const c = json(b)?.unreadCount;
      if (!(typeof c === 'number' && c >= 1)) s.error(`${u.id} (${u.role}): GET /api/me unreadCount ${c}, expected >= 1`);
    }
  }
  result.inbox = lat(inbox);
  result.me = lat(me);
}

/** `POST /api/notifications/read-all` for each sampled user (must answer unreadCount 0), and the rows that wrote. */
export async function readAll(s: AnnounceSession, sample: AnnounceUser[], result: AnnounceResult): Promise<void> {
  const { pg } = s;
  s.say(`sample of ${sample.length}: POST /api/notifications/read-all, one at a time`);
  const times: number[] = [];
  for (const u of sample) {
    const r = await s.call('POST', '/api/notifications/read-all', u.token, undefined, s.seq);
    if (r.status !== 200) s.error(`${u.id}: POST /api/notifications/read-all answered ${r.status} ${r.body.slice(0, 200)}`);
    else {
      times.push(r.ms);
      const c = json(r)?.unreadCount;
      if (c !== 0) s.error(`${u.id}: read-all answered unreadCount ${c}, expected 0`);
    }
  }
  result.readAll = lat(times);
  if (pg) {
    const rows = result.rows;
    rows.afterReadAll = await countRows(pg, s.who.admin.id);
    rows.readAllReads = rows.afterReadAll.notificationReads - rows.afterSend!.notificationReads;
    rows.readAllMarked = rows.afterReadAll.notificationsRead - rows.afterSend!.notificationsRead;
    if (rows.afterReadAll.notifications !== rows.afterSend!.notifications) {
      s.error(`read-all changed the number of notifications rows: ${rows.afterSend!.notifications} -> ${rows.afterReadAll.notifications}`);
    }
  }
}

/** Read state sticks: the unread count each of them sees now. */
export async function confirmRead(s: AnnounceSession, sample: AnnounceUser[]): Promise<void> {
  for (const u of sample) {
    const b = await s.call('GET', '/api/me', u.token, undefined, s.seq);
    const c = json(b)?.unreadCount;
    if (b.status !== 200 || c !== 0) s.error(`${u.id}: after read-all GET /api/me answered ${b.status}, unreadCount ${c}, expected 0`);
  }
}
