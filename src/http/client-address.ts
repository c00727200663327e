import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';
import type { Config } from '../config';

/** Whether the hop at `i` (0 the socket's peer) is a proxy we trust to say who its client is. */
export type TrustProxy = (address: string, i: number) => boolean;

/**
 * TRUST_PROXY as one function, given to Express as its `trust proxy` and used by the endpoints
 * served before Express, so that both derive a client's address alike. Unset trusts nobody.
 */
export function trustProxy(setting: Config['TRUST_PROXY']): TrustProxy {
  if (typeof setting === 'number') return (_address, i) => i < setting;
  return proxyaddr.compile(setting ?? []);
}

/** The client's address as Express's `req.ip` gives it, for a request Express has not seen. */
export function clientAddress(req: IncomingMessage, trust: TrustProxy): string {
  return proxyaddr(req, trust);
}
