import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rt-escalation-config-'));
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));
const base = { JWT_SECRET: 'a-secret-that-is-long-enough-0123456789', DATA_DIR: dataDir };
const delays = (env: NodeJS.ProcessEnv) => {
  const c = loadConfig(env);
  return [c.ESCALATE_PUSH_AFTER_S, c.ESCALATE_SMS_AFTER_S];
};

describe('escalation delays', () => {
  it('default to minutes (push after 2, WhatsApp/SMS after 10), in production and outside demo mode', () => {
    expect(delays({ ...base, DEMO_MODE: '0' })).toEqual([120, 600]);
    expect(delays({ ...base, DATABASE_URL: 'postgres://x/y' })).toEqual([120, 600]);
    expect(delays({ ...base, NODE_ENV: 'production', PAYSTACK_SECRET_KEY: 'sk_live_0123456789', DATABASE_URL: 'postgres://x/y' })).toEqual([120, 600]);
  });

  it('default to seconds in demo mode, so a newcomer watches a request escalate', () => {
    expect(delays({ ...base, DEMO_MODE: '1' })).toEqual([10, 30]);
    // Demo mode by default: development on the embedded database.
    expect(delays(base)).toEqual([10, 30]);
  });

  it('take what is set, in demo mode too, and refuse what is not a whole number of seconds', () => {
    expect(delays({ ...base, DEMO_MODE: '1', ESCALATE_PUSH_AFTER_S: '0', ESCALATE_SMS_AFTER_S: '45' })).toEqual([0, 45]);
    expect(delays({ ...base, DEMO_MODE: '0', ESCALATE_PUSH_AFTER_S: '5' })).toEqual([5, 600]);
    expect(() => loadConfig({ ...base, ESCALATE_SMS_AFTER_S: '1.5' })).toThrow(/ESCALATE_SMS_AFTER_S/);
    expect(() => loadConfig({ ...base, ESCALATE_PUSH_AFTER_S: '-1' })).toThrow(/ESCALATE_PUSH_AFTER_S/);
  });
});
