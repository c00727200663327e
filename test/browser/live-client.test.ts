import type { Browser, BrowserContext, Page } from 'playwright-core';
import { describeBrowser, launchBrowser, newPage, screenshot, waitUntil } from '../support/browser';
import { startTestServer, type TestServer } from '../support/test-server';

/**
 * The browser client (src/client/live-client.ts, served as /lib/client/live-client.js) in real Chromium
 * against the real server: real EventSource, Web Locks, BroadcastChannel and localStorage.
 */

interface PageLive {
  events: Array<{ id: string; type: string; data: { n: number } }>;
  states: Array<[string, string]>;
  resets: number;
  tokenCalls: number;
}

type ClientOptions = Record<string, unknown>;

describeBrowser('browser live client', () => {
  let srv: TestServer;
  let browser: Browser;
  let context: BrowserContext;

  beforeAll(async () => {
    [srv, browser] = await Promise.all([startTestServer({ POLL_INTERVAL_MS: '1000' }), launchBrowser()]);
  });
  afterAll(async () => {
    await browser?.close();
    await srv?.stop();
  });
  beforeEach(async () => {
    // A context per test: its own localStorage, locks and channels, like a separate browser profile.
    context = await browser.newContext();
  });
  afterEach(async () => {
    const state = expect.getState();
    if (state.assertionCalls !== state.numPassingAsserts) {
      for (const [i, p] of context.pages().entries()) await screenshot(p, `live-client-${state.currentTestName}-${i}`).catch(() => undefined);
    }
    await context.close();
  });

  /** Loads the module on a page of the server's origin and starts a client that records everything. */
  async function openClient(page: Page, userKey: string, tokens: string[], options: ClientOptions = {}, at = srv.url, after?: string): Promise<void> {
    await page.goto(`${at}/healthz`);
    // A string, not a function: ts-jest would compile import() in a function into require().
    await page.evaluate(`import('/lib/client/live-client.js').then((m) => { window.__module = m; })`);
    await page.evaluate(
      ({ userKey, tokens, options, after }) => {
        const w = window as any;
        const live = { events: [], states: [], resets: 0, tokenCalls: 0 } as PageLive & { client?: unknown };
        w.__tokens = tokens;
        const client = w.__module.createLiveClient({
          userKey,
          // The last token is reused once the list runs out.
          getToken: () => w.__tokens[Math.min(live.tokenCalls++, w.__tokens.length - 1)],
          ...options,
        });
        client.on('test.event', (e: PageLive['events'][number]) => live.events.push(e));
        client.onState((s: string, reason: string) => live.states.push([s, reason]));
        client.onReset(() => live.resets++);
        live.client = client;
        w.__live = live;
        client.start(after);
      },
      { userKey, tokens, options, after },
    );
  }

  const live = (page: Page): Promise<PageLive & { state: string; isLeader: boolean; lastEventId: string | null }> =>
    page.evaluate(() => {
      const l = (window as any).__live;
      return {
        events: l.events,
        states: l.states,
        resets: l.resets,
        tokenCalls: l.tokenCalls,
        state: l.client.state,
        isLeader: l.client.isLeader,
        lastEventId: l.client.lastEventId,
      };
    });

  const ns = async (page: Page) => (await live(page)).events.map((e) => e.data.n);
  const waitForState = (page: Page, state: string, timeoutMs = 10_000) =>
    waitUntil(`state ${state}`, async () => (await live(page)).state === state, timeoutMs);
  const waitForNs = (page: Page, expected: number[], timeoutMs = 10_000) =>
    waitUntil(`events ${expected.join(',')}`, async () => (await ns(page)).length >= expected.length, timeoutMs).then(async () =>
      expect(await ns(page)).toEqual(expected),
    );
  const publish = async (user: string, n: number) => (await srv.publish({ type: 'test.event', audience: [`user:${user}`], payload: { n } }))[0].id;
  /** Open streams of one user on the server, whoever holds them. */
  const streamsOf = (user: string) => [...srv.running.services.registry.all()].filter((s) => s.isOpen && s.principal.userId === user).length;
  const dropStreamsOf = (user: string) => {
    for (const s of [...srv.running.services.registry.all()]) if (s.principal.userId === user) s.drop('shutdown');
  };
  const status = async () => (await (await fetch(`${srv.url}/api/status`)).json()) as { clientModes: Record<string, number> };

  it('delivers live from now, and after a reload resumes from the stored id: nothing lost, nothing twice', async () => {
    const token = srv.token('ana', 'client');
    const page = await newPage(context);
    await publish('ana', 0); // before the first start: "from now" excludes it
    await openClient(page, 'ana', [token]);
    await waitForState(page, 'live');
    expect(streamsOf('ana')).toBe(1);

    const ids = [await publish('ana', 1), await publish('ana', 2)];
    await publish('someone-else', 99);
    await waitForNs(page, [1, 2]);
    const before = await live(page);
    expect(before.events.map((e) => e.id)).toEqual(ids);
    expect(before.lastEventId).toBe(ids[1]);

    // The page goes away; events keep coming; the reloaded page must get exactly those.
    await page.goto('about:blank');
    await waitUntil('the old stream to close', () => streamsOf('ana') === 0);
    await publish('ana', 3);
    await publish('ana', 4);
    await openClient(page, 'ana', [token]);
    await waitForNs(page, [3, 4]);
    await publish('ana', 5);
    await waitForNs(page, [3, 4, 5]);
    expect((await live(page)).resets).toBe(0);
    expect(page.errors).toEqual([]);
  });

  it('falls back to polling after 5 failed stream attempts, loses nothing meanwhile, and goes live again', async () => {
    const token = srv.token('bo', 'client');
    const page = await newPage(context);
    // Polls held 1 s at most, so the slow poll below is the next one asked, not one the server holds.
    await openClient(page, 'bo', [token], { backoff: { initialMs: 100, maxMs: 500 }, waitSeconds: 1 });
    await waitForState(page, 'live');
    await publish('bo', 1);
    await waitForNs(page, [1]);

    // The network path to the stream breaks (a proxy, a captive portal): every attempt fails.
    await page.route('**/api/events/stream**', (r) => r.abort());
    dropStreamsOf('bo');
    await waitForState(page, 'polling', 10_000);
    const { states } = await live(page);
    expect(states.map(([s]) => s)).toEqual(['live', 'connecting', 'polling']);
    expect(states[2][1]).toMatch(/^5 stream failures in a row/);
    expect(streamsOf('bo')).toBe(0);

    // Within the server's poll interval (1 s), with no stream open anywhere.
    await publish('bo', 2);
    await publish('bo', 3);
    await waitForNs(page, [1, 2, 3], 3_000);
    expect(streamsOf('bo')).toBe(0);
    expect((await live(page)).state).toBe('polling');

    // A poll that is slow to answer, so its answer lands after the stream has come back with the
    // same event: both paths deliver id 4, and the page must see it once.
    let releasePoll!: () => void;
    const pollReleased = new Promise<void>((r) => (releasePoll = r));
    let pollHeld!: () => void;
    const pollIsHeld = new Promise<void>((r) => (pollHeld = r));
    await page.route('**/api/events?after=*', async (r) => {
      pollHeld();
      await pollReleased;
      await r.continue();
    });
    await pollIsHeld;
    await publish('bo', 4);

    // The path heals: the background attempts (backoff capped at 500 ms) find it.
    await page.unroute('**/api/events/stream**');
    await waitForState(page, 'live', 5_000);
    expect(streamsOf('bo')).toBe(1);
    await waitForNs(page, [1, 2, 3, 4]);
    const pollAnswered = page.waitForResponse('**/api/events?after=*');
    releasePoll();
    const late = await (await pollAnswered).json();
    expect(late.events.map((e: { data: { n: number } }) => e.data.n)).toContain(4);
    await page.unroute('**/api/events?after=*');

    await publish('bo', 5);
    await waitForNs(page, [1, 2, 3, 4, 5]);
    const after = await live(page);
    expect(new Set(after.events.map((e) => e.id)).size).toBe(5);
    expect(after.states.map(([s]) => s)).toEqual(['live', 'connecting', 'polling', 'live']);
  });

  it('with the stream blocked, an update arrives by the long poll within 2 s, and Live is back within 2 s of unblocking', async () => {
    const token = srv.token('dee', 'client');
    const page = await newPage(context);
    // The dashboards' settings: backoff and hold as shipped.
    await openClient(page, 'dee', [token], { maxStreamFailures: 3 });
    await waitForState(page, 'live');

    await page.route('**/api/events/stream**', (r) => r.abort());
    const blockedAt = Date.now();
    dropStreamsOf('dee');
    await waitForState(page, 'polling', 10_000);
    const toPolling = Date.now() - blockedAt;
    // The poll is held at the server: wait until one is, so the update below is not met by a new ask.
    await new Promise((r) => setTimeout(r, 1_200));

    const sentAt = Date.now();
    await publish('dee', 1);
    await waitForNs(page, [1], 2_000);
    const arrivedIn = Date.now() - sentAt;
    expect((await live(page)).state).toBe('polling');
    expect(streamsOf('dee')).toBe(0);

    await page.unroute('**/api/events/stream**');
    const unblockedAt = Date.now();
    await waitForState(page, 'live', 2_000);
    const liveIn = Date.now() - unblockedAt;
    expect(streamsOf('dee')).toBe(1);
    process.stderr.write(`fallback: polling after ${toPolling} ms, update by long poll in ${arrivedIn} ms, Live ${liveIn} ms after unblocking\n`);

    // "Check now" while polling: the stream is tried at once rather than after its backoff. The page
    // says it is hidden, so the backoff is the full one (2-4 s by the fourth failure), not 1.5 s.
    await page.evaluate(() => Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true }));
    await page.route('**/api/events/stream**', (r) => r.abort());
    dropStreamsOf('dee');
    await waitForState(page, 'polling', 10_000);
    await page.unroute('**/api/events/stream**');
    await page.evaluate(() => (window as any).__live.client.checkNow());
    await waitForState(page, 'live', 1_000);
    // The blocked attempts are the only errors (Chromium logs each aborted request).
    expect(page.errors.filter((e) => !e.includes('net::ERR_FAILED'))).toEqual([]);
  });

  it('eight tabs of one user share one stream; when the leader closes another takes over without losing an event', async () => {
    const token = srv.token('cy', 'client');
    const pages: Array<Page & { errors: string[] }> = [];
    for (let i = 0; i < 8; i++) {
      const p = await newPage(context);
      await openClient(p, 'cy', [token]);
      pages.push(p);
    }
    for (const p of pages) await waitForState(p, 'live');
    const leaders: Page[] = [];
    for (const p of pages) if ((await live(p)).isLeader) leaders.push(p);
    expect(leaders).toHaveLength(1);
    expect(streamsOf('cy')).toBe(1);

    await publish('cy', 1);
    for (const p of pages) await waitForNs(p, [1]);

    // Nothing of the new leader's reaches the server until event 2 is committed: it must come
    // from resuming at the last id the new leader saw, not from starting again from now.
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    await context.route('**/api/events**', async (r) => {
      await released;
      await r.continue();
    });
    await leaders[0].close();
    const rest = pages.filter((p) => p !== leaders[0]);
    const newLeader = await waitUntil('a new leader', async () => {
      for (const p of rest) if ((await live(p)).isLeader) return p;
      return undefined;
    });
    await publish('cy', 2);
    release();
    await waitForState(newLeader, 'live');
    await context.unroute('**/api/events**');
    await waitUntil('one stream again', () => streamsOf('cy') === 1);
    await publish('cy', 3);
    for (const p of rest) await waitForNs(p, [1, 2, 3]);
    for (const p of rest) await waitForState(p, 'live');
    expect(streamsOf('cy')).toBe(1);
    for (const p of rest) expect(p.errors).toEqual([]);
  });

  it('a tab that joins after the leader has passed its sync cursor gets the events in between, once each, in order', async () => {
    const token = srv.token('jo', 'client');
    const leader = await newPage(context);
    await openClient(leader, 'jo', [token]);
    await waitForState(leader, 'live');
    await publish('jo', 0);
    await waitForNs(leader, [0]);

    // The new tab's state is read (GET /api/sync) here; then 1 and 2 happen, and the leader applies
    // them, before the tab's client starts after that cursor.
    const synced = await srv.settledLastId();
    await publish('jo', 1);
    await publish('someone-else', 99);
    await publish('jo', 2);
    await waitForNs(leader, [0, 1, 2]);

    // The tab's own look at the log for that gap is slow: 3 reaches it from the leader first.
    const tab = await newPage(context);
    let releaseGap!: () => void;
    const gapReleased = new Promise<void>((r) => (releaseGap = r));
    let gapAsked!: (url: string) => void;
    const gapIsAsked = new Promise<string>((r) => (gapAsked = r));
    await tab.route('**/api/events?after=*', async (r) => {
      gapAsked(r.request().url());
      await gapReleased;
      await r.continue();
    });
    await openClient(tab, 'jo', [token], {}, srv.url, synced);
    const asked = await Promise.race([gapIsAsked, new Promise<null>((r) => setTimeout(() => r(null), 5_000))]);
    await publish('jo', 3);
    await waitForNs(leader, [0, 1, 2, 3]);
    await waitUntil('3 shared with the tab', async () => (await live(tab)).lastEventId !== synced || asked !== null);
    await new Promise((r) => setTimeout(r, 200));
    // Held back until the gap is filled, so the page sees them in order.
    expect(await ns(tab)).toEqual([]);
    expect(asked && new URL(asked).searchParams.get('after')).toBe(synced);
    releaseGap();
    await waitForNs(tab, [1, 2, 3]);
    await publish('jo', 4);
    await waitForNs(tab, [1, 2, 3, 4]);
    await waitForNs(leader, [0, 1, 2, 3, 4]);
    const t = await live(tab);
    expect(t.isLeader).toBe(false);
    expect(t.state).toBe('live');
    expect(t.resets).toBe(0);
    expect(new Set(t.events.map((e) => e.id)).size).toBe(4);
    expect(streamsOf('jo')).toBe(1);
    expect([...leader.errors, ...tab.errors]).toEqual([]);
  });

  it('a tab whose sync cursor is ahead of the leader reads nothing from the log, and gets what comes after', async () => {
    const token = srv.token('kim', 'client');
    const leader = await newPage(context);
    await openClient(leader, 'kim', [token]);
    await waitForState(leader, 'live');
    await publish('kim', 1);
    await waitForNs(leader, [1]);
    const tab = await newPage(context);
    const polls: string[] = [];
    tab.on('request', (r) => r.url().includes('/api/events?') && polls.push(r.url()));
    // Its state already covers 1 and everything up to the log's end.
    await openClient(tab, 'kim', [token], {}, srv.url, await srv.settledLastId());
    await waitForState(tab, 'live');
    await publish('kim', 2);
    await waitForNs(tab, [2]);
    await waitForNs(leader, [1, 2]);
    expect(polls).toEqual([]);
    expect(tab.errors).toEqual([]);
  });

  it('retries at once, not after its backoff, when the page comes back to the foreground', async () => {
    const page = await newPage(context);
    await openClient(page, 'hal', [srv.token('hal', 'client')], { backoff: { initialMs: 60_000, maxMs: 60_000 } });
    await waitForState(page, 'live');
    let refused = 0;
    await page.route('**/api/events/stream**', (r) => (refused++, r.abort()));
    dropStreamsOf('hal');
    // The immediate retry fails too; the next one is 30-60 s away.
    await waitUntil('the immediate retry', () => refused === 1);
    await page.unroute('**/api/events/stream**');
    await new Promise((r) => setTimeout(r, 300));
    expect((await live(page)).state).toBe('connecting');
    await publish('hal', 1);
    await page.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
    await waitForState(page, 'live', 3_000);
    await waitForNs(page, [1]);
  });

  it('reports its mode changes to the server, which counts them in /api/status', async () => {
    const token = srv.token('di', 'client');
    const page = await newPage(context);
    const before = (await status()).clientModes;
    await openClient(page, 'di', [token], { backoff: { initialMs: 100, maxMs: 500 } });
    await waitForState(page, 'live');
    await waitUntil('live counted', async () => (await status()).clientModes.live === before.live + 1);

    await page.route('**/api/events/stream**', (r) => r.abort());
    dropStreamsOf('di');
    await waitForState(page, 'polling');
    await waitUntil('polling counted', async () => {
      const m = (await status()).clientModes;
      return m.polling === before.polling + 1 && m.live === before.live;
    });
    await page.unroute('**/api/events/stream**');
    await waitForState(page, 'live', 5_000);

    await context.setOffline(true);
    await waitForState(page, 'offline');
    await context.setOffline(false);
    await waitForState(page, 'live');
    await waitUntil('back live', async () => {
      const m = (await status()).clientModes;
      return m.live === before.live + 1 && m.polling === before.polling && m.offline === before.offline;
    });
    // Every transition arrived, in order, the offline one once the network was back.
    const reported = srv.logs.filter((l) => l.msg === 'client mode changed' && l.userId === 'di').map((l) => l.mode);
    expect(reported).toEqual(['live', 'polling', 'live', 'offline', 'live']);
  });

  it("keeps two users' tabs in one browser apart: a stream and a leader each, and only their own events", async () => {
    const [pa, pb] = [await newPage(context), await newPage(context)];
    await openClient(pa, 'eve', [srv.token('eve', 'client')]);
    await openClient(pb, 'fay', [srv.token('fay', 'client')]);
    await waitForState(pa, 'live');
    await waitForState(pb, 'live');
    expect([(await live(pa)).isLeader, (await live(pb)).isLeader]).toEqual([true, true]);
    expect([streamsOf('eve'), streamsOf('fay')]).toEqual([1, 1]);

    await publish('eve', 1);
    await publish('fay', 2);
    await publish('eve', 3);
    await waitForNs(pa, [1, 3]);
    await waitForNs(pb, [2]);
    await new Promise((r) => setTimeout(r, 300));
    expect(await ns(pa)).toEqual([1, 3]);
    expect(await ns(pb)).toEqual([2]);
  });

  it('adopts the id of a reset and tells the page to refetch; asks for a new token when the old one expires', async () => {
    const page = await newPage(context);
    await page.goto(`${srv.url}/healthz`);
    // An id newer than the log (a database that was recreated): the server cannot resume from it.
    await page.evaluate(() => localStorage.setItem('live-client:gil:lastEventId', '999999999999'));
    // The first token expires in 2 s; auth_expired ends its stream, the client must ask again.
    await openClient(page, 'gil', [srv.token('gil', 'client', 2), srv.token('gil', 'client')]);
    await waitForState(page, 'live');
    await waitUntil('reset', async () => (await live(page)).resets === 1);
    expect((await live(page)).lastEventId).toBe(await srv.settledLastId());

    await publish('gil', 1);
    await waitForNs(page, [1]);
    await waitUntil('a second token', async () => (await live(page)).tokenCalls >= 2, 6_000);
    await waitUntil('reconnected with it', async () => streamsOf('gil') === 1 && (await live(page)).state === 'live');
    await publish('gil', 2);
    await waitForNs(page, [1, 2]);
    // It asked before using the dead token again: a 401 would count against the address's auth-failure limit.
    expect(srv.logs.filter((l) => l.code === 'AUTH_EXPIRED')).toEqual([]);
  });

  it('asks for a new token on AUTH_EXPIRED, and on a 429 from a token it has not refreshed yet (a stale token past the failed-auth limit)', async () => {
    const strict = await startTestServer({ AUTH_FAILURE_LIMIT_PER_5MIN: '1' });
    try {
      // Someone else at this address has used up its budget of failures.
      await fetch(`${strict.url}/api/me`, { headers: { Authorization: 'Bearer not.a.token' } });
      expect((await fetch(`${strict.url}/api/me`, { headers: { Authorization: 'Bearer not.a.token' } })).status).toBe(429);
      // The page's first token is not one the server accepts: its ticket request gets 429, not 401.
      const page = await newPage(context);
      await openClient(page, 'hal', ['not.a.token', strict.token('hal', 'client')], {}, strict.url);
      await waitForState(page, 'live');
      expect((await live(page)).tokenCalls).toBe(2);
      expect(strict.logs.filter((l) => l.code === 'RATE_LIMITED').length).toBeGreaterThanOrEqual(2);

      // An expired token: AUTH_EXPIRED, never counted, never a 429; the client asks again.
      const late = await newPage(context);
      await openClient(late, 'ida', [strict.token('ida', 'client', -60), strict.token('ida', 'client')], {}, strict.url);
      await waitForState(late, 'live');
      expect((await live(late)).tokenCalls).toBe(2);
      expect(strict.logs.filter((l) => l.code === 'AUTH_EXPIRED').length).toBeGreaterThanOrEqual(1);
    } finally {
      await strict.stop();
    }
  });

  it('goes to signed-out, and stops asking, when the new token is refused too; the indicator says so', async () => {
    const page = await newPage(context);
    // The only token the page has: it expires in 3 s, and asking again gives the same one. (On a
    // loaded machine it may expire before the page has started its client: signed-out all the same.)
    await openClient(page, 'ivy', [srv.token('ivy', 'client', 3)], { backoff: { initialMs: 100, maxMs: 200 } });
    await waitForState(page, 'signed-out', 15_000);
    const { states, tokenCalls } = await live(page);
    expect(states[states.length - 1]).toEqual(['signed-out', 'AUTH_EXPIRED']);
    expect(states.map(([s]) => s)).not.toContain('polling');
    expect(streamsOf('ivy')).toBe(0);
    // No endless retries with a token the server refuses.
    const refused = srv.logs.filter((l) => l.code === 'AUTH_EXPIRED').length;
    await new Promise((r) => setTimeout(r, 1_500));
    expect(srv.logs.filter((l) => l.code === 'AUTH_EXPIRED').length).toBe(refused);
    expect((await live(page)).tokenCalls).toBe(tokenCalls);

    // The dashboards' indicator for that state.
    await page.evaluate(`import('/lib/client/pages/indicator.js').then((m) => {
      const el = document.createElement('div');
      el.innerHTML = '<span class="connection-label"></span>';
      el.id = 'ind';
      document.body.append(el);
      m.showConnectionState(el, 'signed-out', 'AUTH_EXPIRED');
    })`);
    await waitUntil('the indicator', async () => (await page.evaluate(() => document.getElementById('ind')?.dataset.state)) === 'signed-out');
    expect(await page.evaluate(() => document.querySelector('#ind .connection-label')!.textContent)).toBe('Signed out');
    expect(await page.evaluate(() => document.getElementById('ind')!.title)).toMatch(/^Signed out: .*sign in again/);
  });
});
