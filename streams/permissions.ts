// NATS users per role, with the least each process needs (every name from topology.ts), written as
// nats-server configuration (`shopstream nats permissions`):
//   producer  shops' servers, the producer SDK and the collector: publish events (and the collector's
//             dead letters), nothing else; no reading, no KV, no stream management
//   service   the pipeline process (sink, interest, triggers, bot, order view, recommender, admin):
//             its own streams, consumers and buckets, its own subjects; never deletes a stream
//   worker    the Temporal workers: publish the flows' events, the coupon and message-slot buckets
//   analyst   nothing on NATS (analysts read ClickHouse)
//   ops       `shopstream topology apply`, `dlq replay`: everything under the prefix, stream deletion too
// Every JetStream client also subscribes to its own inbox for replies.
import { names } from './topology';

export const ROLES = ['producer', 'service', 'worker', 'analyst', 'ops'] as const;
export type Role = (typeof ROLES)[number];

export interface Permissions {
  publish: { allow?: string[]; deny?: string[] };
  subscribe: { allow?: string[]; deny?: string[] };
  /** May reply to the requests it receives (recommendations), without publishing to any inbox. */
  allow_responses?: boolean;
}

const INBOX = '_INBOX.>';

function buckets(prefix: string): string[] {
  const n = names(prefix);
  return [
    n.profilesBucket,
    n.rulesBucket,
    n.couponsBucket,
    n.slotsBucket,
    n.conversationsBucket,
    n.ordersBucket,
    n.botBucket,
    n.leasesBucket,
  ];
}

/** What a client may do with a KV bucket: read (direct and stream gets), info, write. */
const kvAccess = (bucket: string): string[] => [
  `$KV.${bucket}.>`,
  `$JS.API.STREAM.INFO.KV_${bucket}`,
  `$JS.API.STREAM.MSG.GET.KV_${bucket}`,
  `$JS.API.DIRECT.GET.KV_${bucket}`,
  `$JS.API.DIRECT.GET.KV_${bucket}.>`,
];

/** Managing and consuming one stream, without deleting or purging it. */
const streamAccess = (stream: string): string[] => [
  `$JS.API.STREAM.CREATE.${stream}`,
  `$JS.API.STREAM.UPDATE.${stream}`,
  `$JS.API.STREAM.INFO.${stream}`,
  `$JS.API.STREAM.MSG.GET.${stream}`,
  `$JS.API.DIRECT.GET.${stream}`,
  `$JS.API.DIRECT.GET.${stream}.>`,
  `$JS.API.CONSUMER.CREATE.${stream}`,
  `$JS.API.CONSUMER.CREATE.${stream}.>`,
  `$JS.API.CONSUMER.DURABLE.CREATE.${stream}.>`,
  `$JS.API.CONSUMER.INFO.${stream}.>`,
  `$JS.API.CONSUMER.DELETE.${stream}.>`,
  `$JS.API.CONSUMER.LIST.${stream}`,
  `$JS.API.CONSUMER.NAMES.${stream}`,
  `$JS.API.CONSUMER.MSG.NEXT.${stream}.>`,
  `$JS.ACK.${stream}.>`,
  `$JS.FC.${stream}.>`,
];

export function rolePermissions(prefix: string): Record<Role, Permissions> {
  const n = names(prefix);
  const streams = [n.eventsStream, n.dlqStream, n.advisoriesStream, ...buckets(prefix).map((b) => `KV_${b}`)];
  const jsBasics = ['$JS.API.INFO', '$JS.API.STREAM.NAMES', '$JS.API.STREAM.LIST'];
  return {
    producer: {
      publish: {
        allow: [n.eventsSubjectAll, n.dlqSubjectAll, '$JS.API.INFO', `$JS.API.STREAM.INFO.${n.eventsStream}`],
      },
      subscribe: { allow: [INBOX] },
    },
    service: {
      publish: {
        allow: [
          `${prefix}.>`,
          ...jsBasics,
          ...streams.flatMap(streamAccess),
          ...buckets(prefix).flatMap(kvAccess),
        ],
      },
      subscribe: {
        allow: [INBOX, `${prefix}.>`, `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${n.eventsStream}.>`],
      },
      allow_responses: true,
    },
    worker: {
      publish: {
        allow: [
          n.eventsSubjectAll,
          '$JS.API.INFO',
          `$JS.API.STREAM.INFO.${n.eventsStream}`,
          ...[n.couponsBucket, n.slotsBucket].flatMap((b) => [
            ...kvAccess(b),
            `$JS.API.STREAM.CREATE.KV_${b}`,
          ]),
        ],
      },
      subscribe: { allow: [INBOX] },
    },
    analyst: { publish: { deny: ['>'] }, subscribe: { deny: ['>'] } },
    ops: {
      publish: { allow: [`${prefix}.>`, '$JS.API.>', `$KV.>`, '$JS.ACK.>', '$JS.FC.>'] },
      subscribe: { allow: [INBOX, `${prefix}.>`, '$JS.EVENT.>'] },
    },
  };
}

/** The variable holding a role's password on the local stack (`<data dir>/local.env`). */
export const rolePasswordVariable = (role: Role): string => `NATS_ROLE_PASSWORD_${role.toUpperCase()}`;

/**
 * The role's credentials as configuration variables, when the environment has the role's password and
 * no NATS credentials of its own (NATS_USER, NATS_TOKEN, NATS_CREDS_FILE win); else nothing.
 */
export function roleCredentials(role: Role, env: NodeJS.ProcessEnv): Record<string, string> {
  const password = env[rolePasswordVariable(role)];
  if (!password || env['NATS_USER'] || env['NATS_TOKEN'] || env['NATS_CREDS_FILE']) return {};
  return { NATS_USER: role, NATS_PASSWORD: password };
}

/** nats-server configuration text: one user per role, with its password and permissions. */
export function natsAuthConfig(prefix: string, passwords: Readonly<Record<Role, string>>): string {
  const perms = rolePermissions(prefix);
  for (const role of ROLES)
    if (!passwords[role] || passwords[role].length < 16)
      throw new Error(`the ${role} NATS password must be at least 16 characters`);
  const users = ROLES.map((role) => ({ user: role, password: passwords[role], permissions: perms[role] }));
  return `# Generated by \`npx shopstream nats permissions\` from streams/permissions.ts (prefix ${prefix}).\nauthorization ${JSON.stringify({ users }, null, 2)}\n`;
}
