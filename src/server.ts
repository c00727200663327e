import { loadConfig, ConfigError, type Config } from './config';
import { createLogger, prettyDestination } from './logger';
import { startServer } from './runtime';

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\nSee README.md, "Configuration".\n`);
      process.exit(1);
    }
    throw err;
  }
  const pretty = (config.LOG_FORMAT ?? (config.demoMode ? 'pretty' : 'json')) === 'pretty';
  const logger = createLogger(config.LOG_LEVEL, pretty ? prettyDestination() : undefined);
  if (config.jwtSecretGenerated) {
    logger.warn(
      { code: 'JWT_SECRET_GENERATED', dataDir: config.DATA_DIR },
      'JWT_SECRET is not set; using a generated secret kept in the data folder (development only)',
    );
  }
  const running = await startServer(config, logger);
  logger.info({ port: running.port, database: running.services.db.kind, instanceId: config.INSTANCE_ID }, `listening on http://localhost:${running.port}`);
  if (running.services.config.demoMode) {
    logger.info({ port: running.port }, `demo ready at http://localhost:${running.port}/`);
  }

  const stop = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    const hard = setTimeout(() => {
      logger.error({ code: 'SHUTDOWN_TIMEOUT' }, 'shutdown took too long; exiting');
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS);
    hard.unref();
    running.shutdown().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (err) => {
        logger.error({ code: 'SHUTDOWN_FAILED', err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`${JSON.stringify({ level: 60, code: 'STARTUP_FAILED', msg: err instanceof Error ? (err.stack ?? String(err)) : String(err) })}\n`);
  process.exit(1);
});
