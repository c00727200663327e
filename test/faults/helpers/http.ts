export interface Reply {
  /** 0 when no HTTP answer came back (refused, reset, timed out). */
  status: number;
  body: any;
  error?: string;
}

/** One JSON request that never throws: faults show up as `status: 0` or an error status. */
export async function api(
  baseUrl: string,
  token: string | undefined,
  method: string,
  path: string,
  body?: unknown,
  extraHeaders: Record<string, string> = {},
  timeoutMs = 15_000,
): Promise<Reply> {
  const headers: Record<string, string> = { ...extraHeaders };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  try {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // Not JSON: keep the text.
    }
    return { status: res.status, body: parsed };
  } catch (err) {
    return { status: 0, body: undefined, error: String((err as Error).cause ?? err) };
  }
}

export const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)];
