import path from 'node:path';
import { Router } from 'express';
import type { Config } from '../config';
import type { Lifecycle } from '../http/lifecycle';
import { buildAsyncApi } from './asyncapi';
import { buildOpenApi } from './openapi';
import type { JsonSchema } from './json-schema';

export interface DocsRoutesDeps {
  config: Pick<Config, 'demoMode'>;
  lifecycle: Pick<Lifecycle, 'version'>;
}

/**
 * The published contract, public: GET /api/openapi.json (the routes), GET /api/asyncapi.json (the
 * events), and /docs, a page that renders both (Swagger UI from node_modules, within the CSP).
 * Each document is built once per process; the AsyncAPI server is the host the caller asked.
 */
export function docsRoutes(deps: DocsRoutesDeps): Router {
  const router = Router();
  let openapi: string | undefined;
  let asyncapi: JsonSchema | undefined;

  router.get('/api/openapi.json', (_req, res) => {
    openapi ??= JSON.stringify(buildOpenApi({ version: deps.lifecycle.version, demoMode: deps.config.demoMode }));
    res.type('application/json').send(openapi);
  });

  router.get('/api/asyncapi.json', (req, res) => {
    asyncapi ??= buildAsyncApi({ version: deps.lifecycle.version, host: 'localhost' });
    const servers = asyncapi.servers as Record<string, Record<string, unknown>>;
    res.json({ ...asyncapi, servers: { api: { ...servers.api, host: req.get('host') ?? 'localhost' } } });
  });

  // Only what the page loads, from the package: its own index.html would load the petstore.
  const swaggerUi = path.dirname(require.resolve('swagger-ui-dist/package.json'));
  for (const file of ['swagger-ui-bundle.js', 'swagger-ui.css']) {
    router.get(`/docs/assets/${file}`, (_req, res, next) => res.sendFile(path.join(swaggerUi, file), { maxAge: '1h' }, next));
  }
  return router;
}
