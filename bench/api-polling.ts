/** The api phase's polling steps against one server: the closed loop, then the open loop (unless --poll-rate 0). */
import http from 'node:http';
import type { ApiContext, ApiOptions, PollingSteps } from './api-load';
import { caller, type Target } from './api-calls';
import { firstPolls, makePollers, type PollSession } from './api-pollers';
import { measureClosedLoop } from './api-closed-loop';
import { measureOpenLoop } from './api-open-loop';

export interface PollContext extends ApiContext {
  target: Target;
}

export async function measurePolling(o: ApiOptions, c: PollContext): Promise<PollingSteps> {
  const { target, say } = c;
  // Its own pool, so that both servers' steps start alike: C pollers and the announcer.
  const pool = new http.Agent({ keepAlive: true, maxSockets: o.pollConcurrency + 1 });
  const call = caller(target, pool);
  try {
    say(`polling: ${o.pollUsers} users, ${o.pollConcurrency} connections, ${o.pollSeconds} s, an announcement to all every 100 ms`);
    const s: PollSession = { o, target, say, call, admin: c.admin, pollers: makePollers(o, c.sign, c.run) };
    const firstErrors = await firstPolls(s);
    const polling = await measureClosedLoop(s, firstErrors);
    const pollingOpenLoop = o.pollRate > 0 ? await measureOpenLoop(s) : null;
    return { polling, pollingOpenLoop };
  } finally {
    pool.destroy();
  }
}
