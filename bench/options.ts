/** The bench's command line: what each flag means, its default, and the parts it selects. */
import { parseArgs } from 'node:util';
import { PG_ADMIN_URL } from './database';

export type TargetName = 'ours' | 'baseline' | 'socketio';
/** What `--only` selects: a side of the comparison, or the announcement-to-all phase. */
export type PartName = TargetName | 'announce' | 'notify' | 'api' | 'longpoll' | 'dispatch';
export const PARTS: readonly PartName[] = ['ours', 'baseline', 'socketio', 'announce', 'notify', 'api', 'longpoll', 'dispatch'];

export interface Options {
  connections: number;
  events: number;
  latencySamples: number;
  /** Untimed sequential publishes before the latency samples, so they measure a warm server. */
  latencyWarmup: number;
  fanouts: number;
  publishers: number;
  connectConcurrency: number;
  embedded: boolean;
  quick: boolean;
  /** Parts to run (default all): `ours`, `baseline`, `announce`. */
  only?: PartName[];
  /** Users in the database for the announcement-to-all phase. */
  announceUsers: number;
  /** Users whose inbox is read after the announcement. */
  announceSample: number;
  seed: number;
  /** Repetitions of the ours/baseline pair (alternating order); the table shows medians. */
  rounds: number;
  /** Padding added to every announcement body, to see how cost grows with payload size. */
  payloadBytes: number;
  /** Write V8 CPU profiles of both servers to bench/results/profiles/. */
  profile: boolean;
  /** Run the servers and workers from their TypeScript sources under tsx instead of compiled. */
  tsx: boolean;
  /** Write heap snapshots of each server before and after connecting, to bench/results/heap/. */
  heapSnapshots: boolean;
  /** The NOTIFY phase: listening instances per configuration, fixed rates, seconds per step, publisher concurrency. */
  notifyInstances: number[];
  notifyRates: number[];
  notifySeconds: number;
  notifyConcurrency: number;
  notifyDebounceMs: number;
  /** The api phase: polling users, connections and seconds; webhook payments and concurrency. */
  pollUsers: number;
  pollConcurrency: number;
  pollSeconds: number;
  /** The api phase's open-loop polling step: offered requests/s (0 skips it) and seconds. */
  pollRate: number;
  pollRateSeconds: number;
  webhooks: number;
  webhookConcurrency: number;
  /** The api phase's polling steps against the baseline server too, after ours. */
  apiBaseline: boolean;
  /** The longpoll phase: polls held, POLL_MAX_WAIT_S, idle window (s), events in the CPU comparison, latency warm-up. */
  longPolls: number;
  longPollWait: number;
  longPollIdle: number;
  longPollCycles: number;
  longPollWarmup: number;
  /** The dispatch phase: users away (push on, no stream), events, their share to away users, off/on pairs, the backlog's outage (s) and rate. */
  dispatchAway: number;
  dispatchEvents: number;
  dispatchAwayShare: number;
  dispatchRounds: number;
  dispatchOutage: number;
  dispatchOutageRate: number;
}

const HELP = [
  'npm run bench -- [options]',
  '  --connections N          SSE streams to hold (default 2000; --quick 200)',
  '  --events M               user-addressed events in the sustained phase (default 2000; --quick 300)',
  '  --embedded               run the server on embedded PGlite (temporary DATA_DIR) instead of PostgreSQL',
  '  --quick                  200 connections, 300 events, fewer latency samples and fan-outs',
  '  --latency-samples K      sequential publish->receive samples (default 200; --quick 100)',
  '  --latency-warmup W       untimed sequential publishes before them, on every server (default 1000; --quick 100; 0 = cold)',
  '  --fanouts F              announcements to everyone, one at a time (default 5; --quick 3)',
  '  --publishers P           concurrent publishers in the sustained phase (default 4)',
  '  --connect-concurrency C  streams being opened at once (default 100)',
  '  --only PART[,PART]       run only these parts: ours, baseline, socketio, announce, notify, api, longpoll, dispatch (default: all)',
  '  --announce-users U       users in the database for the announcement to all (default 10000; --quick 1000)',
  '  --announce-sample S      users whose inbox, unread count and read-all are timed afterwards (default 50)',
  '  --seed S                 PRNG seed for target users (default 1)',
  '  --rounds R               repeat the pair R times, alternating which goes first; table shows medians (default 1)',
  '  --payload-bytes B        pad every announcement body by B characters (default 0; the API allows ~3900)',
  '  --profile                write V8 CPU profiles of the servers to bench/results/profiles/<side>/',
  '  --tsx                    run the servers from their sources under tsx (default: compiled with tsc, as production runs)',
  '  --heap-snapshots         heap snapshots of each server before and after connecting: bench/results/heap/<side>-{before,after}.heapsnapshot;',
  '                           longpoll: longpoll-{start,streams,polls} (before, after the streams, after the polls)',
  '                           (compare with: npx tsx bench/heap-summary.ts before after --per N)',
  '  --notify-instances LIST  NOTIFY phase: listening processes per configuration (default 0,2,5,20; 0 = write path alone)',
  '  --notify-rates LIST      NOTIFY phase: fixed publish rates in events/s, then a max step (default 50,100,250,500,1000,2000,4000,8000; --quick 100,500)',
  '  --notify-seconds S       NOTIFY phase: seconds per step (default 3; --quick 1.5)',
  '  --notify-concurrency C   NOTIFY phase: concurrent publishing transactions (default 8)',
  '  --notify-debounce-ms D   NOTIFY phase experiment: listeners debounce wakes by D ms before reading the log (default 0, as the server)',
  '  --poll-users U           api phase: users polling GET /api/events (default 500; --quick 100)',
  '  --poll-concurrency C     api phase: polling connections (default 32)',
  '  --poll-seconds S         api phase: seconds of polling (default 10; --quick 4)',
  '  --poll-rate R            api phase: then polls offered at R/s, open loop, timed from their scheduled send time (default 2000; 0 skips)',
  '  --poll-rate-seconds S    api phase: seconds of the open-loop polling step (default 10; --quick 4)',
  '  --webhooks W             api phase: payments settled by one burst of signed webhooks (default 500; --quick 100; 0 skips)',
  '  --webhook-concurrency C  api phase: webhook deliveries in flight (default 50)',
  '  --api-baseline BOOL      api phase: both polling steps against the raw node:http baseline too, after ours (default true)',
  '  --long-polls N           longpoll phase: long polls held at once, one user each, next to as many streams (default 10000; --quick 200)',
  '  --long-poll-wait S       longpoll phase: POLL_MAX_WAIT_S for its server and the wait every poll asks for (default 25; --quick 10)',
  '  --long-poll-idle S       longpoll phase: idle window for requests per minute per client (default 2 x the wait)',
  '  --long-poll-cycles E     longpoll phase: events to held polls, to nobody, and short polls, for CPU per cycle (default 2000; --quick 400)',
  '  --long-poll-warmup W     longpoll phase: untimed events to polls and streams before the latency samples (default 200; --quick 50)',
  '  --dispatch-away A        dispatch phase: users with push on and no stream, beside --connections streams (default 500; --quick 100)',
  '  --dispatch-events M      dispatch phase: sustained announcements per side (default 5000; --quick 1000)',
  '  --dispatch-away-share F  dispatch phase: share of them to away users, whose push is sent (default 0.25)',
  '  --dispatch-rounds R      dispatch phase: dispatcher off/on pairs, alternating which goes first (default 2; --quick 1)',
  '  --dispatch-outage S      dispatch phase: seconds the push service is down, standing for 600 (default 60; --quick 20; 0 skips the backlog)',
  '  --dispatch-outage-rate R dispatch phase: announcements to away users per second during the outage (default 50)',
  `PostgreSQL admin URL: $BENCH_PG_URL or ${PG_ADMIN_URL}`,
  '',
].join('\n');

function readArgv() {
  const { values } = parseArgs({
    options: {
      connections: { type: 'string' },
      events: { type: 'string' },
      'latency-samples': { type: 'string' },
      'latency-warmup': { type: 'string' },
      fanouts: { type: 'string' },
      publishers: { type: 'string' },
      'connect-concurrency': { type: 'string' },
      embedded: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      'announce-users': { type: 'string' },
      'announce-sample': { type: 'string' },
      seed: { type: 'string' },
      'payload-bytes': { type: 'string' },
      rounds: { type: 'string' },
      profile: { type: 'boolean', default: false },
      'heap-snapshots': { type: 'boolean', default: false },
      tsx: { type: 'boolean', default: false },
      'notify-instances': { type: 'string' },
      'notify-rates': { type: 'string' },
      'notify-seconds': { type: 'string' },
      'notify-concurrency': { type: 'string' },
      'notify-debounce-ms': { type: 'string' },
      'poll-users': { type: 'string' },
      'poll-concurrency': { type: 'string' },
      'poll-seconds': { type: 'string' },
      'poll-rate': { type: 'string' },
      'poll-rate-seconds': { type: 'string' },
      webhooks: { type: 'string' },
      'webhook-concurrency': { type: 'string' },
      'api-baseline': { type: 'string' },
      'long-polls': { type: 'string' },
      'long-poll-wait': { type: 'string' },
      'long-poll-idle': { type: 'string' },
      'long-poll-cycles': { type: 'string' },
      'long-poll-warmup': { type: 'string' },
      'dispatch-away': { type: 'string' },
      'dispatch-events': { type: 'string' },
      'dispatch-away-share': { type: 'string' },
      'dispatch-rounds': { type: 'string' },
      'dispatch-outage': { type: 'string' },
      'dispatch-outage-rate': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  return values;
}

const int = (v: string | undefined, def: number, name: string, min = 1) => {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}`);
  return n;
};
const intList = (v: string | undefined, def: number[], name: string, min: number) =>
  v === undefined ? def : v.split(',').map((x) => int(x.trim(), 0, name, min));
const positive = (v: string | undefined, def: number, name: string) => {
  if (v === undefined) return def;
  const n = Number(v);
  if (!(n > 0)) throw new Error(`--${name} must be a positive number`);
  return n;
};
const bool = (v: string | undefined, def: boolean, name: string) => {
  if (v === undefined) return def;
  if (v === 'true' || v === 'false') return v === 'true';
  throw new Error(`--${name} takes true or false; got "${v}"`);
};

function parseOnly(list: string | undefined): PartName[] | undefined {
  if (list === undefined) return undefined;
  const only = list.split(',').map((x) => x.trim()) as PartName[];
  const bad = only.filter((x) => !PARTS.includes(x));
  if (bad.length || only.length === 0) throw new Error(`--only takes a comma-separated list of ${PARTS.join(', ')}; got "${list}"`);
  return only;
}

/** The options of this run; `--help` prints every flag and exits. */
export function parseOptions(): Options {
  const values = readArgv();
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const quick = values.quick ?? false;
  const only = parseOnly(values.only);
  return {
    quick,
    embedded: values.embedded ?? false,
    connections: int(values.connections, quick ? 200 : 2000, 'connections'),
    events: int(values.events, quick ? 300 : 2000, 'events', 0),
    latencySamples: int(values['latency-samples'], quick ? 100 : 200, 'latency-samples', 0),
    latencyWarmup: int(values['latency-warmup'], quick ? 100 : 1000, 'latency-warmup', 0),
    fanouts: int(values.fanouts, quick ? 3 : 5, 'fanouts', 0),
    publishers: int(values.publishers, 4, 'publishers'),
    connectConcurrency: int(values['connect-concurrency'], 100, 'connect-concurrency'),
    only,
    announceUsers: int(values['announce-users'], quick ? 1000 : 10_000, 'announce-users'),
    announceSample: int(values['announce-sample'], 50, 'announce-sample'),
    seed: int(values.seed, 1, 'seed', 0),
    profile: values.profile ?? false,
    heapSnapshots: values['heap-snapshots'] ?? false,
    tsx: values.tsx ?? false,
    payloadBytes: int(values['payload-bytes'], 0, 'payload-bytes', 0),
    rounds: int(values.rounds, 1, 'rounds'),
    notifyInstances: intList(values['notify-instances'], [0, 2, 5, 20], 'notify-instances', 0),
    notifyRates: intList(values['notify-rates'], quick ? [100, 500] : [50, 100, 250, 500, 1000, 2000, 4000, 8000], 'notify-rates', 1),
    notifySeconds: positive(values['notify-seconds'], quick ? 1.5 : 3, 'notify-seconds'),
    notifyConcurrency: int(values['notify-concurrency'], 8, 'notify-concurrency'),
    notifyDebounceMs: int(values['notify-debounce-ms'], 0, 'notify-debounce-ms', 0),
    pollUsers: int(values['poll-users'], quick ? 100 : 500, 'poll-users'),
    pollConcurrency: int(values['poll-concurrency'], 32, 'poll-concurrency'),
    pollSeconds: positive(values['poll-seconds'], quick ? 4 : 10, 'poll-seconds'),
    pollRate: int(values['poll-rate'], 2000, 'poll-rate', 0),
    pollRateSeconds: positive(values['poll-rate-seconds'], quick ? 4 : 10, 'poll-rate-seconds'),
    webhooks: int(values.webhooks, quick ? 100 : 500, 'webhooks', 0),
    webhookConcurrency: int(values['webhook-concurrency'], 50, 'webhook-concurrency'),
    apiBaseline: bool(values['api-baseline'], true, 'api-baseline'),
    longPolls: int(values['long-polls'], quick ? 200 : 10_000, 'long-polls'),
    longPollWait: int(values['long-poll-wait'], quick ? 10 : 25, 'long-poll-wait'),
    longPollIdle: positive(values['long-poll-idle'], 2 * int(values['long-poll-wait'], quick ? 10 : 25, 'long-poll-wait'), 'long-poll-idle'),
    longPollCycles: int(values['long-poll-cycles'], quick ? 400 : 2000, 'long-poll-cycles', 4),
    longPollWarmup: int(values['long-poll-warmup'], quick ? 50 : 200, 'long-poll-warmup', 0),
    dispatchAway: int(values['dispatch-away'], quick ? 100 : 500, 'dispatch-away'),
    dispatchEvents: int(values['dispatch-events'], quick ? 1000 : 5000, 'dispatch-events'),
    dispatchAwayShare: Math.min(1, positive(values['dispatch-away-share'], 0.25, 'dispatch-away-share')),
    dispatchRounds: int(values['dispatch-rounds'], quick ? 1 : 2, 'dispatch-rounds'),
    dispatchOutage: int(values['dispatch-outage'], quick ? 20 : 60, 'dispatch-outage', 0),
    dispatchOutageRate: int(values['dispatch-outage-rate'], 50, 'dispatch-outage-rate'),
  };
}
