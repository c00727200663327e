import { DemoOutbox, OUTBOX_KEEP } from '../../src/demo/demo-outbox';

const text = (n: number) => ({ channel: 'sms' as const, to: '+27825550101', recipient: null, title: '', text: `message ${n}` });

describe('DemoOutbox', () => {
  it('lists newest first, with ids that keep growing across a clear', () => {
    const o = new DemoOutbox();
    o.add(text(1));
    o.add({ ...text(2), channel: 'email' });
    expect(o.list().map((m) => [m.id, m.text, m.status])).toEqual([
      ['2', 'message 2', 'received'],
      ['1', 'message 1', 'received'],
    ]);
    expect(o.list('email').map((m) => m.id)).toEqual(['2']);
    o.clear();
    expect(o.list()).toEqual([]);
    expect(o.add(text(3)).id).toBe('3');
  });

  it('keeps the newest OUTBOX_KEEP messages', () => {
    const o = new DemoOutbox();
    for (let i = 1; i <= OUTBOX_KEEP + 5; i++) o.add(text(i));
    const list = o.list();
    expect(list).toHaveLength(OUTBOX_KEEP);
    expect(list[0].text).toBe(`message ${OUTBOX_KEEP + 5}`);
    expect(list[list.length - 1].text).toBe('message 6');
  });

  it('changes a status in place, and a list handed out does not change with it', () => {
    const o = new DemoOutbox();
    const m = o.add({ ...text(1), status: 'queued' });
    const before = o.list();
    o.setStatus(m.id, 'delivered');
    expect(before[0].status).toBe('queued');
    expect(o.list()[0].status).toBe('delivered');
  });
});
