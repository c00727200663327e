import request from 'supertest';
import { FakePaystack } from '../fakes/fake-paystack';
import { startTestServer, type TestServer } from './test-server';
import type { Role } from '../../src/auth/principal';

export const PAYSTACK_TEST_KEY = 'sk_test_marketplace_suite_key_0123456789';

export interface Marketplace {
  srv: TestServer;
  paystack: FakePaystack;
  /** A signed-in user: their token and an authorized supertest agent. */
  user(sub: string, role: Role, extra?: { name?: string; email?: string }): Actor;
  stop(): Promise<void>;
}

export interface Actor {
  sub: string;
  token: string;
  get(path: string): request.Test;
  post(path: string, body?: object): request.Test;
  put(path: string, body?: object): request.Test;
}

/** The real server wired to a local fake Paystack that posts signed webhooks back to it. */
export async function startMarketplace(env: Record<string, string> = {}): Promise<Marketplace> {
  const paystack = new FakePaystack({ secretKey: PAYSTACK_TEST_KEY });
  const { url } = await paystack.start();
  const srv = await startTestServer({
    PAYSTACK_BASE_URL: url,
    PAYSTACK_SECRET_KEY: PAYSTACK_TEST_KEY,
    PAYSTACK_TIMEOUT_MS: '1500',
    ...env,
  });
  paystack.setWebhookTarget(`${srv.url}/api/webhooks/paystack`);
  return {
    srv,
    paystack,
    user(sub, role, extra = {}) {
      const token = srv.running.deps.tokens.sign({ sub, role, ...extra }, 3600);
      const auth = (t: request.Test) => t.set('Authorization', `Bearer ${token}`);
      return {
        sub,
        token,
        get: (path) => auth(request(srv.url).get(path)),
        post: (path, body) => (body === undefined ? auth(request(srv.url).post(path)) : auth(request(srv.url).post(path)).send(body)),
        put: (path, body) => auth(request(srv.url).put(path)).send(body ?? {}),
      };
    },
    stop: async () => {
      await srv.stop();
      await paystack.stop();
    },
  };
}

export const inADay = () => new Date(Date.now() + 86_400_000).toISOString();
