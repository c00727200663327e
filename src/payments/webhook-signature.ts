import crypto from 'node:crypto';

/*
 * Paystack signs each webhook with HMAC-SHA512 of the request body, keyed with the secret API
 * key of the mode that sent it, as lowercase hex in `x-paystack-signature`
 * (../shared/paystack.md §1). Always hash the raw bytes as received: re-serialised JSON can differ.
 */

const HEX_SHA512 = /^[0-9a-f]{128}$/i;

/**
 * Whether `header` is Paystack's signature of exactly these bytes. Constant-time; false (never a
 * throw) for a missing, empty, odd-length, non-hex or otherwise malformed header.
 */
export function isValidPaystackSignature(rawBody: Buffer, header: string | undefined, secret: string): boolean {
  if (typeof header !== 'string' || !Buffer.isBuffer(rawBody) || !secret) return false;
  const candidate = header.trim();
  if (!HEX_SHA512.test(candidate)) return false;
  const expected = crypto.createHmac('sha512', secret).update(rawBody).digest();
  const given = Buffer.from(candidate, 'hex');
  // Both are 64 bytes after the check above; timingSafeEqual would throw if they were not.
  return given.length === expected.length && crypto.timingSafeEqual(given, expected);
}
