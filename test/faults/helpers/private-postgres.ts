import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { freePort } from '../../support/free-port';

const run = promisify(execFile);
const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
const RUNUSER = ['/usr/sbin/runuser', '/sbin/runuser', '/usr/bin/runuser'].find((p) => fs.existsSync(p));
const isRoot = process.getuid?.() === 0;

/** Why a private PostgreSQL cannot be started here, or undefined when it can. */
export function privatePostgresSkipReason(): string | undefined {
  const missing = ['initdb', 'pg_ctl', 'postgres'].filter((b) => !fs.existsSync(path.join(PG_BIN, b)));
  if (missing.length) return `no ${missing.join(', ')} in ${PG_BIN}`;
  // initdb refuses to run as root: as root we need runuser and the postgres account.
  if (isRoot && !RUNUSER) return 'running as root and runuser is missing';
  if (isRoot) {
    try {
      execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' });
    } catch {
      return 'running as root and there is no postgres user';
    }
  }
  return undefined;
}

/**
 * A PostgreSQL of the test's own (initdb into a temporary folder, its own port and socket
 * folder), so stopping it under traffic never touches the shared server other suites use.
 */
export class PrivatePostgres {
  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  static async create(): Promise<PrivatePostgres> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rt-faults-pg-'));
    if (isRoot) execFileSync('chown', ['postgres:postgres', dir]);
    const pg = new PrivatePostgres(dir, await freePort());
    live.add(pg);
    await pg.pg('initdb', ['-D', pg.dataDir, '--auth=trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync']);
    await pg.start();
    return pg;
  }

  get dataDir(): string {
    return path.join(this.dir, 'data');
  }

  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  async start(): Promise<void> {
    const opts = `-k ${this.dir} -p ${this.port} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60 -c shared_buffers=16MB`;
    await this.pg('pg_ctl', ['start', '-w', '-t', '60', '-D', this.dataDir, '-l', path.join(this.dir, 'log'), '-o', opts]);
  }

  /** Fast shutdown: open transactions are rolled back, clients are disconnected. */
  async stop(): Promise<void> {
    await this.pg('pg_ctl', ['stop', '-w', '-t', '60', '-m', 'fast', '-D', this.dataDir]);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Ends every other backend of `database` (what a failover or an operator's kill looks like). */
  async terminateConnections(database: string): Promise<number> {
    const c = new Client({ connectionString: this.url() });
    await c.connect();
    try {
      const r = await c.query(
        'SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
        [database],
      );
      return r.rows[0].n;
    } finally {
      await c.end();
    }
  }

  async query<T = any>(sql: string, params: unknown[] = [], database = 'postgres'): Promise<T[]> {
    const c = new Client({ connectionString: this.url(database) });
    await c.connect();
    try {
      return (await c.query(sql, params)).rows;
    } finally {
      await c.end();
    }
  }

  log(): string {
    try {
      return fs.readFileSync(path.join(this.dir, 'log'), 'utf8');
    } catch {
      return '';
    }
  }

  destroy(): void {
    live.delete(this);
    try {
      execFileSync(...asPostgres(path.join(PG_BIN, 'pg_ctl'), ['stop', '-w', '-m', 'immediate', '-D', this.dataDir]), { stdio: 'ignore' });
    } catch {
      // Not running.
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private async pg(bin: string, args: string[]): Promise<void> {
    try {
      await run(...asPostgres(path.join(PG_BIN, bin), args), { cwd: this.dir, timeout: 90_000 });
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`${bin} ${args[0]} failed: ${e.stderr || e.message}\n${this.log().slice(-2000)}`, { cause: err });
    }
  }
}

function asPostgres(file: string, args: string[]): [string, string[]] {
  return isRoot ? [RUNUSER!, ['-u', 'postgres', '--', file, ...args]] : [file, args];
}

// A test process that dies must not leave a postmaster behind.
const live = new Set<PrivatePostgres>();
process.once('exit', () => {
  for (const pg of [...live]) pg.destroy();
});
