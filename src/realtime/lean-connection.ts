import type { IncomingMessage, ServerResponse } from 'node:http';
import { Connection } from 'better-sse';

/** The only thing better-sse's Session reads from `url`: the `padding`/`evs_preamble` switches, which we do not offer. */
const NO_QUERY = new URL('http://localhost/');
const NO_HEADERS = { get: (): null => null };

/**
 * better-sse's own Node adapter builds a Fetch `Request`, `Response`, two `Headers`, a `URL` and
 * an `AbortController` for every stream, none of which we use: at thousands of streams that is
 * most of the per-stream heap (bench: ~26 KB/stream against ~6 KB for raw node:http). This adapter
 * gives Session exactly what it touches (`request.signal`, `request.headers.get`, `url`,
 * `sendHead`, `sendChunk`, `cleanup`) and leaves the SSE framing to better-sse.
 *
 * Session is told the client's Last-Event-ID is not to be trusted (we parse it ourselves), so
 * `request.headers` is never consulted for it. The version of better-sse is pinned for this.
 */
export class LeanNodeConnection extends Connection {
  url = NO_QUERY;
  request: Request;
  private onAbort: (() => void) | null = null;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly headers: Record<string, string>,
  ) {
    super();
    res.socket?.setNoDelay(true);
    const signal = {
      addEventListener: (_type: 'abort', fn: () => void) => {
        this.onAbort = fn;
      },
      removeEventListener: () => {
        this.onAbort = null;
      },
    };
    this.request = { signal, headers: NO_HEADERS } as unknown as Request;
    req.once('close', this.closed);
    res.once('close', this.closed);
  }

  /** Not used by us; built on demand for anyone who asks. */
  get response(): Response {
    return new Response(null, { status: this.res.statusCode, headers: this.headers });
  }

  sendHead = (): void => {
    this.res.writeHead(200, { ...Connection.constants.RESPONSE_HEADERS, ...this.headers });
  };

  sendChunk = (chunk: string): void => {
    this.res.write(chunk);
  };

  cleanup = (): void => {
    this.req.removeListener('close', this.closed);
    this.res.removeListener('close', this.closed);
  };

  private closed = (): void => {
    const fn = this.onAbort;
    this.onAbort = null;
    fn?.();
  };
}
