/*
 * The browser client's public types. This folder is compiled on its own (tsconfig.client.json,
 * DOM lib, ES modules) into public/lib/, which the pages load; nothing here runs in Node.
 */

/** What the server sends, identical on the stream (`data:`) and in `GET /api/events`. */
export interface EventEnvelope {
  id: string;
  type: string;
  occurredAt: string;
  data: unknown;
}

/** `connecting` until the first stream opens or polling starts. */
export type ConnectionState = 'connecting' | 'live' | 'polling' | 'offline';
