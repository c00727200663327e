import net from 'node:net';

const request = (port: number, token: string) =>
  `GET /api/events/stream HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${token}\r\nAccept: text/event-stream\r\n\r\n`;

/** Opens a raw stream request; resolves with the socket and its status once the headers are in. */
export function rawStream(port: number, token: string, timeoutMs = 10_000): Promise<{ socket: net.Socket; status: number }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let head = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no response headers'));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      clearTimeout(timer);
      socket.off('data', onData);
      resolve({ socket, status: Number(head.split(' ')[1]) });
    };
    socket.on('data', onData);
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.write(request(port, token));
  });
}

/** Clients that connect and vanish: half after the stream opened, half before finishing their request. */
export async function connectAndVanish(port: number, tokens: string[], perToken: number): Promise<number> {
  let n = 0;
  await Promise.all(
    tokens.map(async (token) => {
      for (let i = 0; i < perToken; i++) {
        if (i % 2 === 0) {
          const { socket } = await rawStream(port, token);
          socket.destroy();
        } else {
          const socket = net.connect({ host: '127.0.0.1', port });
          socket.on('error', () => undefined);
          await new Promise<void>((r) => socket.once('connect', () => r()));
          socket.write(request(port, token).slice(0, 40));
          socket.destroy();
        }
        n++;
      }
    }),
  );
  return n;
}

/** Clients that open a stream and never read from it: the socket stays paused. Returns a closer. */
export async function neverReaders(port: number, tokens: string[]): Promise<{ sockets: net.Socket[]; close(): void }> {
  const sockets = await Promise.all(
    tokens.map(async (t) => {
      const { socket } = await rawStream(port, t);
      socket.pause();
      socket.on('error', () => undefined);
      return socket;
    }),
  );
  return { sockets, close: () => sockets.forEach((s) => s.destroy()) };
}

/** Clients that reconnect in a tight loop: open, see the headers, hang up, again at once. */
export async function tightReconnects(port: number, tokens: string[], times: number): Promise<Record<number, number>> {
  const statuses: Record<number, number> = {};
  await Promise.all(
    tokens.map(async (token) => {
      for (let i = 0; i < times; i++) {
        const { socket, status } = await rawStream(port, token);
        statuses[status] = (statuses[status] ?? 0) + 1;
        socket.destroy();
      }
    }),
  );
  return statuses;
}
