// `npm run token -- --sub u1 --role provider [--ttl 1h] [--name "Thandi"] [--email t@example.com]`
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { loadConfig, ConfigError } from '../config';
import { createTokenService, tokenPolicyOf } from '../auth/jwt';
import { Role, UserId } from '../contract/vocabulary';

const TTL_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

const Args = z.object({
  sub: UserId,
  role: Role,
  ttl: z
    .string()
    .regex(/^\d+[smhd]$/, 'use e.g. 30m, 1h, 7d')
    .default('1h')
    .transform((v) => Number(v.slice(0, -1)) * TTL_UNITS[v.slice(-1)]),
  name: z.string().optional(),
  email: z.string().optional(),
});

try {
  const { values } = parseArgs({
    options: {
      sub: { type: 'string' },
      role: { type: 'string' },
      ttl: { type: 'string' },
      name: { type: 'string' },
      email: { type: 'string' },
    },
  });
  const args = Args.safeParse(values);
  if (!args.success) {
    process.stderr.write(
      `usage: npm run token -- --sub <user id> --role client|provider|admin [--ttl 1h]\n${args.error.issues
        .map((i) => `  ${i.path.join('.')}: ${i.message}`)
        .join('\n')}\n`,
    );
    process.exit(1);
  }
  const { ttl, ...claims } = args.data;
  const config = loadConfig();
  process.stdout.write(`${createTokenService(config.JWT_SECRET, tokenPolicyOf(config)).sign(claims, ttl)}\n`);
} catch (err) {
  process.stderr.write(err instanceof ConfigError ? `${err.message}\n` : `${String(err)}\n`);
  process.exit(1);
}
