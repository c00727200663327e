import net from 'node:net';

/**
 * A port nobody listens on right now, bound the way the server binds (all interfaces), so a port
 * free here is free for a server process started on it next.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.once('error', reject);
    probe.listen(0, () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}
