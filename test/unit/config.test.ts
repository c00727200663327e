import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { loadConfig, ConfigError } from '../../src/config';

const REPO_ROOT = path.resolve(__dirname, '../..');
const GOOD_SECRET = 'a-secret-that-is-long-enough-0123456789';

const tempDirs: string[] = [];
const tempDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rt-config-'));
  tempDirs.push(dir);
  return dir;
};
afterAll(() => tempDirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** The ConfigError loadConfig throws for `env` (fails the test if it throws nothing or something else). */
function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    // JWT_SECRET given, so nothing is generated (nor written to the default ./.data).
    const c = loadConfig({ JWT_SECRET: GOOD_SECRET });
    expect(c).toEqual(
      expect.objectContaining({
        NODE_ENV: 'development',
        PORT: 3000,
        HEARTBEAT_MS: 15_000,
        EVENT_RETENTION_HOURS: 168,
        DATA_DIR: './.data',
        LOG_LEVEL: 'info',
        STREAM_QUEUE_CAP_BYTES: 1024 * 1024,
        SHUTDOWN_TIMEOUT_MS: 10_000,
        JWT_SECRET: GOOD_SECRET,
        jwtSecretGenerated: false,
      }),
    );
    expect(c.DATABASE_URL).toBeUndefined();
    expect(c.INSTANCE_ID).toEqual(expect.any(String));
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('says times in Africa/Johannesburg unless MARKETPLACE_TIME_ZONE names another IANA zone', () => {
    expect(loadConfig({ JWT_SECRET: GOOD_SECRET }).MARKETPLACE_TIME_ZONE).toBe('Africa/Johannesburg');
    expect(loadConfig({ JWT_SECRET: GOOD_SECRET, MARKETPLACE_TIME_ZONE: 'Africa/Lagos' }).MARKETPLACE_TIME_ZONE).toBe('Africa/Lagos');
    expect(configError({ JWT_SECRET: GOOD_SECRET, MARKETPLACE_TIME_ZONE: 'Mars/Olympus' }).message).toMatch(/MARKETPLACE_TIME_ZONE.*IANA time zone/);
  });

  it('defaults PAYSTACK_BASE_URL to Paystack and says whether it was set (demo mode runs its fake only when unset)', () => {
    const unset = loadConfig({ JWT_SECRET: GOOD_SECRET, PAYSTACK_BASE_URL: '' });
    expect(unset.PAYSTACK_BASE_URL).toBe('https://api.paystack.co');
    expect(unset.paystackBaseUrlSet).toBe(false);
    const set = loadConfig({ JWT_SECRET: GOOD_SECRET, PAYSTACK_BASE_URL: 'http://localhost:4010' });
    expect(set.PAYSTACK_BASE_URL).toBe('http://localhost:4010');
    expect(set.paystackBaseUrlSet).toBe(true);
    expect(configError({ JWT_SECRET: GOOD_SECRET, PAYSTACK_BASE_URL: 'ftp://x' }).problems).toEqual([expect.stringMatching(/^PAYSTACK_BASE_URL: /)]);
  });

  it('treats empty strings as unset and parses numbers', () => {
    const dataDir = tempDir();
    const c = loadConfig({ PORT: '', HEARTBEAT_MS: '2500', DATA_DIR: dataDir, JWT_SECRET: GOOD_SECRET, DATABASE_URL: 'postgresql://u@h/db' });
    expect(c.PORT).toBe(3000);
    expect(c.HEARTBEAT_MS).toBe(2500);
    expect(c.DATA_DIR).toBe(dataDir);
    expect(c.DATABASE_URL).toBe('postgresql://u@h/db');
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['HEARTBEAT_MS', '-1'],
    ['DATABASE_URL', 'mysql://x'],
    ['LOG_LEVEL', 'loud'],
    ['NODE_ENV', 'staging'],
    ['JWT_SECRET', 'too-short'],
    ['STREAM_QUEUE_CAP_BYTES', '10'],
  ])('rejects %s=%s with a ConfigError naming the variable', (name, value) => {
    const dataDir = tempDir();
    const err = configError({ DATA_DIR: dataDir, JWT_SECRET: GOOD_SECRET, [name]: value });
    expect(err.problems).toEqual([expect.stringMatching(new RegExp(`^${name}: `))]);
    expect(err.message).toContain(`${name}: `);
    // Validation fails before anything is written.
    expect(fs.readdirSync(dataDir)).toEqual([]);
  });

  it('lists every bad variable at once', () => {
    const err = configError({ PORT: 'abc', LOG_LEVEL: 'loud', JWT_SECRET: GOOD_SECRET });
    expect(err.problems).toHaveLength(2);
    expect(err.message).toMatch(/PORT: /);
    expect(err.message).toMatch(/LOG_LEVEL: /);
  });

  it('requires JWT_SECRET when NODE_ENV=production, and generates nothing', () => {
    const dataDir = tempDir();
    // Everything else production requires is given, so JWT_SECRET is the one problem.
    const production = { NODE_ENV: 'production', DATA_DIR: dataDir, PAYSTACK_SECRET_KEY: 'sk_test_0123456789abcdef' };
    const err = configError(production);
    expect(err.problems).toEqual([expect.stringMatching(/^JWT_SECRET: /)]);
    expect(fs.existsSync(path.join(dataDir, 'jwt-secret'))).toBe(false);
    const c = loadConfig({ ...production, JWT_SECRET: GOOD_SECRET });
    expect(c.JWT_SECRET).toBe(GOOD_SECRET);
    expect(c.jwtSecretGenerated).toBe(false);
  });

  it('in development without JWT_SECRET, generates a secret once into DATA_DIR/jwt-secret (mode 0600) and reuses it', () => {
    // A data folder that does not exist yet: it is created.
    const dataDir = path.join(tempDir(), 'nested', 'data');
    const first = loadConfig({ DATA_DIR: dataDir });
    expect(first.jwtSecretGenerated).toBe(true);
    expect(first.JWT_SECRET.length).toBeGreaterThanOrEqual(32);

    const file = path.join(dataDir, 'jwt-secret');
    const stat = fs.statSync(file);
    expect(stat.mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(file, 'utf8').trim()).toBe(first.JWT_SECRET);

    const second = loadConfig({ DATA_DIR: dataDir });
    expect(second.JWT_SECRET).toBe(first.JWT_SECRET);
    expect(second.jwtSecretGenerated).toBe(true);
    expect(fs.readFileSync(file, 'utf8').trim()).toBe(first.JWT_SECRET);

    // Another data folder gets its own secret.
    expect(loadConfig({ DATA_DIR: tempDir() }).JWT_SECRET).not.toBe(first.JWT_SECRET);
  });

  it.each([[''], ['short\n']])('refuses a jwt-secret file holding %j instead of signing with a weak key', (content) => {
    const dataDir = tempDir();
    fs.writeFileSync(path.join(dataDir, 'jwt-secret'), content);
    expect(configError({ DATA_DIR: dataDir }).problems[0]).toMatch(/^JWT_SECRET:/);
  });

  it('the server process exits with code 1 and names the bad variable on stderr', async () => {
    const dataDir = tempDir();
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      cwd: REPO_ROOT,
      // A clean environment: nothing from the developer's shell or from jest leaks in.
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? os.tmpdir(), PORT: 'abc', DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const code = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`server did not exit within 20 s; stderr: ${stderr}`));
      }, 20_000);
      child.once('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    // 'exit' can come before the pipes are drained.
    await new Promise((r) => (child.stderr.readableEnded ? r(undefined) : child.stderr.once('end', r)));
    expect({ code, stderr }).toEqual({ code: 1, stderr: expect.stringMatching(/^\s+- PORT: /m) });
    expect(stderr).toContain('Invalid configuration');
    expect(stdout).toBe('');
    // It failed on configuration, before touching the data folder.
    expect(fs.readdirSync(dataDir)).toEqual([]);
  }, 30_000);
});

describe('loadConfig: abuse and exposure settings', () => {
  const base = { JWT_SECRET: GOOD_SECRET };

  it('defaults: no issuer or audience, 30-day tokens, no trusted proxy, 60 writes a minute, 3 pending per pair, no metrics token', () => {
    const c = loadConfig(base);
    expect(c).toEqual(expect.objectContaining({ JWT_MAX_LIFETIME: 30 * 86_400, WRITE_RATE_LIMIT_PER_MIN: 60, MAX_PENDING_BOOKINGS_PER_PAIR: 3 }));
    expect([c.JWT_ISSUER, c.JWT_AUDIENCE, c.TRUST_PROXY, c.METRICS_TOKEN]).toEqual([undefined, undefined, undefined, undefined]);
    // The instance id shown on /api/status says nothing about the process.
    expect(c.INSTANCE_ID).not.toContain(String(process.pid));
  });

  it('takes TRUST_PROXY as Express does: a hop count, or addresses, CIDRs and proxy-addr names', () => {
    expect(loadConfig({ ...base, TRUST_PROXY: '2' }).TRUST_PROXY).toBe(2);
    expect(loadConfig({ ...base, TRUST_PROXY: 'loopback, 10.0.0.0/8 ,fd00::/8' }).TRUST_PROXY).toEqual(['loopback', '10.0.0.0/8', 'fd00::/8']);
    for (const bad of ['not-an-address', '10.0.0.0/99', '1.2.3']) {
      expect(configError({ ...base, TRUST_PROXY: bad }).problems.join()).toMatch(/^TRUST_PROXY: /);
    }
  });

  it('refuses demo mode on anything but a loopback HOST, asked for or by default, whatever NODE_ENV is', () => {
    expect(configError({ ...base, HOST: '0.0.0.0' }).problems.join()).toMatch(/^DEMO_MODE: .*loopback.*0\.0\.0\.0/);
    expect(configError({ ...base, HOST: '0.0.0.0', DEMO_MODE: '1', NODE_ENV: 'test' }).problems.join()).toMatch(/loopback/);
    expect(configError({ ...base, HOST: '::', DEMO_MODE: '1', DATABASE_URL: 'postgres://h/db' }).problems.join()).toMatch(/loopback/);
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) {
      expect(loadConfig({ ...base, HOST: host, DEMO_MODE: '1' }).demoMode).toBe(true);
    }
    // Not a demo: any address.
    expect(loadConfig({ ...base, HOST: '0.0.0.0', DEMO_MODE: '0' }).demoMode).toBe(false);
    expect(loadConfig({ ...base, HOST: '0.0.0.0', DATABASE_URL: 'postgres://h/db' }).demoMode).toBe(false);
  });

  it('checks the new numbers and the metrics token', () => {
    expect(configError({ ...base, WRITE_RATE_LIMIT_PER_MIN: '-1' }).problems.join()).toMatch(/^WRITE_RATE_LIMIT_PER_MIN/);
    expect(loadConfig({ ...base, WRITE_RATE_LIMIT_PER_MIN: '0' }).WRITE_RATE_LIMIT_PER_MIN).toBe(0);
    expect(configError({ ...base, MAX_PENDING_BOOKINGS_PER_PAIR: '0' }).problems.join()).toMatch(/^MAX_PENDING_BOOKINGS_PER_PAIR/);
    expect(configError({ ...base, JWT_MAX_LIFETIME: '1e9' }).problems.join()).toMatch(/^JWT_MAX_LIFETIME/);
    expect(configError({ ...base, METRICS_TOKEN: 'short' }).problems.join()).toMatch(/^METRICS_TOKEN/);
  });
});

describe('loadConfig: the booking clock', () => {
  const base = { JWT_SECRET: GOOD_SECRET };

  it('defaults to a 24 h request TTL and a look every 30 s; takes fractions of an hour; refuses zero, negatives and words', () => {
    expect(loadConfig(base)).toEqual(expect.objectContaining({ BOOKING_REQUEST_TTL_HOURS: 24, BOOKING_TIMERS_INTERVAL_MS: 30_000 }));
    expect(loadConfig({ ...base, BOOKING_REQUEST_TTL_HOURS: '0.5' }).BOOKING_REQUEST_TTL_HOURS).toBe(0.5);
    for (const bad of ['0', '-1', 'a day', '1000']) {
      expect(configError({ ...base, BOOKING_REQUEST_TTL_HOURS: bad }).problems.join()).toMatch(/^BOOKING_REQUEST_TTL_HOURS/);
    }
    expect(configError({ ...base, BOOKING_TIMERS_INTERVAL_MS: '10' }).problems.join()).toMatch(/^BOOKING_TIMERS_INTERVAL_MS/);
  });
});
