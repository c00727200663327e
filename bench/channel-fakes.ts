/**
 * The far ends of the delivery channels for the `dispatch` phase, forked by the driver into a
 * process of its own (so neither the server nor the driver pays for them): the push service fake
 * (every payload decrypted, as a browser would), the Twilio Messages API fake, and a real SMTP
 * server. They are the test suite's fakes. Answers the driver over IPC:
 *
 * - `start {twilioSid, twilioToken}` -> the URLs the server is configured with;
 * - `subscribe {n}` -> n push subscriptions (the JSON a browser posts);
 * - `down` / `up`: the push service answers 503 to every push for now / takes them again (the
 *   bench's traffic is announcements, whose policy is in-app and push: Twilio and SMTP are
 *   configured, so the dispatcher runs as in production, and are expected to receive nothing);
 * - `counts` -> what each took, refused, and how many notifications arrived more than once.
 */
import { FakePushService } from '../fakes/fake-push-service';
import { FakeTwilio } from '../fakes/fake-twilio';
import { SmtpSink } from '../fakes/smtp-sink';
import type { RpcReply, RpcRequest } from './protocol';

export interface FakeUrls {
  pushHostPort: string;
  twilioUrl: string;
  smtpUrl: string;
}

export interface FakeCounts {
  push: { received: number; refused: number; duplicateNotifications: number };
  twilio: { received: number; duplicateNotifications: number };
  email: { received: number };
}

const push = new FakePushService();
let twilio: FakeTwilio;
const smtp = new SmtpSink();
const endpoints: string[] = [];

const duplicates = (ids: string[]) => ids.length - new Set(ids).size;

async function handle(m: RpcRequest): Promise<unknown> {
  switch (m.cmd) {
    case 'start': {
      twilio = new FakeTwilio(String(m.twilioSid), String(m.twilioToken));
      const { hostPort } = await push.start();
      return { pushHostPort: hostPort, twilioUrl: await twilio.start(), smtpUrl: await smtp.start() } satisfies FakeUrls;
    }
    case 'subscribe': {
      const out = Array.from({ length: Number(m.n) }, () => push.subscribe());
      endpoints.push(...out.map((s) => s.endpoint));
      return out;
    }
    case 'down':
    case 'up': {
      const down = m.cmd === 'down';
      for (const e of endpoints) push.answer(e, down ? 503 : 201);
      return { down };
    }
    case 'counts': {
      return {
        push: {
          received: push.received.length,
          refused: push.refused.length,
          duplicateNotifications: duplicates(push.received.map((r) => `${r.subscriptionId}/${String(r.payload.notificationId)}`)),
        },
        twilio: { received: twilio.messages.length, duplicateNotifications: duplicates(twilio.messages.map((x) => `${x.to}/${x.body}`)) },
        email: { received: smtp.messages.length },
      } satisfies FakeCounts;
    }
    default:
      throw new Error(`unknown command ${m.cmd}`);
  }
}

process.on('message', (m: RpcRequest) => {
  handle(m).then(
    (result) => process.send!({ rid: m.rid, ok: true, result } satisfies RpcReply),
    (err: Error) => process.send!({ rid: m.rid, ok: false, error: err.message } satisfies RpcReply),
  );
});
// The driver gone: nothing left to serve.
process.on('disconnect', () => process.exit(0));
process.send!({ hello: true });
