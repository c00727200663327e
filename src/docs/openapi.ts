import { z } from 'zod';
import { ERROR_STATUS, type ErrorCode } from '../errors/app-error';
import { componentSchemas, jsonSchemaOf, type JsonSchema } from './json-schema';
import { NAMED_SCHEMAS, OPERATIONS, type Auth, type Operation, type RawAnswer } from './operations';

/*
 * The OpenAPI 3.1 document of every HTTP route, built from OPERATIONS: request parts from the
 * zod schemas that validate them, answers from the contract's views, and the error answers from
 * the codes each route can give (AppError's table gives their statuses).
 */

/** Codes any route can give: a fault of ours, the database, the failed-auth limit, a drain, demo mode's Host check. */
const ANY_ROUTE: readonly ErrorCode[] = ['INTERNAL', 'DATABASE_UNAVAILABLE', 'SHUTTING_DOWN', 'RATE_LIMITED', 'MISDIRECTED_REQUEST'];
const AUTH_ERRORS: Record<Auth, readonly ErrorCode[]> = {
  none: [],
  bearer: ['AUTH_REQUIRED', 'AUTH_INVALID', 'AUTH_EXPIRED'],
  'bearer-or-ticket': ['AUTH_REQUIRED', 'AUTH_INVALID', 'AUTH_EXPIRED'],
  'metrics-token': ['AUTH_REQUIRED', 'AUTH_INVALID'],
  'paystack-signature': ['WEBHOOK_SIGNATURE_INVALID'],
  'twilio-signature': ['WEBHOOK_SIGNATURE_INVALID'],
};
/** Any method: the JSON body check runs before every route, whether or not it reads a body (src/http/require-json.ts). */
const BODY_ERRORS: readonly ErrorCode[] = ['VALIDATION_FAILED', 'INVALID_JSON', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'];
const IDEMPOTENCY_ERRORS: readonly ErrorCode[] = ['VALIDATION_FAILED', 'IDEMPOTENCY_KEY_REUSED', 'IDEMPOTENCY_KEY_IN_USE'];

const SECURITY: Record<Auth, Array<Record<string, string[]>>> = {
  none: [],
  bearer: [{ bearer: [] }],
  'bearer-or-ticket': [{ bearer: [] }, { streamTicket: [] }],
  'metrics-token': [{}, { metricsToken: [] }],
  'paystack-signature': [{ paystackSignature: [] }],
  'twilio-signature': [{ twilioSignature: [] }],
};

/** Every error code an operation can answer with. */
export function errorCodesOf(op: Operation): ErrorCode[] {
  const codes = new Set<ErrorCode>([...ANY_ROUTE, ...AUTH_ERRORS[op.auth], ...(op.errors ?? [])]);
  if (op.query) codes.add('VALIDATION_FAILED');
  for (const c of BODY_ERRORS) codes.add(c);
  if (op.idempotent) for (const c of IDEMPOTENCY_ERRORS) codes.add(c);
  if (op.path_params) codes.add('NOT_FOUND');
  return [...codes].sort();
}

/** `{error: {code, message, details?}}`, with the codes of one status. */
const errorBody = (codes: [ErrorCode, ...ErrorCode[]]) =>
  z.object({ error: z.object({ code: z.enum(codes), message: z.string(), details: z.unknown().optional() }) });

const isRaw = (a: z.ZodType | RawAnswer): a is RawAnswer => 'mediaType' in a;

export const operationId = (op: Operation) =>
  op.method +
  op.path
    .replace(/\{(\w+)\}/g, 'By_$1')
    .split(/[/-]/)
    .filter(Boolean)
    .map((p) => p[0].toUpperCase() + p.slice(1))
    .join('');

export function buildOpenApi(o: { version: string; demoMode: boolean }): JsonSchema {
  const ops = OPERATIONS.filter((op) => o.demoMode || !op.demoOnly);
  // Answers by name: a view used by many routes is one component, referred to by each.
  const named: Record<string, z.ZodType> = { ...NAMED_SCHEMAS };
  const nameOf = new Map<z.ZodType, string>(Object.entries(NAMED_SCHEMAS).map(([k, v]) => [v, k]));
  for (const op of ops) {
    for (const [status, answer] of Object.entries(op.answers)) {
      if (isRaw(answer) || nameOf.has(answer)) continue;
      const name = `${operationId(op)}${status}`;
      named[name] = answer;
      nameOf.set(answer, name);
    }
  }
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of ops) (paths[op.path] ??= {})[op.method] = operation(op, nameOf);
  return {
    openapi: '3.1.0',
    info: {
      title: 'Marketplace API',
      version: o.version,
      description:
        'Bookings, Paystack escrow and payouts, and their events. Money is integer cents; ids are decimal strings. ' +
        'Events: GET /api/events (polling, long polling with `wait`) and GET /api/events/stream (SSE), described in /api/asyncapi.json. ' +
        'A client loads GET /api/sync, then polls or streams from its `cursor`.',
    },
    servers: [{ url: '/' }],
    tags: [...new Set(ops.map((op) => op.tag))].map((name) => ({ name })),
    paths,
    components: {
      schemas: componentSchemas(named, 'output'),
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        streamTicket: { type: 'apiKey', in: 'query', name: 'ticket', description: 'A single-use ticket from POST /api/events/tickets' },
        paystackSignature: {
          type: 'apiKey',
          in: 'header',
          name: 'x-paystack-signature',
          description: "HMAC-SHA512 of the raw body with Paystack's secret key",
        },
        twilioSignature: {
          type: 'apiKey',
          in: 'header',
          name: 'X-Twilio-Signature',
          description: 'HMAC-SHA1 with the auth token of the public URL and the sorted POST parameters',
        },
        metricsToken: { type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN, when one is set' },
      },
    },
  };
}

function operation(op: Operation, nameOf: Map<z.ZodType, string>): Record<string, unknown> {
  const parameters: unknown[] = [];
  for (const [name, schema] of Object.entries(op.path_params ?? {}))
    parameters.push({ name, in: 'path', required: true, schema: jsonSchemaOf(schema, 'input') });
  if (op.query) {
    const q = jsonSchemaOf(op.query, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] };
    for (const [name, schema] of Object.entries(q.properties ?? {})) {
      // A default is what the server assumes when the parameter is left out: never required of the caller.
      parameters.push({ name, in: 'query', required: (q.required ?? []).includes(name) && !('default' in schema), schema });
    }
  }
  if (op.idempotent) {
    parameters.push({
      name: 'Idempotency-Key',
      in: 'header',
      required: false,
      description: 'A retry with the same key gets the first answer',
      schema: { type: 'string', maxLength: 255 },
    });
  }
  if (op.path === '/api/events/stream') {
    parameters.push({
      name: 'Last-Event-ID',
      in: 'header',
      required: false,
      description: 'Resume after this event id',
      schema: { type: 'string', maxLength: 100 },
    });
  }
  const responses: Record<string, unknown> = {};
  for (const [status, answer] of Object.entries(op.answers)) {
    responses[status] = isRaw(answer)
      ? { description: answer.description, ...(answer.mediaType ? { content: { [answer.mediaType]: { schema: { type: 'string' } } } } : {}) }
      : { description: 'Success', content: { 'application/json': { schema: { $ref: `#/components/schemas/${nameOf.get(answer)}` } } } };
  }
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of errorCodesOf(op)) byStatus.set(ERROR_STATUS[code], [...(byStatus.get(ERROR_STATUS[code]) ?? []), code]);
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    responses[String(status)] = {
      description: codes.join(', '),
      content: { 'application/json': { schema: jsonSchemaOf(errorBody(codes as [ErrorCode, ...ErrorCode[]]), 'output') } },
    };
  }
  return {
    operationId: operationId(op),
    summary: op.summary,
    tags: [op.tag],
    security: SECURITY[op.auth],
    ...(parameters.length ? { parameters } : {}),
    ...(op.body
      ? {
          requestBody: {
            required: !op.body.safeParse({}).success,
            content: { [op.bodyMediaType ?? 'application/json']: { schema: jsonSchemaOf(op.body, 'input') } },
          },
        }
      : {}),
    responses,
  };
}
