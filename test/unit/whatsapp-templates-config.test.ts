import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, ConfigError } from '../../src/config';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rt-wa-templates-'));
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));
const base = { JWT_SECRET: 'a-secret-that-is-long-enough-0123456789', DATA_DIR: dataDir };
const SID = `HX${'0a'.repeat(16)}`;

function problems(env: NodeJS.ProcessEnv): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems.join('\n');
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('TWILIO_WHATSAPP_TEMPLATES', () => {
  it('is empty unless set, and maps notification types (or *) to Content SIDs', () => {
    expect(loadConfig(base).TWILIO_WHATSAPP_TEMPLATES).toEqual({});
    const map = { 'booking.created': SID, '*': `HX${'b1'.repeat(16)}` };
    expect(loadConfig({ ...base, TWILIO_WHATSAPP_TEMPLATES: JSON.stringify(map) }).TWILIO_WHATSAPP_TEMPLATES).toEqual(map);
  });

  it('refuses what is not JSON, a SID that is not HX and 32 hex digits, and a type without a policy', () => {
    expect(problems({ ...base, TWILIO_WHATSAPP_TEMPLATES: 'booking.created=HX1' })).toMatch(/^TWILIO_WHATSAPP_TEMPLATES: a JSON object/);
    expect(problems({ ...base, TWILIO_WHATSAPP_TEMPLATES: JSON.stringify({ 'booking.created': 'HX123' }) })).toMatch(/TWILIO_WHATSAPP_TEMPLATES.*Content SID/);
    expect(problems({ ...base, TWILIO_WHATSAPP_TEMPLATES: JSON.stringify({ 'booking.nonsense': SID }) })).toMatch(
      /TWILIO_WHATSAPP_TEMPLATES.*notification types/,
    );
    expect(problems({ ...base, TWILIO_WHATSAPP_TEMPLATES: '["HX"]' })).toMatch(/^TWILIO_WHATSAPP_TEMPLATES/);
  });
});
