import { twilioSignature, verifyTwilioSignature } from '../../src/channels/twilio-signature';
import { outcomeOf } from '../../src/channels/twilio-callbacks';

// The example of Twilio's "Validating requests" documentation and the twilio package's own snippet.
const TOKEN = '12345';
const URL_CALLED = 'https://mycompany.com/myapp.php?foo=1&bar=2';
const PARAMS = { CallSid: 'CA1234567890ABCDE', Caller: '+14158675309', Digits: '1234', From: '+14158675309', To: '+18005551212' };
const DOCUMENTED = 'RSOYDt4T1cUTdK1PDd93/VVr8B8=';

describe('X-Twilio-Signature', () => {
  it('matches the signature Twilio documents for its example request, whatever order the parameters came in', () => {
    expect(twilioSignature(TOKEN, URL_CALLED, PARAMS)).toBe(DOCUMENTED);
    const reversed = Object.fromEntries(Object.entries(PARAMS).reverse());
    expect(verifyTwilioSignature(TOKEN, URL_CALLED, reversed, DOCUMENTED)).toBe(true);
  });

  it('refuses a missing signature, another token, another URL, a changed or added parameter', () => {
    expect(verifyTwilioSignature(TOKEN, URL_CALLED, PARAMS, undefined)).toBe(false);
    expect(verifyTwilioSignature(TOKEN, URL_CALLED, PARAMS, '')).toBe(false);
    expect(verifyTwilioSignature('54321', URL_CALLED, PARAMS, DOCUMENTED)).toBe(false);
    expect(verifyTwilioSignature(TOKEN, 'http://mycompany.com/myapp.php?foo=1&bar=2', PARAMS, DOCUMENTED)).toBe(false);
    expect(verifyTwilioSignature(TOKEN, URL_CALLED, { ...PARAMS, Digits: '1235' }, DOCUMENTED)).toBe(false);
    expect(verifyTwilioSignature(TOKEN, URL_CALLED, { ...PARAMS, Extra: '' }, DOCUMENTED.slice(0, -1))).toBe(false);
    expect(verifyTwilioSignature(TOKEN, URL_CALLED, { ...PARAMS, MessageStatus: 'delivered' }, DOCUMENTED)).toBe(false);
  });

  it('reads delivered and read as delivered, failed and undelivered as failed with the error code, the rest as not yet', () => {
    expect(outcomeOf('delivered', undefined)).toEqual({ status: 'delivered' });
    expect(outcomeOf('read', undefined)).toEqual({ status: 'delivered' });
    expect(outcomeOf('undelivered', '30008')).toEqual(expect.objectContaining({ status: 'failed', code: 'TWILIO_30008' }));
    expect(outcomeOf('failed', undefined)).toEqual(expect.objectContaining({ status: 'failed', code: 'TWILIO_UNDELIVERED' }));
    for (const s of ['queued', 'sending', 'sent', 'accepted', 'scheduled']) expect(outcomeOf(s, undefined)).toBeNull();
  });
});
