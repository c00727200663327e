import { z } from 'zod';
import { CONTROL_DATA, EVENT_DATA, EventEnvelope, envelopeOf, PollResponse } from '../contract/events';
import { EVENT_TYPES } from '../contract/event-names';
import { componentSchemas, type JsonSchema } from './json-schema';
import { NAMED_SCHEMAS } from './operations';

/*
 * The AsyncAPI 3 document of the events: each type with its `data`, in the envelope both the stream
 * and the poll carry, and the stream's control messages (`reset`, `auth_expired`). Built from the
 * contract's zod schemas.
 */

/** A component name for an event type: `booking.created` → `BookingCreatedEvent`. */
export const eventSchemaName = (type: string) =>
  type
    .split(/[._]/)
    .map((p) => p[0].toUpperCase() + p.slice(1))
    .join('') + 'Event';
export const controlSchemaName = (type: string) => eventSchemaName(type).replace(/Event$/, 'Control');

export function buildAsyncApi(o: { version: string; host: string }): JsonSchema {
  const named: Record<string, z.ZodType> = { ...NAMED_SCHEMAS, EventEnvelope, PollResponse };
  for (const type of EVENT_TYPES) named[eventSchemaName(type)] = envelopeOf(type);
  for (const [type, schema] of Object.entries(CONTROL_DATA)) named[controlSchemaName(type)] = schema;
  const messages: Record<string, unknown> = {};
  for (const type of EVENT_TYPES) {
    messages[type] = {
      name: type,
      title: type,
      summary: EVENT_DATA[type].description ?? `The \`${type}\` event: its envelope, with \`data\` as below.`,
      contentType: 'application/json',
      payload: { $ref: `#/components/schemas/${eventSchemaName(type)}` },
      correlationId: { location: '$message.payload#/id', description: 'The event log id: the SSE `id:` field, and the cursor to resume after' },
    };
  }
  messages.reset = {
    name: 'reset',
    title: 'reset',
    summary:
      'The cursor cannot be honoured (malformed, pruned, or ahead of the log): reload state from GET /api/sync and apply what follows. Its SSE id is `lastEventId`.',
    contentType: 'application/json',
    payload: { $ref: `#/components/schemas/${controlSchemaName('reset')}` },
  };
  messages.auth_expired = {
    name: 'auth_expired',
    title: 'auth_expired',
    summary: 'The token expired: the stream ends. Get a fresh token and reconnect with the last event id.',
    contentType: 'application/json',
    payload: { $ref: `#/components/schemas/${controlSchemaName('auth_expired')}` },
  };
  messages.pollResponse = {
    name: 'pollResponse',
    title: 'Poll answer',
    summary:
      "The answer of GET /api/events: envelopes as on the stream, and the cursor for the next poll. `reset: true` means the same as the stream's `reset`.",
    contentType: 'application/json',
    payload: { $ref: '#/components/schemas/PollResponse' },
  };
  const streamMessages = [...EVENT_TYPES, 'reset', 'auth_expired'];
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Marketplace events',
      version: o.version,
      description:
        'Every event reaches only the users it is for. Each SSE message is named by its type, has the event id as its SSE id, ' +
        'and carries the envelope `{id, type, occurredAt, data}` as JSON. A poll answers the same envelopes. ' +
        'Both take `types=booking.*,payment.status_changed` to receive only some types.',
    },
    defaultContentType: 'application/json',
    servers: {
      api: { host: o.host, protocol: 'http', description: 'This server; Authorization: Bearer <JWT>, or a stream ticket' },
    },
    channels: {
      stream: {
        address: '/api/events/stream',
        title: 'Event stream (Server-Sent Events)',
        description: 'GET with Authorization or `?ticket=`; resume with `Last-Event-ID` (or `?lastEventId=`); `?types=` filters.',
        messages: Object.fromEntries(streamMessages.map((m) => [m, { $ref: `#/components/messages/${m}` }])),
      },
      poll: {
        address: '/api/events',
        title: 'Polling and long polling',
        description: 'GET `?after=<id>&wait=<seconds>&types=`: answers at once with the events after `after`, or holds up to `wait` seconds for one.',
        messages: { pollResponse: { $ref: '#/components/messages/pollResponse' } },
      },
    },
    operations: {
      receiveStream: {
        action: 'receive',
        channel: { $ref: '#/channels/stream' },
        summary: "The caller's events, live, after a replay from Last-Event-ID",
        messages: streamMessages.map((m) => ({ $ref: `#/channels/stream/messages/${m}` })),
      },
      receivePoll: {
        action: 'receive',
        channel: { $ref: '#/channels/poll' },
        summary: "The caller's events after a cursor",
        messages: [{ $ref: '#/channels/poll/messages/pollResponse' }],
      },
    },
    components: { schemas: componentSchemas(named, 'output'), messages },
  };
}
