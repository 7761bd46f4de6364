// Typed configuration in sections, read from environment variables with local defaults and validated
// once at start. An error names the variable and what is wrong with it, never a secret's value.
//
// Secrets (write keys, coupon and channel secrets, tokens, passwords) have no default: a variable X may
// instead name a file with X_FILE (Kubernetes / Docker secrets), and the local stack writes random ones
// for the demo into .data/local.env (infra/stack). A component that needs a secret checks it at start
// with requireSecret().
import * as path from 'node:path';
import { z } from 'zod';
import { SHOP_ID_RE } from '../schemas/ids';
import { channelProblems, chatChannelProblems, rawValue, redact } from './config-read';
import {
  byteSize,
  channelTarget,
  duration,
  port,
  positiveInt,
  shopSecrets,
  writeKeys,
} from './config-values';

export { redact, SECRET_VARIABLE } from './config-read';
export { parseDurationMs, type ChannelTarget } from './config-values';
// Shop ids are joined into subjects, workflow ids and keys: schemas/ids.ts has the rule.
export { SHOP_ID_RE };

const ROOT = path.resolve(__dirname, '..');

/** Each entry: config path -> [environment variable, schema, local default]. */
const spec = {
  nats: {
    url: ['NATS_URL', z.string().min(1), 'nats://127.0.0.1:4222'],
    user: ['NATS_USER', z.string(), ''],
    password: ['NATS_PASSWORD', z.string(), ''],
    token: ['NATS_TOKEN', z.string(), ''],
    credsFile: ['NATS_CREDS_FILE', z.string(), ''],
    /** TLS to NATS: the CA that signed the server's certificate (a private CA; empty: the system's). */
    tlsCaFile: ['NATS_TLS_CA_FILE', z.string(), ''],
    /** A client certificate and its key, for a server that verifies clients (mutual TLS). */
    tlsCertFile: ['NATS_TLS_CERT_FILE', z.string(), ''],
    tlsKeyFile: ['NATS_TLS_KEY_FILE', z.string(), ''],
    /** Prefix of every subject, stream, consumer and bucket name; tests randomise it. */
    prefix: [
      'SHOPSTREAM_PREFIX',
      z.string().regex(/^[a-z][a-z0-9_]*$/, 'must be lower-case letters, digits and _'),
      'shopstream',
    ],
    partitions: ['NATS_PARTITIONS', positiveInt.max(1024), '16'],
    replicas: [
      'NATS_REPLICAS',
      z.coerce
        .number()
        .int()
        .refine((n) => [1, 3, 5].includes(n), 'must be 1, 3 or 5'),
      '1',
    ],
    eventsMaxAgeMs: ['NATS_EVENTS_MAX_AGE', duration, '7d'],
    duplicateWindowMs: ['NATS_DUPLICATE_WINDOW', duration, '10m'],
    dlqMaxAgeMs: ['NATS_DLQ_MAX_AGE', duration, '30d'],
    /**
     * Disk the events stream may use. When full, publishes are refused (DiscardPolicy.New: an event
     * the sink has not stored is never dropped); old events leave only by NATS_EVENTS_MAX_AGE, so size
     * it for that many days of traffic.
     */
    eventsMaxBytes: ['NATS_EVENTS_MAX_BYTES', byteSize, '2GiB'],
    /** Disk the dead-letter stream may use; when full, the oldest dead letters go first. */
    dlqMaxBytes: ['NATS_DLQ_MAX_BYTES', byteSize, '512MiB'],
    /** Deliveries of a message before a consumer gives up and it is dead-lettered (max_deliveries). */
    maxDeliver: ['NATS_MAX_DELIVER', positiveInt.min(2).max(1000), '20'],
  },
  temporal: {
    address: ['TEMPORAL_ADDRESS', z.string().min(1), '127.0.0.1:7233'],
    namespace: ['TEMPORAL_NAMESPACE', z.string().min(1), 'default'],
    taskQueue: ['TEMPORAL_TASK_QUEUE', z.string().min(1), 'shopstream'],
    /**
     * Chat escalations run on a task queue of their own: an SLA of seconds must not wait behind a
     * backlog of marketing flows (the worker polls both).
     */
    chatTaskQueue: ['TEMPORAL_CHAT_TASK_QUEUE', z.string().min(1), 'shopstream-chat'],
    /** TLS to Temporal: the CA of its certificate (a private CA; empty with the others: plain). */
    tlsCaFile: ['TEMPORAL_TLS_CA_FILE', z.string(), ''],
    /** A client certificate and its key (mutual TLS, as Temporal Cloud asks). */
    tlsCertFile: ['TEMPORAL_TLS_CERT_FILE', z.string(), ''],
    tlsKeyFile: ['TEMPORAL_TLS_KEY_FILE', z.string(), ''],
    /** The name to check the server's certificate against when the address does not carry it. */
    tlsServerName: ['TEMPORAL_TLS_SERVER_NAME', z.string(), ''],
    /**
     * The worker's own health endpoint (/livez, /readyz, /metrics) on ADMIN_HOST at this port; 0: none.
     * One port per worker process (the flow worker and the chat worker each need their own).
     */
    workerAdminPort: ['WORKER_ADMIN_PORT', z.coerce.number().int().min(0).max(65535), '0'],
  },
  /**
   * Timing applied to the shipped flows when the triggers start them (workflows/flows/timing.ts). As
   * written by default; `make demo` runs the same flows in seconds (scale 1800, waits capped at 6s, no
   * quiet hours).
   */
  flows: {
    /** Every flow duration is divided by this: 1 leaves them as written. */
    timeScale: ['FLOW_TIME_SCALE', z.coerce.number().min(1).max(1_000_000), '1'],
    /** The longest wait after scaling; 0s: no cap. */
    maxWaitMs: ['FLOW_MAX_WAIT', duration, '0s'],
    /** off: messages go out at any hour of the user's day. */
    quietHours: ['FLOW_QUIET_HOURS', z.enum(['on', 'off']), 'on'],
    /** Messages per user and day across flows; 0 keeps each flow's own cap. */
    frequencyCapPerDay: ['FLOW_FREQUENCY_CAP', z.coerce.number().int().min(0).max(1000), '0'],
    /** Escalations: an agent accepts within this long of the handoff (else level 2). */
    escalationFirstResponseMs: ['ESCALATION_FIRST_RESPONSE', duration, '5m'],
    /** Escalations: resolved within this long of the handoff (else level 3). */
    escalationResolutionMs: ['ESCALATION_RESOLUTION', duration, '1h'],
  },
  clickhouse: {
    /** Empty: embedded chDB in this process. Set: a ClickHouse server (http(s)://host:port). */
    url: [
      'CLICKHOUSE_URL',
      z.union([
        z.literal(''),
        z.string().regex(/^https?:\/\/[^/\s]+/, 'must be a URL such as http://localhost:8123'),
      ]),
      '',
    ],
    user: ['CLICKHOUSE_USER', z.string(), 'default'],
    password: ['CLICKHOUSE_PASSWORD', z.string(), ''],
    /** A server user whose profile has readonly = 1 (and limits), for analysts' SQL; '' = CLICKHOUSE_USER with readonly = 1 per query. */
    readUser: ['CLICKHOUSE_READ_USER', z.string(), ''],
    readPassword: ['CLICKHOUSE_READ_PASSWORD', z.string(), ''],
    database: [
      'CLICKHOUSE_DATABASE',
      z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an identifier'),
      'shopstream',
    ],
    dataDir: ['CLICKHOUSE_DATA_DIR', z.string().min(1), path.join(ROOT, '.data', 'clickhouse')],
  },
  collector: {
    host: ['COLLECTOR_HOST', z.string().min(1), '127.0.0.1'],
    port: ['COLLECTOR_PORT', port, '8088'],
    /** HTTPS (and wss for the chat widget): the server's certificate (PEM, with its chain) and key. */
    tlsCertFile: ['COLLECTOR_TLS_CERT_FILE', z.string(), ''],
    tlsKeyFile: ['COLLECTOR_TLS_KEY_FILE', z.string(), ''],
    /**
     * Public (browser/app) keys, comma-separated shop_id:write_key pairs: browse, search, cart and
     * checkout events, handoffs and the user's own chat turns. None: the collector refuses requests.
     */
    writeKeys: ['COLLECTOR_WRITE_KEYS', writeKeys, ''],
    /** Secret server keys, shop_id:key pairs: everything, including orders, refunds and desk events. */
    serverKeys: ['COLLECTOR_SERVER_KEYS', writeKeys, ''],
    /** shop_id:secret pairs (32+ characters): that shop's public-key events need a signed user token. */
    userTokenSecrets: ['COLLECTOR_USER_TOKEN_SECRET', shopSecrets, ''],
    maxBodyBytes: ['COLLECTOR_MAX_BODY_BYTES', positiveInt, '1048576'],
    maxBatch: ['COLLECTOR_MAX_BATCH', positiveInt, '500'],
    /** Time to receive a whole request (slow clients are cut off with 408). */
    requestTimeoutMs: ['COLLECTOR_REQUEST_TIMEOUT', duration, '10s'],
    /** Requests handled at once; beyond it 503 with Retry-After. */
    maxConcurrentRequests: ['COLLECTOR_MAX_CONCURRENT_REQUESTS', positiveInt, '64'],
    /** Events per second per write key (token bucket; 0: no limit); beyond it 429 with Retry-After. */
    rateLimit: ['COLLECTOR_RATE_LIMIT', z.coerce.number().int().min(0), '1000'],
    /** Bucket size of the rate limit, in events (at least COLLECTOR_MAX_BATCH is used). */
    rateBurst: ['COLLECTOR_RATE_BURST', positiveInt, '5000'],
    /** Longest one event's publish may take, retries included, before the request is answered 503. */
    publishTimeoutMs: ['COLLECTOR_PUBLISH_TIMEOUT', duration, '5s'],
    /** Origins browsers may post from (CORS): `*` or comma-separated origins. */
    corsOrigins: ['COLLECTOR_CORS_ORIGINS', z.string(), '*'],
  },
  sink: {
    batchSize: ['SINK_BATCH_SIZE', positiveInt.max(100_000), '5000'],
    flushMs: ['SINK_FLUSH_INTERVAL', duration, '1s'],
    ackWaitMs: ['SINK_ACK_WAIT', duration, '30s'],
    /** /healthz fails the sink when events are pending and it has stored nothing for this long. */
    stallAfterMs: ['SINK_STALL_AFTER', duration, '2m'],
    /** /healthz fails the sink when its oldest unstored event reached the stream longer ago than this. */
    maxLagMs: ['SINK_MAX_LAG', duration, '1h'],
  },
  interest: {
    /** Which partitions this instance processes: `all`, or a list and ranges such as 0-7,12. */
    partitions: [
      'INTEREST_PARTITIONS',
      z
        .string()
        .regex(/^(all|\d+(-\d+)?(,\d+(-\d+)?)*)$/, 'must be all, or numbers and ranges such as 0-7,12'),
      'all',
    ],
    shortHalfLifeMs: ['INTEREST_SHORT_HALF_LIFE', duration, '30m'],
    longHalfLifeMs: ['INTEREST_LONG_HALF_LIFE', duration, '14d'],
    batchSize: ['INTEREST_BATCH_SIZE', positiveInt.max(10_000), '500'],
    snapshotIntervalMs: ['INTEREST_SNAPSHOT_INTERVAL', duration, '5m'],
    catalogFile: ['CATALOG_FILE', z.string(), ''],
  },
  rules: {
    intervalMs: ['RULES_INTERVAL', duration, '10m'],
    lookbackMs: ['RULES_LOOKBACK', duration, '90d'],
    minSupport: ['RULES_MIN_SUPPORT', z.coerce.number().positive().max(1), '0.005'],
    minConfidence: ['RULES_MIN_CONFIDENCE', z.coerce.number().positive().max(1), '0.1'],
    maxBasketSize: ['RULES_MAX_BASKET_SIZE', positiveInt.max(100), '20'],
    maxItemsetLength: ['RULES_MAX_ITEMSET_LENGTH', positiveInt.max(5), '3'],
  },
  tiers: {
    repeatOrders: ['TIER_REPEAT_ORDERS', positiveInt, '2'],
    highValueOrders: ['TIER_HIGH_VALUE_ORDERS', positiveInt, '5'],
    highValueSpendMinor: ['TIER_HIGH_VALUE_SPEND_MINOR', positiveInt, '100000'],
    churnAfterMs: ['TAG_CHURN_AFTER', duration, '30d'],
  },
  /** The order view (streams/processors/orders): each user's recent orders for the bot. */
  orders: {
    /** Events applied at once (across users; one user's stay in order). */
    maxInFlight: ['ORDERS_IN_FLIGHT', positiveInt.max(10_000), '200'],
  },
  /** The customer-service bot (streams/processors/chat, bot/). */
  bot: {
    /** Knowledge-base entries (YAML, one file per area), reloaded when they change. */
    kbDir: ['BOT_KB_DIR', z.string().min(1), path.join(ROOT, 'bot', 'kb', 'entries')],
    /** Watch the knowledge base and reload it on change: on | off. */
    kbWatch: ['BOT_KB_WATCH', z.enum(['on', 'off']), 'on'],
    /** The trained intent model, cached; retrained at start when the shipped training data changed. */
    nluCache: ['BOT_NLU_CACHE', z.string().min(1), path.join(ROOT, '.data', 'nlu-model.json')],
  },
  /** Message channels of the flows: `log` (the demo's), `off`, or the URL of a signed HTTP relay. */
  channels: {
    email: ['CHANNEL_EMAIL', channelTarget, 'log'],
    sms: ['CHANNEL_SMS', channelTarget, 'log'],
    appPush: ['CHANNEL_APP_PUSH', channelTarget, 'log'],
    wechat: ['CHANNEL_WECHAT', channelTarget, 'log'],
    webhook: ['CHANNEL_WEBHOOK', channelTarget, 'log'],
    /** HMAC secret of the Shopstream-Signature header; required when a channel is a URL. */
    secret: ['CHANNEL_SECRET', z.string(), ''],
    timeoutMs: [
      'CHANNEL_TIMEOUT',
      duration.refine((ms) => ms > 0 && ms < 30_000, 'must be under 30s (the sendMessage activity timeout)'),
      '10s',
    ],
  },
  /**
   * Where shoppers chat with the bot (streams/channels): the web widget's WebSocket, the app API (POST +
   * Server-Sent Events) and the WeChat callback, mounted on the collector's HTTP server.
   */
  chatChannels: {
    enabled: ['CHAT_CHANNELS', z.enum(['0', '1']).transform((v) => v === '1'), '1'],
    /** Conversations with a reply subscription (or a turn counter) at once per process; beyond it 503. */
    maxConversations: ['CHAT_MAX_OPEN_CONVERSATIONS', positiveInt.max(1_000_000), '10000'],
    /** Sockets and streams open at once per process (all channels); beyond it 503. */
    maxConnections: ['CHAT_MAX_CONNECTIONS', positiveInt.max(1_000_000), '10000'],
    /** User turns per second per conversation (token bucket; 0: no limit), bursts of CHAT_RATE_BURST. */
    rateLimit: ['CHAT_RATE_LIMIT', z.coerce.number().min(0).max(1000), '1'],
    rateBurst: ['CHAT_RATE_BURST', positiveInt.max(1000), '5'],
    /** Frames per second a WebSocket may send (any frame, valid or not; beyond it the socket is closed). */
    socketFrameRate: ['CHAT_SOCKET_FRAME_RATE', positiveInt.max(1000), '10'],
    /** Largest WebSocket frame or POST body, in bytes. */
    maxMessageBytes: ['CHAT_MAX_MESSAGE_BYTES', positiveInt.max(1_048_576), '16384'],
    /** WebSocket ping and SSE comment interval; a socket that misses a pong is closed. */
    heartbeatMs: ['CHAT_HEARTBEAT', duration, '25s'],
    /** WeChat server token (the callback's signature); empty: the WeChat callback is off (404). */
    wechatToken: ['CHAT_WECHAT_TOKEN', z.string(), ''],
    /** The shop the WeChat account belongs to (required with CHAT_WECHAT_TOKEN). */
    wechatShopId: [
      'CHAT_WECHAT_SHOP',
      z.union([z.literal(''), z.string().regex(SHOP_ID_RE, 'must be a shop id')]),
      '',
    ],
    /** What WeChat turns are recorded as: a mini program or an official account (social). */
    wechatChannel: ['CHAT_WECHAT_CHANNEL', z.enum(['mini_program', 'social']), 'mini_program'],
    /** How long the WeChat callback waits for the bot's reply to answer it passively (WeChat allows 5 s). */
    wechatReplyWaitMs: [
      'CHAT_WECHAT_REPLY_WAIT',
      duration.refine((ms) => ms < 5000, 'must be under 5s (WeChat waits 5 s)'),
      '4s',
    ],
  },
  admin: {
    host: ['ADMIN_HOST', z.string().min(1), '127.0.0.1'],
    /** Metrics, health and the local SQL endpoint of the pipeline service. */
    port: ['ADMIN_PORT', port, '8089'],
    /** Bearer token of the admin endpoint's SQL and stats (at least 32 characters); none: they refuse. */
    token: ['ADMIN_TOKEN', z.string(), ''],
    /**
     * This pipeline instance's name among the instances sharing the consumers (leases): by default
     * the host and ADMIN_PORT, so a restarted instance takes its own partitions back at once.
     */
    instance: ['SERVICE_INSTANCE', z.string().max(200), ''],
    /**
     * on: this instance consumes only the ordered consumers it holds a lease on (docs/scaling.md), for
     * several instances on one prefix; set it on every one of them. off: one instance consumes all.
     */
    leases: ['SERVICE_LEASES', z.enum(['on', 'off']), 'off'],
  },
  analyst: {
    /** The ClickHouse-compatible read-only HTTP endpoint of the embedded database (analysts' tools). */
    host: ['ANALYST_HOST', z.string().min(1), '127.0.0.1'],
    /** 8123 is ClickHouse's own HTTP port: tools find it where they expect it. */
    port: ['ANALYST_PORT', port, '8123'],
    user: ['ANALYST_USER', z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be a user name'), 'analyst'],
    /** The analyst's password; none: the endpoint is off. Never defaulted (the demo writes one). */
    password: ['ANALYST_PASSWORD', z.string(), ''],
  },
  coupons: {
    /** HMAC secret coupon codes derive from (at least 32 bytes); required by anything that issues codes. */
    secret: ['COUPON_SECRET', z.string(), ''],
  },
  stack: {
    natsPort: ['STACK_NATS_PORT', port, '4222'],
    natsMonitorPort: ['STACK_NATS_MONITOR_PORT', port, '8222'],
    temporalPort: ['STACK_TEMPORAL_PORT', port, '7233'],
    temporalUiPort: ['STACK_TEMPORAL_UI_PORT', port, '8233'],
    toolsDir: ['SHOPSTREAM_TOOLS_DIR', z.string().min(1), path.join(ROOT, '.tools')],
    dataDir: ['SHOPSTREAM_DATA_DIR', z.string().min(1), path.join(ROOT, '.data')],
  },
  /** Crash-test hooks (tests only): the sink pauses this long between a durable insert and its acks. */
  failpoints: {
    afterInsertMs: ['SHOPSTREAM_FAILPOINT_SINK_AFTER_INSERT_MS', z.coerce.number().int().min(0), '0'],
    /** ...from this batch on (1 = the first). */
    fromBatch: ['SHOPSTREAM_FAILPOINT_SINK_FROM_BATCH', positiveInt, '1'],
  },
  process: {
    /**
     * CPU niceness this process gives itself at start (0: as started; 19: the lowest priority). On a
     * machine shared by several parts, run the bulk ones (the sink and interest service, the flow
     * worker) at 10, so the conversations' process and the chat worker get the CPU first under load
     * (docs/scaling.md). A process can lower its own priority, not raise it.
     */
    nice: ['PROCESS_NICE', z.coerce.number().int().min(0).max(19), '0'],
  },
  log: {
    level: ['LOG_LEVEL', z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']), 'info'],
  },
} as const;

type Spec = typeof spec;
type Entry = readonly [string, z.ZodType, string];
export type Config = {
  [S in keyof Spec]: {
    [K in keyof Spec[S]]: Spec[S][K] extends readonly [string, infer T, string]
      ? T extends z.ZodType
        ? z.output<T>
        : never
      : never;
  };
};

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'CONFIG_INVALID';
  constructor(readonly problems: { variable: string; message: string }[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p.variable}: ${p.message}`).join('\n')}`);
  }
}

/** Reads and validates the whole configuration; throws ConfigError listing every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: { variable: string; message: string }[] = [];
  const out: Record<string, Record<string, unknown>> = {};
  for (const [section, entries] of Object.entries(spec)) {
    out[section] = {};
    for (const [key, entry] of Object.entries(entries as Record<string, Entry>)) {
      const [variable, schema, fallback] = entry;
      const raw = rawValue(env, variable, problems);
      const parsed = schema.safeParse(raw === undefined || raw === '' ? fallback : raw);
      if (parsed.success) out[section][key] = parsed.data;
      else
        problems.push({
          variable,
          message: `${parsed.error.issues.map((i) => i.message).join('; ')} (got "${redact(variable, raw ?? '')}")`,
        });
    }
  }
  problems.push(...channelProblems(out['channels'] as Record<string, unknown>));
  problems.push(...chatChannelProblems(out['chatChannels'] as Record<string, unknown>));
  if (problems.length > 0) throw new ConfigError(problems);
  return out as Config;
}

/**
 * A secret a component cannot run without: at least `minBytes` bytes (UTF-8), else a ConfigError that
 * says how to set it (never the value).
 */
export function requireSecret(value: string, variable: string, minBytes = 32, what = 'it'): string {
  if (Buffer.byteLength(value, 'utf8') >= minBytes) return value;
  throw new ConfigError([
    {
      variable,
      message: `${value === '' ? 'required' : `too short (${Buffer.byteLength(value, 'utf8')} bytes)`}: ${what} needs at least ${minBytes} random bytes, e.g. \`openssl rand -hex 32\`; set ${variable} or ${variable}_FILE (the local stack writes one into .data/local.env)`,
    },
  ]);
}

/** Every variable with its default, for .env.example and `shopstream config`. */
export function describeVariables(): { section: string; variable: string; default: string }[] {
  return Object.entries(spec).flatMap(([section, entries]) =>
    Object.values(entries as Record<string, Entry>).map(([variable, , fallback]) => ({
      section,
      variable,
      default: fallback.startsWith(ROOT) ? path.relative(ROOT, fallback) : fallback,
    })),
  );
}

export const PROJECT_ROOT = ROOT;
