import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, ConfigError } from '../../src/config';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rt-twilio-config-'));
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));
const base = { JWT_SECRET: 'a-secret-that-is-long-enough-0123456789', DATA_DIR: dataDir };
const SID = `AC${'ab'.repeat(16)}`;
const TOKEN = 'twilio_config_token_0123456789';

function problems(env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('TWILIO_* settings', () => {
  it('are off by default, with Twilio as the API', () => {
    const c = loadConfig(base);
    expect([c.TWILIO_BASE_URL, c.TWILIO_ACCOUNT_SID, c.TWILIO_AUTH_TOKEN, c.TWILIO_SMS_FROM, c.TWILIO_WHATSAPP_FROM]).toEqual([
      'https://api.twilio.com',
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('take an account, senders as E.164 numbers or Messaging Service SIDs, and a WhatsApp sender written whatsapp:+…', () => {
    const c = loadConfig({
      ...base,
      TWILIO_ACCOUNT_SID: SID,
      TWILIO_AUTH_TOKEN: TOKEN,
      TWILIO_SMS_FROM: `MG${'cd'.repeat(16)}`,
      TWILIO_WHATSAPP_FROM: 'whatsapp:+27870000002',
    });
    expect([c.TWILIO_ACCOUNT_SID, c.TWILIO_SMS_FROM, c.TWILIO_WHATSAPP_FROM]).toEqual([SID, `MG${'cd'.repeat(16)}`, '+27870000002']);
  });

  it('refuse an account without its token, a malformed SID and a sender that is not a number', () => {
    expect(problems({ ...base, TWILIO_ACCOUNT_SID: SID })).toEqual(['TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN: set both or neither']);
    expect(problems({ ...base, TWILIO_AUTH_TOKEN: TOKEN })).toEqual(['TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN: set both or neither']);
    expect(problems({ ...base, TWILIO_ACCOUNT_SID: 'AC123', TWILIO_AUTH_TOKEN: TOKEN }).join()).toMatch(/^TWILIO_ACCOUNT_SID/);
    expect(problems({ ...base, TWILIO_SMS_FROM: '082 555 1234' }).join()).toMatch(/^TWILIO_SMS_FROM/);
    expect(problems({ ...base, TWILIO_WHATSAPP_FROM: 'whatsapp:0825551234' }).join()).toMatch(/^TWILIO_WHATSAPP_FROM/);
  });
});
