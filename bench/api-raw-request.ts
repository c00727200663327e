/** The webhook step's requests that requestJson (http.ts) does not make: a PUT, and Paystack's signed POST. */
import http from 'node:http';

function rawRequest(
  method: string,
  url: string,
  headers: http.OutgoingHttpHeaders,
  body: string,
  agent: http.Agent,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent, timeout: 30_000, headers: { ...headers, 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (data += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

export const putJson = (url: string, token: string, body: unknown, agent: http.Agent) =>
  rawRequest('PUT', url, { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, JSON.stringify(body), agent);

export const postRaw = (url: string, body: string, signature: string, agent: http.Agent) =>
  rawRequest('POST', url, { 'Content-Type': 'application/json', 'x-paystack-signature': signature }, body, agent);
