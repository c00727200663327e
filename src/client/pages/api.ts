/** An error answer of our API: `{error: {code, message, details?}}` with its HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface Api {
  get<T>(path: string): Promise<T>;
  post<T>(path: string, body?: object): Promise<T>;
  put<T>(path: string, body: object): Promise<T>;
}

/** Same-origin JSON calls with the session's bearer token; failures become ApiError. */
export function createApi(getToken: () => string | Promise<string>): Api {
  const call = async <T>(method: string, path: string, body?: object): Promise<T> => {
    const headers: Record<string, string> = { Authorization: `Bearer ${await getToken()}`, Accept: 'application/json' };
    if (method !== 'GET') headers['Content-Type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(path, { method, headers, body: method === 'GET' ? undefined : JSON.stringify(body ?? {}) });
    } catch {
      throw new ApiError(0, 'NETWORK', 'The server could not be reached');
    }
    return readJson<T>(res);
  };
  return { get: (path) => call('GET', path), post: (path, body) => call('POST', path, body), put: (path, body) => call('PUT', path, body) };
}

export async function readJson<T>(res: Response): Promise<T> {
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!res.ok) {
    const e = (parsed as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error;
    throw new ApiError(res.status, e?.code ?? 'HTTP_' + res.status, e?.message ?? `Request failed (${res.status})`, e?.details);
  }
  return parsed as T;
}
