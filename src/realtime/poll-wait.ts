import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PollResponse } from '../contract/events';
import type { ChannelName } from '../events/event-types';
import type { HeldPoll } from './held-polls';
import type { Expiring } from './poll-deadlines';
import type { TypeFilter } from './type-filter';

/** Where a poll's outcome goes (poll.ts): the endpoint before Express, or its route in Express. */
export interface PollSink {
  /** Sets the headers an answer carries besides its own, just before it is sent. */
  decorate(req: IncomingMessage, res: ServerResponse): void;
  /** Answered 200 (`res.writableEnded`), or not at all: the client left while it was held. */
  finished(req: IncomingMessage, res: ServerResponse, startedAt: number): void;
  /** Failed before anything was sent. */
  failed(req: IncomingMessage, res: ServerResponse, err: unknown, startedAt: number): void;
}

/** What a waiting poll asks of the poller that holds it. */
export interface PollHolder {
  /** The poll's page after `cursor`, from the poll window (memory) as a rule. */
  look(poll: WaitingPoll, cursor: string): Promise<PollResponse>;
  /**
   * Takes the poll out of the held index and its deadline list, then answers `body`, passes on
   * `err`, or (neither: the client left) only tells the sink.
   */
  settle(poll: WaitingPoll, body: PollResponse | undefined, err: unknown): void;
}

const LOOKING = 1;
const AGAIN = 2;
const FINAL = 4;
const DONE = 8;

/** The waiting poll a response belongs to, for the one 'close' listener that every held poll shares. */
const WAITING = Symbol('waitingPoll');
type Held = ServerResponse & { [WAITING]?: WaitingPoll };

/**
 * A long poll that found nothing and waits for an event: one object with what it needs, and no
 * closure, promise or timer of its own, because ten thousand of them sit idle for most of their
 * life (docs/performance.md). Looking again (a wake, the deadline, shutdown) reads the poll window
 * and answers if there is something, or moves the cursor past what there was and waits on.
 * Nothing dispatched after the first answer can be missed: the poll joins the held index
 * synchronously once that answer is in, and the poller looks again at once if the relay moved
 * past its cursor meanwhile. Wakes that come during a look coalesce into one more look.
 */
export class WaitingPoll implements HeldPoll, Expiring {
  deadline = 0;
  prevExpiring: Expiring | null = null;
  nextExpiring: Expiring | null = null;
  expiringIn: Expiring['expiringIn'] = null;
  private state = 0;

  constructor(
    private readonly holder: PollHolder,
    readonly userId: string,
    readonly channels: readonly ChannelName[],
    readonly types: TypeFilter | undefined,
    /** Events per answer. */
    readonly limit: number,
    /** Its request is `res.req`: one field less on every held poll. */
    readonly res: ServerResponse,
    readonly sink: PollSink,
    /** performance.now() when the request came. */
    readonly startedAt: number,
    /** Name/value pairs the rate limiter gave, set on the answer: joined by newlines, which no header value holds. */
    readonly headers: string,
    /** Nothing for this poll up to here. */
    private cursor: string,
  ) {}

  /** Listens for the client leaving; the caller has put it in the held index. */
  listen(): void {
    (this.res as Held)[WAITING] = this;
    this.res.on('close', onClose);
  }

  /** An event it may want was dispatched. */
  wake(): void {
    this.look();
  }

  /** Answer now with what there is: the wait ran out, or the server is shutting down. */
  release(): void {
    this.state |= FINAL;
    this.look();
  }

  expire(): void {
    this.release();
  }

  private look(): void {
    if (this.state & DONE) return;
    if (this.state & LOOKING) {
      this.state |= AGAIN;
      return;
    }
    this.state = (this.state | LOOKING) & ~AGAIN;
    this.holder.look(this, this.cursor).then(
      (body) => this.looked(body),
      (err: unknown) => this.finish(undefined, err),
    );
  }

  private looked(body: PollResponse): void {
    this.state &= ~LOOKING;
    if (this.state & DONE) return;
    if (this.state & FINAL || body.events.length > 0 || body.reset) return this.finish(body);
    // Nothing for this poll up to here: later looks start from it.
    this.cursor = body.lastEventId;
    if (this.state & AGAIN) this.look();
  }

  /** Once: out of the index, then the answer, the failure, or (the client left) nothing. */
  finish(body: PollResponse | undefined, err?: unknown): void {
    if (this.state & DONE) return;
    this.state |= DONE;
    this.res.removeListener('close', onClose);
    (this.res as Held)[WAITING] = undefined;
    this.holder.settle(this, body, err);
  }
}

function onClose(this: ServerResponse): void {
  (this as Held)[WAITING]?.finish(undefined);
}
