/*
 * The browser client's public types. This folder is compiled with src/contract (tsconfig.client.json,
 * DOM lib, ES modules) into public/lib/, which the pages load. The event names are the contract's
 * zod-free module; the envelope and the poll's answer are types only (zod never reaches the page).
 */

export type { EventEnvelope, PollResponse } from '../contract/events.js';

/**
 * `connecting` until the first stream opens or polling starts. `signed-out` when the server
 * refused the token and a fresh one from getToken() too: the client stops (it does not retry
 * a refused token forever); stop() and start() it again once the user has signed in.
 */
export type ConnectionState = 'connecting' | 'live' | 'polling' | 'offline' | 'signed-out';

/**
 * EventSource only reports a named event to a listener for that name (there is no wildcard), so
 * the stream listens to the contract's event types plus every type a page subscribes to with on();
 * any other type is not seen on the stream (it is in polling). The tests' stream client listens to
 * the same list (test/support/sse-client.ts).
 */
export { EVENT_TYPES as KNOWN_EVENT_TYPES } from '../contract/event-names.js';
