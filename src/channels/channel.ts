import type { DeliveryChannel } from '../contract/vocabulary';
import type { PushSubscriptionRow } from './push-repository';

/** What a channel sends: the notification as its recipient reads it, and where it goes. */
export interface OutgoingMessage {
  deliveryId: string;
  notificationId: string;
  userId: string;
  type: string;
  title: string;
  body: string;
  data: Record<string, unknown>;
  /** An email address, an E.164 number, or (push) the user's id: each channel knows its own. */
  address: string;
  /** Push only: the recipient's role and subscriptions, when the dispatcher's claim read them with the delivery. */
  push?: PushRecipient;
}

export interface PushRecipient {
  role: string | null;
  subscriptions: PushSubscriptionRow[];
}

export interface ChannelSender {
  readonly channel: DeliveryChannel;
  /** Resolves once the provider accepted the message, with its id for the message if it gives one. */
  send(message: OutgoingMessage): Promise<{ providerRef: string | null }>;
}

/**
 * The provider answered that it did not take the message. Only this error lets the dispatcher try
 * again (when `retryable`): any other failure may have come after the provider accepted, and a
 * second attempt could send twice.
 */
export class SendRefused extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'SendRefused';
  }
}
