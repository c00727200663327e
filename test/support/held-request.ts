import http from 'node:http';
import { checkedAnswer } from './contract';

/**
 * A POST held in flight: its headers go out with `Expect: 100-continue`,
 * and `continued` resolves once the server has parsed and routed it (it answers `100 Continue`).
 * The body goes only on `sendBody()`, so the request is provably in the server's hands, and
 * unfinished, for as long as the test wants.
 */
export function heldPost(port: number, token: string, path: string, payload: unknown) {
  const body = JSON.stringify(payload);
  const req = http.request({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path,
    agent: false,
    headers: {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(body),
      Authorization: `Bearer ${token}`,
      Expect: '100-continue',
    },
  });
  const continued = new Promise<void>((resolve, reject) => {
    req.once('continue', resolve);
    req.once('error', reject);
  });
  const response = new Promise<{ status: number; body: any }>((resolve, reject) => {
    req.once('error', reject);
    req.once('response', (res) => void checkedAnswer(res, 'POST', path).then(resolve, reject));
  });
  continued.catch(() => undefined);
  response.catch(() => undefined);
  req.flushHeaders();
  return { continued, response, sendBody: () => req.end(body), destroy: () => req.destroy() };
}
