/** The driver's HTTP calls: publishing, and reading figures from /metrics. */
import http from 'node:http';
import { nowMs, type BroadcastBody } from './protocol';

export interface PostResult {
  status: number;
  body: string;
}

export function postJson(url: string, token: string, body: BroadcastBody, agent: http.Agent, timeoutMs = 30_000): Promise<PostResult> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        timeout: timeoutMs,
        headers: {
          Authorization: `Bearer ${token}`,
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(text),
        },
      },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (data += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`POST timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(text);
  });
}

/**
 * Any JSON request with a bearer token (GET with no body, or POST with an optional one). Also
 * says when the request was handed a socket (nowMs), so a caller can split its time into waiting
 * for a connection and the answer itself.
 */
export function requestJson(
  method: 'GET' | 'POST',
  url: string,
  token: string,
  body: unknown,
  agent: http.Agent,
  timeoutMs = 30_000,
): Promise<PostResult & { socketAt: number | null }> {
  const text = body === undefined ? undefined : JSON.stringify(body);
  const headers: http.OutgoingHttpHeaders = { Authorization: `Bearer ${token}`, Accept: 'application/json' };
  if (text !== undefined) {
    headers['Content-Type'] = 'application/json';
    headers['Content-Length'] = Buffer.byteLength(text);
  } else if (method === 'POST') {
    headers['Content-Length'] = 0;
  }
  return new Promise((resolve, reject) => {
    let socketAt: number | null = null;
    const req = http.request(url, { method, agent, timeout: timeoutMs, headers }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (data += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data, socketAt }));
      res.on('error', reject);
    });
    req.on('socket', () => (socketAt = nowMs()));
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(text);
  });
}

export function getText(url: string, timeoutMs = 10_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (data += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

export interface MetricsSample {
  rssBytes: number;
  heapUsedBytes: number;
  cpuSeconds: number;
  /** Every unlabelled-or-summed sample by metric name (labelled series are summed). */
  all: Record<string, number>;
}

/** Parses Prometheus text exposition: sums every series of a name; skips comments and NaN. */
export function parseMetrics(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const v = Number(m[3]);
    if (Number.isNaN(v)) continue;
    out[m[1]] = (out[m[1]] ?? 0) + v;
  }
  return out;
}

export async function readMetrics(baseUrl: string): Promise<MetricsSample> {
  const r = await getText(`${baseUrl}/metrics`);
  if (r.status !== 200) throw new Error(`GET /metrics answered ${r.status}`);
  const all = parseMetrics(r.body);
  const need = (name: string) => {
    const v = all[name];
    if (v === undefined) throw new Error(`/metrics has no ${name}`);
    return v;
  };
  return {
    rssBytes: need('process_resident_memory_bytes'),
    heapUsedBytes: need('nodejs_heap_size_used_bytes'),
    cpuSeconds: need('process_cpu_seconds_total'),
    all,
  };
}
