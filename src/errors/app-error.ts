/** Every error code a client can see, with its HTTP status: the stable contract of our API. */
export const ERROR_STATUS = {
  AUTH_REQUIRED: 401,
  AUTH_INVALID: 401,
  AUTH_EXPIRED: 401,
  FORBIDDEN: 403,
  VALIDATION_FAILED: 400,
  INVALID_JSON: 400,
  NOT_FOUND: 404,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  TOO_MANY_STREAMS: 429,
  TOO_MANY_POLLS: 429,
  SHUTTING_DOWN: 503,
  DATABASE_UNAVAILABLE: 503,
  INTERNAL: 500,
  // Marketplace
  PROVIDER_NOT_FOUND: 404,
  INVALID_TRANSITION: 409,
  PAYMENT_REQUIRED: 409,
  DISPUTE_OPEN: 409,
  TOO_EARLY: 409,
  AMOUNT_EXCEEDS_HELD: 409,
  EMAIL_REQUIRED: 400,
  PAYOUT_ACCOUNT_REJECTED: 422,
  PAYMENT_PROVIDER_UNAVAILABLE: 502,
  WEBHOOK_SIGNATURE_INVALID: 401,
  WEBHOOK_NOT_CONFIGURED: 503,
  IDEMPOTENCY_KEY_REUSED: 422,
  IDEMPOTENCY_KEY_IN_USE: 409,
  TOO_MANY_PENDING: 409,
  REQUEST_EXPIRED: 409,
  // Demo mode answers only to a loopback Host (DNS rebinding).
  MISDIRECTED_REQUEST: 421,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** The one error type of the application; error-handler.ts maps it to HTTP. */
export class AppError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AppError';
    this.status = ERROR_STATUS[code];
  }
}
