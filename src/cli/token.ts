/** `npm run token -- --role staff|analyst|partner [--sub ID] [--ttl 1h]`: a development JWT. */
import { loadConfig, ROLES, type Role } from '../config';
import { signDevelopmentToken } from '../../gateway/auth';
import { parseFlags } from './flags';

const USAGE = `usage: npm run token -- --role <${ROLES.join('|')}> [--sub ID] [--ttl 1h]
  Prints a development JWT for the gateway (Authorization: Bearer <token>).
  Refused when NODE_ENV=production: production tokens come from your identity provider.`;

function main(): void {
  const { flags } = parseFlags(process.argv.slice(2), { role: 'string', sub: 'string', ttl: 'string' }, USAGE);
  const role = flags.role as Role | undefined;
  if (!role || !ROLES.includes(role)) throw new Error(`--role must be one of ${ROLES.join(', ')}\n${USAGE}`);
  const config = loadConfig();
  const ttl = flags.ttl ?? '1h';
  process.stdout.write(`${signDevelopmentToken(config, { sub: flags.sub ?? `dev-${role}`, role }, /^\d+$/.test(ttl) ? Number(ttl) : ttl)}\n`);
}

try {
  main();
} catch (error) {
  process.stderr.write(`token: ${(error as Error).message}\n`);
  process.exit(2);
}
