import type { IncomingMessage } from 'node:http';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { buildOpenApi } from '../../src/docs/openapi';
import { buildAsyncApi, controlSchemaName, eventSchemaName } from '../../src/docs/asyncapi';
import { EVENT_TYPES, CONTROL_EVENTS } from '../../src/contract/event-names';
import { PACKAGE_VERSION } from '../../src/package-root';

/*
 * The tests' one check of answers and events against the published documents (built here from the
 * same code the server serves them from). Every supertest answer and every fetch to a test server
 * (contract-setup.ts), every poll the poll helpers make and every event the SSE client receives
 * comes through here. Validators are compiled once per process, each the first time it is needed.
 */

/** Types the tests publish themselves (`test.event`, ...): not the server's, so not in the contract. */
const isTestType = (type: string) => type.startsWith('test.');

type Doc = Record<string, any>;
let docs: { openapi: Doc; asyncapi: Doc; ajv: Ajv2020 } | undefined;
const validators = new Map<string, ValidateFunction>();

function load() {
  if (docs) return docs;
  // The demo's routes too: a suite may run a demo-mode server.
  const openapi = buildOpenApi({ version: PACKAGE_VERSION, demoMode: true });
  const asyncapi = buildAsyncApi({ version: PACKAGE_VERSION, host: 'localhost' });
  // The documents hold keywords of their own (openapi, paths, ...): not JSON Schema's, so not strict.
  // Not re-validated against the meta-schema here: the linters' test does that (contract-documents).
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
  addFormats(ajv);
  ajv.addSchema({ ...openapi, $id: 'openapi.json' });
  ajv.addSchema({ ...asyncapi, $id: 'asyncapi.json' });
  docs = { openapi, asyncapi, ajv };
  return docs;
}

const pointer = (...parts: string[]) => parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

function validator(ref: string): ValidateFunction {
  let v = validators.get(ref);
  if (!v) {
    v = load().ajv.compile({ $ref: ref });
    validators.set(ref, v);
  }
  return v;
}

const describeErrors = (v: ValidateFunction) =>
  (v.errors ?? [])
    .slice(0, 5)
    .map((e) => `${e.instancePath || '/'} ${e.message}${e.params ? ' ' + JSON.stringify(e.params) : ''}`)
    .join('; ');

export class ContractViolation extends Error {
  override name = 'ContractViolation';
}

/** Path templates of the OpenAPI document, as regexes. */
let templates: Array<{ template: string; re: RegExp }> | undefined;
function templateOf(path: string): string | undefined {
  templates ??= Object.keys(load().openapi.paths)
    .map((t) => ({ template: t, re: new RegExp('^' + t.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{\w+\}/g, '[^/]+') + '$') }))
    // A literal path before a templated one of the same length: `/read-all` is not `/{id}/read`.
    .sort((a, b) => (a.template.includes('{') ? 1 : 0) - (b.template.includes('{') ? 1 : 0));
  return templates.find((t) => t.re.test(path))?.template;
}

export interface Answer {
  method: string;
  /** The request's path, with or without its query. */
  url: string;
  status: number;
  contentType: string | undefined;
  /** The parsed JSON body, when the answer is JSON. */
  body: unknown;
}

/**
 * Throws a ContractViolation when an answer is not what the OpenAPI document says the route
 * answers: an undocumented status, the wrong media type, or a JSON body its schema refuses. A
 * path that names no route must be the 404 NOT_FOUND error; files (pages, scripts) are not API.
 */
export function checkAnswer(a: Answer): void {
  const method = a.method.toLowerCase();
  if (method === 'head' || method === 'options') return;
  // Routing is not strict: `/api/events/` is `/api/events`, as the server answers it.
  const path = new URL(a.url, 'http://x').pathname.replace(/(.)\/+$/, '$1');
  const template = templateOf(path);
  const op = template ? load().openapi.paths[template][method] : undefined;
  const what = `${a.method.toUpperCase()} ${path} -> ${a.status}`;
  if (!op) {
    if (!path.startsWith('/api/')) return;
    if (a.status === 404 || a.status === 429 || a.status === 421) return checkError(what, a, ['NOT_FOUND', 'RATE_LIMITED', 'MISDIRECTED_REQUEST']);
    throw new ContractViolation(`${what}: no route of the OpenAPI document is ${method.toUpperCase()} ${path}`);
  }
  const documented = op.responses[String(a.status)];
  if (!documented) throw new ContractViolation(`${what}: status ${a.status} is not documented (documented: ${Object.keys(op.responses).join(', ')})`);
  const media = Object.keys(documented.content ?? {});
  if (media.length === 0) {
    if (a.body !== undefined && a.body !== '') throw new ContractViolation(`${what}: documented without a body, answered one`);
    return;
  }
  const type = (a.contentType ?? '').split(';')[0].trim();
  if (!media.includes(type)) throw new ContractViolation(`${what}: answered ${type || 'no media type'}, documented ${media.join(', ')}`);
  if (type !== 'application/json') return;
  const v = validator(`openapi.json#/${pointer('paths', template!, method, 'responses', String(a.status), 'content', 'application/json', 'schema')}`);
  if (!v(a.body))
    throw new ContractViolation(`${what}: the body does not match the OpenAPI document: ${describeErrors(v)}\n${JSON.stringify(a.body).slice(0, 500)}`);
  if (template === '/api/events' && a.status === 200) for (const e of (a.body as { events: unknown[] }).events) checkEvent(e);
}

function checkError(what: string, a: Answer, codes: string[]): void {
  const code = (a.body as { error?: { code?: string } } | undefined)?.error?.code;
  if (!code || !codes.includes(code))
    throw new ContractViolation(`${what}: expected an error ${codes.join(' or ')}, got ${JSON.stringify(a.body)?.slice(0, 200)}`);
}

/**
 * Throws a ContractViolation when an event (its envelope, as a poll answers it or a stream sends
 * it as `data`) does not match the AsyncAPI document: an emitted type the contract has no schema
 * for fails here.
 */
export function checkEvent(envelope: unknown, sseType?: string): void {
  const type = sseType ?? (envelope as { type?: string } | null)?.type;
  if (typeof type !== 'string') throw new ContractViolation(`an event without a type: ${JSON.stringify(envelope)?.slice(0, 200)}`);
  if (isTestType(type)) return;
  let name: string;
  if ((CONTROL_EVENTS as readonly string[]).includes(type) && sseType !== undefined) name = controlSchemaName(type);
  else if ((EVENT_TYPES as readonly string[]).includes(type)) name = eventSchemaName(type);
  else throw new ContractViolation(`event type ${type} has no schema in the contract (src/contract/event-names.ts and events.ts)`);
  const v = validator(`asyncapi.json#/${pointer('components', 'schemas', name)}`);
  if (!v(envelope))
    throw new ContractViolation(`event ${type}: does not match the AsyncAPI document: ${describeErrors(v)}\n${JSON.stringify(envelope).slice(0, 500)}`);
  if (sseType !== undefined && !(CONTROL_EVENTS as readonly string[]).includes(type) && (envelope as { type: string }).type !== sseType) {
    throw new ContractViolation(`event named ${sseType} on the stream carries type ${(envelope as { type: string }).type}`);
  }
}

/** Violations seen where nothing could throw into the test (an EventSource listener): reported after each test. */
export const pendingViolations: ContractViolation[] = [];

/** Runs a check; a violation is kept for the test's end rather than thrown into a listener. */
export function checkLater(check: () => void): void {
  try {
    check();
  } catch (e) {
    if (e instanceof ContractViolation) pendingViolations.push(e);
    else throw e;
  }
}

/** The JSON of an answer's text, or undefined when it has none or is not JSON. */
export function jsonOf(text: string, contentType: string | undefined): unknown {
  if (!text || !(contentType ?? '').includes('json')) return text ? text : undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Reads a node:http answer to its end, holds it to the OpenAPI document (reported at the test's
 * end: a response listener cannot throw into the test) and resolves with its status and JSON body.
 */
export function checkedAnswer(res: IncomingMessage, method: string, path: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    let text = '';
    res.setEncoding('utf8').on('data', (c: string) => (text += c));
    res.once('end', () => {
      const body = text ? JSON.parse(text) : undefined;
      checkLater(() => checkAnswer({ method, url: path, status: res.statusCode!, contentType: res.headers['content-type'], body }));
      resolve({ status: res.statusCode!, body });
    });
    res.once('error', reject);
  });
}
