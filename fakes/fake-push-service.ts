import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { decrypt } from 'http_ece';

export interface ReceivedPush {
  subscriptionId: string;
  /** The payload decrypted with the subscription's private key and auth secret (RFC 8291). */
  payload: Record<string, unknown>;
  headers: http.IncomingHttpHeaders;
}

interface FakeSubscription {
  id: string;
  ecdh: crypto.ECDH;
  auth: string;
  /** What the service answers to pushes on it (201 until told otherwise). */
  status: number;
}

/**
 * A push service as the browser's vendor runs one (RFC 8030): each subscription it hands out has a
 * key pair and an auth secret held here, as a browser holds them, and every push is decrypted with
 * them (aes128gcm, RFC 8291) before it counts as received, so a test proves the encryption.
 */
export class FakePushService {
  readonly received: ReceivedPush[] = [];
  readonly refused: Array<{ subscriptionId: string; reason: string }> = [];
  private readonly subs = new Map<string, FakeSubscription>();
  private readonly listeners: Array<(p: ReceivedPush) => void> = [];
  private readonly server = http.createServer((req, res) => void this.handle(req, res));
  private base = '';
  private n = 0;

  async start(): Promise<{ url: string; hostPort: string }> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.base = `http://127.0.0.1:${port}`;
    return { url: this.base, hostPort: `127.0.0.1:${port}` };
  }

  /** A new browser subscription: the JSON a page would post to /api/me/push-subscriptions. */
  subscribe(): { endpoint: string; expirationTime: null; keys: { p256dh: string; auth: string } } {
    const id = `sub${++this.n}`;
    const ecdh = crypto.createECDH('prime256v1');
    ecdh.generateKeys();
    const auth = crypto.randomBytes(16).toString('base64url');
    this.subs.set(id, { id, ecdh, auth, status: 201 });
    return { endpoint: `${this.base}/push/${id}`, expirationTime: null, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth } };
  }

  /** From now on, answer pushes to this endpoint with `status` (410: the user unsubscribed). */
  answer(endpoint: string, status: number): void {
    this.subs.get(endpoint.split('/').pop()!)!.status = status;
  }

  /** Called with each push the service takes (decrypted), after it has answered 201. */
  onPush(listener: (p: ReceivedPush) => void): void {
    this.listeners.push(listener);
  }

  to(endpoint: string): ReceivedPush[] {
    const id = endpoint.split('/').pop();
    return this.received.filter((r) => r.subscriptionId === id);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const id = /^\/push\/([a-z0-9]+)$/.exec(req.url ?? '')?.[1];
    const sub = id ? this.subs.get(id) : undefined;
    const refuse = (status: number, reason: string) => {
      if (id) this.refused.push({ subscriptionId: id, reason });
      res.writeHead(status).end(reason);
    };
    if (req.method !== 'POST' || !sub) return refuse(404, 'no such subscription');
    if (sub.status !== 201) return refuse(sub.status, 'told to');
    if (!req.headers.ttl) return refuse(400, 'TTL header required (RFC 8030)');
    if (req.headers['content-encoding'] !== 'aes128gcm') return refuse(400, 'Content-Encoding must be aes128gcm');
    if (!/^vapid t=[\w-]+\.[\w-]+\.[\w-]+, k=[\w-]+$/.test(String(req.headers.authorization))) return refuse(401, 'VAPID authorization required (RFC 8292)');
    let payload: Record<string, unknown>;
    try {
      payload = JSON.parse(decrypt(Buffer.concat(chunks), { version: 'aes128gcm', privateKey: sub.ecdh, authSecret: sub.auth }).toString('utf8')) as Record<
        string,
        unknown
      >;
    } catch (err) {
      return refuse(400, `could not decrypt: ${(err as Error).message}`);
    }
    const push: ReceivedPush = { subscriptionId: sub.id, payload, headers: req.headers };
    this.received.push(push);
    res.writeHead(201, { Location: `${this.base}/message/${this.received.length}` }).end();
    for (const l of this.listeners) l(push);
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
