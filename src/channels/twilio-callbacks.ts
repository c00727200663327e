import type { Knex } from 'knex';
import { z } from 'zod';
import { AppError } from '../errors/app-error';
import { recordProviderOutcome, type ProviderOutcome } from './delivery-repository';
import { verifyTwilioSignature, type FormParams } from './twilio-signature';
import { twilioFailureReason } from './twilio-errors';

/** The fields of Twilio's status callback this server reads; Twilio sends many more. */
export const TwilioStatusCallback = z.looseObject({
  MessageSid: z.string().min(1).max(64),
  MessageStatus: z.string().min(1).max(32),
  ErrorCode: z.string().max(16).optional(),
});

/** What a MessageStatus means for the delivery: delivered, failed, or (queued, sending, sent) nothing yet. */
export function outcomeOf(status: string, errorCode: string | undefined): ProviderOutcome | null {
  if (status === 'delivered' || status === 'read') return { status: 'delivered' };
  if (status === 'failed' || status === 'undelivered') {
    return { status: 'failed', code: errorCode ? `TWILIO_${errorCode}` : 'TWILIO_UNDELIVERED', reason: twilioFailureReason(status, errorCode) };
  }
  return null;
}

export type CallbackOutcome = 'delivered' | 'failed' | 'duplicate' | 'ignored';

/**
 * A status callback: the signature first (nothing is read or stored before it matches), then the
 * delivery with that message SID moves to delivered or failed once.
 */
export async function receiveTwilioStatus(
  knex: Knex,
  o: { authToken: string | undefined; url: string; params: FormParams; signature: string | undefined; now: Date },
): Promise<CallbackOutcome> {
  if (!o.authToken) throw new AppError('WEBHOOK_NOT_CONFIGURED', 'Twilio is not configured');
  if (!verifyTwilioSignature(o.authToken, o.url, o.params, o.signature)) throw new AppError('WEBHOOK_SIGNATURE_INVALID', 'Signature does not match');
  const parsed = TwilioStatusCallback.safeParse(o.params);
  if (!parsed.success) return 'ignored';
  const outcome = outcomeOf(parsed.data.MessageStatus, parsed.data.ErrorCode);
  if (!outcome) return 'ignored';
  const changed = await recordProviderOutcome(knex, ['sms', 'whatsapp'], parsed.data.MessageSid, outcome, o.now);
  return changed ? outcome.status : 'duplicate';
}
