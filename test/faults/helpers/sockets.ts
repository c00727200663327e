import fs from 'node:fs';

export interface TcpSocket {
  localPort: number;
  remotePort: number;
  /** Kernel state: '0A' listening, '01' established, '06' time-wait, '08' close-wait... */
  state: string;
}

/** The TCP sockets a process holds open, from /proc (Linux): its fds matched to the kernel's tables. */
export function tcpSocketsOf(pid: number): TcpSocket[] {
  const inodes = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      // Closed while we looked.
    }
  }
  const out: TcpSocket[] = [];
  for (const table of ['tcp', 'tcp6']) {
    const lines = fs.readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1);
    for (const line of lines) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || !inodes.has(f[9])) continue;
      out.push({ localPort: parseInt(f[1].split(':')[1], 16), remotePort: parseInt(f[2].split(':')[1], 16), state: f[3] });
    }
  }
  return out;
}
