/** An admin who announces to all every 100 ms while a polling step runs; both steps use one. */
import { parse, type Call } from './api-calls';
import { sleep } from '../test/support/sleep';

export interface Announcer {
  /** The event ids of the announcements accepted so far. */
  announced: string[];
  stop: () => Promise<void>;
}

export function startAnnouncer(call: Call, admin: string): Announcer {
  const announced: string[] = [];
  let announcing = true;
  const done = (async () => {
    let n = 0;
    while (announcing) {
      const r = await call('POST', '/api/broadcasts', admin, { title: 'poll', body: `poll ${n++}`, all: true });
      if (r.status === 202) announced.push(String(parse(r.body).eventId));
      await sleep(100);
    }
  })();
  return {
    announced,
    stop: async () => {
      announcing = false;
      await done;
    },
  };
}
