/**
 * Preloaded (`--import`) into both servers by the benchmark, never by anything else. The servers
 * run with --expose-gc; this lets the driver ask for a full GC over the IPC channel, and get an
 * answer once it is done, before it reads /metrics, so heap deltas compare live objects rather
 * than garbage that happens not to be collected yet. If the driver disappears (even SIGKILL),
 * the server exits instead of lingering with its database.
 */
import v8 from 'node:v8';
import type { RpcReply, RpcRequest } from './protocol';

if (process.send) {
  process.on('message', (msg: RpcRequest) => {
    if (msg?.cmd === 'heapsnapshot') {
      // `--heap-snapshots`: a full snapshot (it collects garbage first) to the driver's file.
      const file = v8.writeHeapSnapshot(String(msg.file));
      process.send?.({ rid: msg.rid, ok: true, result: { file } } satisfies RpcReply);
      return;
    }
    if (msg?.cmd !== 'gc') return;
    const gc = (globalThis as { gc?: () => void }).gc;
    if (gc) {
      gc();
      gc();
    }
    process.send?.({ rid: msg.rid, ok: true, result: { collected: Boolean(gc) } } satisfies RpcReply);
  });
  process.on('disconnect', () => process.exit(1));
  // The server decides when it ends, not this channel.
  process.channel?.unref();
}
