/**
 * What a person reading a delivery's status needs to know about a Twilio error code, for the codes
 * whose fix is ours to make; Twilio's own page for any code is https://www.twilio.com/docs/api/errors/<code>.
 */
const REASONS: Readonly<Record<string, string>> = {
  '63016':
    "outside WhatsApp's 24-hour window since the person's last message, WhatsApp takes only an approved template; none is configured for this type (TWILIO_WHATSAPP_TEMPLATES)",
};

/** The reason recorded for a message Twilio says `status` (failed, undelivered) with `errorCode`. */
export function twilioFailureReason(status: string, errorCode: string | undefined): string {
  const why = errorCode ? REASONS[errorCode] : undefined;
  return why ? `Twilio reported the message ${status}: ${why}` : `Twilio reported the message ${status}`;
}
