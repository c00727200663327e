import fs from 'node:fs';
import path from 'node:path';
import { EVENT_TYPES } from '../../src/contract/event-names';
import { EVENT_DATA, envelopeOf } from '../../src/contract/events';
import { PACKAGE_ROOT } from '../../src/package-root';

describe('the contract module', () => {
  it('keeps the names the pages load free of imports (the browser has no zod)', () => {
    const source = fs.readFileSync(path.join(PACKAGE_ROOT, 'src/contract/event-names.ts'), 'utf8');
    expect(source).not.toMatch(/^\s*import\b/m);
  });

  it('has a data schema for every event type, and none for a type it does not name', () => {
    expect(Object.keys(EVENT_DATA).sort()).toEqual([...EVENT_TYPES].sort());
  });

  it('takes an event that fits its type and refuses one that does not', () => {
    const e = { id: '1', type: 'announcement', occurredAt: new Date().toISOString(), data: { title: 't', body: 'b' } };
    expect(envelopeOf('announcement').safeParse(e).success).toBe(true);
    expect(envelopeOf('announcement').safeParse({ ...e, data: { title: 't' } }).success).toBe(false);
    expect(envelopeOf('notification.read').safeParse(e).success).toBe(false);
  });
});
