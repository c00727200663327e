import type { ChannelSender, OutgoingMessage } from '../../src/channels/channel';
import type { DeliveryChannel } from '../../src/contract/vocabulary';

/**
 * The far end of a channel whose provider is not in these tests: it accepts every message and
 * keeps it, so a test sees what the dispatcher decided to send, when.
 */
export class RecordingChannel implements ChannelSender {
  readonly sent: OutgoingMessage[] = [];
  constructor(readonly channel: DeliveryChannel) {}
  // eslint-disable-next-line @typescript-eslint/require-await -- ChannelSender's send is async; a real one awaits its provider
  async send(m: OutgoingMessage): Promise<{ providerRef: string }> {
    this.sent.push(m);
    return { providerRef: `${this.channel}-${this.sent.length}` };
  }
}
