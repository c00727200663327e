import crypto from 'node:crypto';

/** The POST parameters of a callback as the form parser gives them (a repeated name is an array). */
export type FormParams = Record<string, string | string[]>;

/**
 * X-Twilio-Signature: base64 of HMAC-SHA1 keyed with the auth token, over the full URL Twilio
 * called followed by every POST parameter sorted by name, each name then its value with no
 * separators (a repeated name once per value).
 */
export function twilioSignature(authToken: string, url: string, params: FormParams): string {
  let data = url;
  for (const name of Object.keys(params).sort()) {
    const value = params[name];
    for (const v of Array.isArray(value) ? value : [value]) data += name + v;
  }
  return crypto.createHmac('sha1', authToken).update(data, 'utf8').digest('base64');
}

/** Whether `given` is the signature of this callback, compared in constant time. */
export function verifyTwilioSignature(authToken: string, url: string, params: FormParams, given: string | undefined): boolean {
  if (!given) return false;
  const expected = Buffer.from(twilioSignature(authToken, url, params));
  const actual = Buffer.from(given);
  return expected.length === actual.length && crypto.timingSafeEqual(expected, actual);
}
