import type { Request, Response } from 'express';

/**
 * /api/status as people read it: indented (curl asks for anything, `*\/*`) unless the client asks
 * for JSON by name, which gets the compact form programs parse; every duration (a field named
 * `…Ms`) in milliseconds to two decimals, since a nanosecond's digits say nothing to anyone.
 */
export function sendStatus(req: Request, res: Response, body: Record<string, unknown>): void {
  const forPrograms = /\bapplication\/json\b/i.test(req.get('accept') ?? '');
  const text = JSON.stringify(body, roundDurations, forPrograms ? undefined : 2);
  res.type('application/json').send(forPrograms ? text : `${text}\n`);
}

function roundDurations(key: string, value: unknown): unknown {
  return key.endsWith('Ms') && typeof value === 'number' ? Math.round(value * 100) / 100 : value;
}
