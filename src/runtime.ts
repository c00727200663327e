import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Config } from './config';
import type { Logger } from './logger';
import { openDatabase, type Database } from './storage/db';
import { createApp } from './app';
import { buildServices, type Services } from './services';
import { startJobs } from './jobs';
import { withStreamEndpoint } from './realtime/stream-endpoint';
import { withPollEndpoint } from './realtime/poll-endpoint';
import { startDemoPaystack, type DemoPaystack } from './demo/demo-paystack';
import { seedDemoUsers } from './demo/demo-seed';
import { guardDemoHost } from './demo/demo-host';
import type { DemoChannels } from './demo/demo-channels';

export interface RunningServer {
  url: string;
  port: number;
  services: Services;
  server: http.Server;
  /** Demo mode's in-process fake Paystack, when it runs one. */
  demoPaystack: DemoPaystack | null;
  /** Demo mode's in-process fake email, SMS/WhatsApp and push services, and the outbox of what they received. */
  demoChannels: DemoChannels | null;
  /** Stop taking streams, end open ones, finish in-flight requests, close the database. */
  shutdown(): Promise<void>;
}

/**
 * The server's life: its config made final, its services built (services.ts) and started
 * (jobs.ts) on a database (given, or opened from config), then listening; and its shutdown.
 */
export async function startServer(config: Config, logger: Logger, database?: Database): Promise<RunningServer> {
  // Demo mode: the in-process fakes of the far ends it was not given, in config before anything
  // is built. Loaded only then, so a server outside demo mode never loads the fakes' libraries.
  const demoChannels = config.demoMode ? await (await import('./demo/demo-channels')).startDemoChannels(config, logger) : null;
  if (demoChannels) config = demoChannels.config;
  const demoPaystack = await startDemoPaystack(config, logger);
  if (demoPaystack) config = demoPaystack.config;

  const db = database ?? (await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR }));
  await db.migrate();
  const services = buildServices(config, db, logger, demoChannels?.outbox);
  const jobs = await startJobs(services);
  if (config.demoMode) await seedDemoUsers(db.knex, services.paystack, logger);
  await demoChannels?.seed(db.knex);

  const app = createApp(services);
  const server = http.createServer(guardDemoHost(config.demoMode, app, withPollEndpoint(services, withStreamEndpoint(services, app))));
  const unused = trackUnusedSockets(server, services);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.PORT, config.HOST ?? (config.demoMode ? '127.0.0.1' : undefined), () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  demoPaystack?.webhooksTo(`http://127.0.0.1:${port}/api/webhooks/paystack`);
  demoChannels?.callbacksTo(`http://127.0.0.1:${port}`);
  // Deliveries recorded before a crash or restart are settled now, then by the periodic sweep.
  services.webhooks.start();

  let shuttingDown: Promise<void> | null = null;
  const shutdown = () =>
    (shuttingDown ??= (async () => {
      const { lifecycle, registry, heldPolls, presence, webhooks, paystack } = services;
      lifecycle.draining = true;
      await jobs.stop();
      await demoChannels?.stop();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Streams end now so their clients reconnect to another instance; in-flight requests finish.
      for (const s of [...registry.all()]) s.drop('shutdown');
      // Held polls answer with what they have, so their clients poll again elsewhere.
      heldPolls.releaseAll();
      // closeIdleConnections() alone misses connections that never sent a request, and any that
      // goes idle later (a keep-alive connection finishing its last response, an ended stream):
      // each would hold server.close() until the force timeout. Sweep until closed.
      const closeIdle = () => {
        for (const socket of unused) if (socket.bytesRead === 0) socket.destroy();
        server.closeIdleConnections();
      };
      closeIdle();
      const sweep = setInterval(closeIdle, 100);
      const force = setTimeout(() => server.closeAllConnections(), Math.max(config.SHUTDOWN_TIMEOUT_MS - 1_500, 100));
      await closed;
      clearInterval(sweep);
      clearTimeout(force);
      await presence.stop().catch((err) => logger.warn({ code: 'PRESENCE_WRITE_FAILED', err }, 'stream presence not removed; it lapses with the heartbeat'));
      // Settling that cannot finish in time stays recorded, for the next start or another instance.
      await webhooks.stop(Math.min(1_000, config.SHUTDOWN_TIMEOUT_MS / 4));
      // Its kept-alive connections to Paystack, once the last request using it has finished.
      await paystack?.close();
      await demoPaystack?.stop();
      await db.close();
    })());

  return { url: `http://127.0.0.1:${port}`, port, services, server, demoPaystack, demoChannels, shutdown };
}

/**
 * The connections whose client has not sent a request yet (browsers and undici open spare ones),
 * which shutdown closes; and while draining, every response tells its client not to reuse the
 * connection.
 */
function trackUnusedSockets(server: http.Server, s: Pick<Services, 'lifecycle'>): Set<Socket> {
  const unused = new Set<Socket>();
  // One function for every socket, not a closure (and a `once` wrapper) held by each open stream.
  function forgetSocket(this: Socket) {
    unused.delete(this);
  }
  server.on('connection', (socket: Socket) => {
    unused.add(socket);
    socket.on('close', forgetSocket);
  });
  server.prependListener('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    unused.delete(req.socket);
    if (s.lifecycle.draining) res.setHeader('Connection', 'close');
  });
  return unused;
}
