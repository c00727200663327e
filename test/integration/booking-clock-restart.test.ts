import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, describeDb, TEST_DB, type TestDatabase } from '../support/test-db';
import { baseEnv, killServer, startServerProcess, type ServerProcess } from '../support/server-process';
import { waitUntil } from '../support/browser';
import { createTokenService } from '../../src/auth/jwt';
import { TEST_JWT_SECRET } from '../support/env';
import { freePort } from '../support/free-port';
import { sleep } from '../support/sleep';

const tokens = createTokenService(TEST_JWT_SECRET);
const HOUR = 3_600_000;

interface Envelope {
  id: string;
  type: string;
  data: Record<string, any>;
}

/**
 * The schedule is in the database, not in a process: timers set by one server process fire in the
 * next one, on real time (a 28.8 s request TTL), including a timer that fell due while no server ran.
 */
describeDb('the booking clock across a server restart', () => {
  let testDb: TestDatabase | undefined;
  let dataDir: string | undefined;
  let srv: ServerProcess | undefined;
  afterAll(async () => {
    await killServer(srv);
    await testDb?.drop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('expires the request and sends each reminder once, from the restarted process', async () => {
    const env: Record<string, string> = {
      ...baseEnv(TEST_JWT_SECRET),
      PORT: String(await freePort()),
      BOOKING_REQUEST_TTL_HOURS: '0.008',
      BOOKING_TIMERS_INTERVAL_MS: '200',
    };
    if (TEST_DB === 'postgres') {
      testDb = await createTestDatabase();
      env.DATABASE_URL = testDb.url!;
    } else {
      dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rt-booking-clock-'));
      env.DATA_DIR = dataDir;
    }
    const client = tokens.sign({ sub: 'restart-client', role: 'client', name: 'Thandi' }, 600);
    const provider = tokens.sign({ sub: 'restart-provider', role: 'provider', name: 'Sipho' }, 600);
    const call = async (token: string, method: string, url: string, body?: object) => {
      const res = await fetch(`${srv!.url}${url}`, {
        method,
        headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      return { status: res.status, body: await res.json() };
    };
    const events = async (token: string) => (await call(token, 'GET', '/api/events?after=0&limit=500')).body.events as Envelope[];
    const ofBooking = (list: Envelope[], type: string, id: string) =>
      list.filter((e) => e.type === type && String(e.data.bookingId ?? e.data.booking?.id) === id);

    srv = await startServerProcess(env, { name: 'first' });
    expect((await call(provider, 'GET', '/api/me')).status).toBe(200);
    // Expires 28.8 s after its creation; its provider is reminded at 14.4 s.
    const request = await call(client, 'POST', '/api/bookings', {
      providerId: 'restart-provider',
      service: 'gate motor',
      scheduledFor: new Date(Date.now() + 3 * HOUR).toISOString(),
      amount: 30_000,
    });
    expect(request.status).toBe(201);
    // Accepted with its 1 h reminder due in 8 s: after the first process is gone.
    const visitAt = Date.now() + HOUR + 8_000;
    const visit = await call(client, 'POST', '/api/bookings', {
      providerId: 'restart-provider',
      service: 'pool pump',
      scheduledFor: new Date(visitAt).toISOString(),
      amount: 20_000,
    });
    expect(visit.status).toBe(201);
    expect((await call(provider, 'POST', `/api/bookings/${visit.body.id}/accept`)).status).toBe(200);
    const before = await events(provider);
    expect(before.filter((e) => ['booking.reminder', 'booking.request_reminder', 'booking.expired'].includes(e.type))).toEqual([]);
    // No timer was due yet: the first process sent nothing of the kind.
    expect(Date.now()).toBeLessThan(visitAt - HOUR);
    await killServer(srv, 'SIGTERM');

    // Down while the visit's 1 h reminder falls due.
    await sleep(Math.max(0, visitAt - HOUR - Date.now() + 1_000));
    srv = await startServerProcess(env, { name: 'second' });

    await waitUntil(
      'the visit reminder after the restart',
      async () => ofBooking(await events(client), 'booking.reminder', visit.body.id).length === 1,
      10_000,
      200,
    );
    await waitUntil('the request to expire', async () => ofBooking(await events(client), 'booking.expired', request.body.id).length === 1, 40_000, 250);
    // A few more of the clock's rounds change nothing.
    await sleep(1_000);
    const forProvider = await events(provider);
    const forClient = await events(client);
    expect(ofBooking(forProvider, 'booking.request_reminder', request.body.id)).toHaveLength(1);
    expect(ofBooking(forClient, 'booking.request_reminder', request.body.id)).toHaveLength(0);
    expect(ofBooking(forProvider, 'booking.expired', request.body.id)).toHaveLength(1);
    expect(ofBooking(forClient, 'booking.expired', request.body.id)).toHaveLength(1);
    expect(ofBooking(forProvider, 'booking.reminder', visit.body.id).map((e) => e.data.hoursBefore)).toEqual([1]);
    expect(ofBooking(forClient, 'booking.reminder', visit.body.id).map((e) => e.data.hoursBefore)).toEqual([1]);
    // The accepted booking's own request timers found it answered: no reminder, no expiry.
    expect(ofBooking(forProvider, 'booking.request_reminder', visit.body.id)).toEqual([]);
    expect(ofBooking(forProvider, 'booking.expired', visit.body.id)).toEqual([]);

    const late = await call(provider, 'POST', `/api/bookings/${request.body.id}/accept`);
    expect([late.status, late.body.error.code]).toEqual([409, 'REQUEST_EXPIRED']);
    expect((await call(client, 'GET', `/api/bookings/${visit.body.id}`)).body.status).toBe('CONFIRMED');
    // Two server starts (a fresh embedded database runs initdb first) and the 28.8 s TTL.
  }, 150_000);
});
