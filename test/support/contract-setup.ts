import request from 'supertest';
import { checkAnswer, jsonOf, pendingViolations } from './contract';

/*
 * Every integration suite runs with this (jest.config.js, setupFilesAfterEnv): each answer a test
 * gets through supertest or fetch is held to the OpenAPI document, so a new route or a new test
 * cannot skip the check. A mismatch fails the request's own assertion (supertest) or the fetch.
 */

type AssertFn = (resError: Error | null, res: any, fn: (err: Error | null, res: any) => void) => void;
const Test = (request as unknown as { Test: { prototype: { assert: AssertFn } } }).Test;
const assert = Test.prototype.assert;
Test.prototype.assert = function (this: { method: string; url: string }, resError, res, fn) {
  if (res) {
    try {
      checkAnswer({
        method: this.method,
        url: this.url,
        status: res.status,
        contentType: res.headers['content-type'],
        body: res.type === 'application/json' ? res.body : res.text,
      });
    } catch (e) {
      return fn.call(this, e as Error, res);
    }
  }
  return assert.call(this, resError, res, fn);
};

const realFetch = globalThis.fetch;
globalThis.fetch = async (input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) => {
  const res = await realFetch(input, init);
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  const method = init?.method ?? (typeof input === 'object' && 'method' in input ? input.method : 'GET');
  const contentType = res.headers.get('content-type') ?? undefined;
  // A stream's body is read by its reader; only its status and media type are checked here.
  const body = contentType?.startsWith('text/event-stream') ? undefined : jsonOf(await res.clone().text(), contentType);
  checkAnswer({ method, url, status: res.status, contentType, body });
  return res;
};

afterEach(() => {
  const found = pendingViolations.splice(0);
  if (found.length) throw found[0];
});

afterAll(() => {
  globalThis.fetch = realFetch;
  Test.prototype.assert = assert;
});
