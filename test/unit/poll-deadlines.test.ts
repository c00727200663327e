import { PollDeadlines, type Expiring } from '../../src/realtime/poll-deadlines';
import { sleep } from '../support/sleep';

/* Real timers, short waits: what matters is the order, never early, and nothing after a removal. */
describe('PollDeadlines', () => {
  const expired: string[] = [];
  const entry = (name: string): Expiring & { at: number } => {
    const e = {
      name,
      at: 0,
      deadline: 0,
      prevExpiring: null,
      nextExpiring: null,
      expiringIn: null,
      expire: () => {
        e.at = performance.now();
        expired.push(name);
      },
    };
    return e;
  };
  beforeEach(() => (expired.length = 0));

  it('expires each entry once, not before its wait, in deadline order across wait lengths', async () => {
    const d = new PollDeadlines();
    const t0 = performance.now();
    const [a, b, c] = [entry('a'), entry('b'), entry('c')];
    d.add(a, 80);
    d.add(b, 30);
    await sleep(10);
    d.add(c, 30);
    await sleep(150);
    expect(expired).toEqual(['b', 'c', 'a']);
    expect(b.at - t0).toBeGreaterThanOrEqual(30);
    expect(c.at - t0).toBeGreaterThanOrEqual(40);
    expect(a.at - t0).toBeGreaterThanOrEqual(80);
  });

  it('never expires what was removed, first, middle or last, and keeps the rest', async () => {
    const d = new PollDeadlines();
    const es = ['p', 'q', 'r', 's', 't'].map(entry);
    for (const e of es) d.add(e, 20);
    d.remove(es[0]);
    d.remove(es[2]);
    d.remove(es[4]);
    d.remove(es[4]);
    await sleep(80);
    expect(expired).toEqual(['q', 's']);
  });

  it('takes entries again after its list emptied, and an entry can be added again once out', async () => {
    const d = new PollDeadlines();
    const x = entry('x');
    d.add(x, 20);
    d.remove(x);
    await sleep(40);
    expect(expired).toEqual([]);
    d.add(x, 20);
    await sleep(60);
    expect(expired).toEqual(['x']);
    expect(x.expiringIn).toBeNull();
  });
});
