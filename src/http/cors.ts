import cors from 'cors';
import type { Config } from '../config';

/**
 * Only configured origins get CORS headers; with none, browsers keep the API same-origin. Shared
 * by the Express app and the stream endpoint, which is served before Express.
 */
export function corsPolicy(config: Pick<Config, 'CORS_ORIGINS'>) {
  return cors({ origin: config.CORS_ORIGINS.length ? config.CORS_ORIGINS : false, maxAge: 600 });
}
