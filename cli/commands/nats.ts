import type { Config } from '../../infra/config';
import { natsAuthConfig, rolePasswordVariable, ROLES, type Role } from '../../streams/permissions';
import { UsageError } from '../run';

/**
 * nats-server configuration with one user per role (streams/permissions.ts), for this prefix, with
 * each role's password from NATS_ROLE_PASSWORD_<ROLE> (never defaulted).
 */
export function permissions(config: Config): Promise<void> {
  const passwords = {} as Record<Role, string>;
  const missing: string[] = [];
  for (const role of ROLES) {
    const name = rolePasswordVariable(role);
    const value = process.env[name] ?? '';
    if (value.length < 16) missing.push(name);
    passwords[role] = value;
  }
  if (missing.length > 0)
    throw new UsageError(
      `set ${missing.join(', ')} (at least 16 characters each, e.g. openssl rand -hex 16)`,
    );
  process.stdout.write(natsAuthConfig(config.nats.prefix, passwords));
  return Promise.resolve();
}
