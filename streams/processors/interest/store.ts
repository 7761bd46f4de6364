// Interest profiles in a JetStream KV bucket, one key per user, written with compare-and-set on the
// revision: several processor instances can work on the same users without losing an update.
import { RequestStrategy, type KV, type NatsConnection } from 'nats';
import { isKvConflict } from '../../../infra/nats';
import type { FeatureSpace } from '../../../catalog/types';
import { kvKey } from '../../../schemas/kv-keys';
import { emptyState, type ProfileState } from './model';
import { decodeState, encodeStateBounded, MAX_STATE_BYTES, StateFormatError } from './state-codec';

/** A stored state that does not decode (not JSON, another format): that user's problem, not the batch's. */
function isDecodeError(err: unknown): boolean {
  return err instanceof SyntaxError || err instanceof StateFormatError;
}

/** Bytes kept free under a bucket's max value size (headers of a compare-and-set write). */
const KV_HEADROOM_BYTES = 256;

export function profileKey(shopId: string, userKey: string): string {
  return kvKey(shopId, userKey);
}

/**
 * A profile as written, kept encoded until its snapshot (a decoded state takes about 4.5 times its
 * encoded size in the heap: 20,000 of them were a large part of the service's memory).
 */
export interface Changed {
  revision: number;
  bytes: Uint8Array;
}

export interface Loaded {
  state: ProfileState;
  /** KV revision the state was read at; 0 when the user has none yet. */
  revision: number;
}

/** Keys read with one batch request at most (the server answers at most 1,024 messages). */
const BATCH_GET_MAX = 1000;

/** Where loadMany reads a batch of states at once: the bucket's stream and subject prefix. */
export interface BatchGet {
  nc: NatsConnection;
  /** The bucket's stream: KV_<bucket>. */
  stream: string;
  /** The keys' subject prefix: $KV.<bucket>. */
  prefix: string;
}

/** What one batch direct get answered: the last message of each subject that has one. */
interface BatchAnswer {
  got: Map<string, { seq: number; op: string; data: Uint8Array }>;
  /** Every subject answered (or none had a message); false: cut short, ask the rest one by one. */
  complete: boolean;
  /** The server has no batch get (before 2.11). */
  unsupported?: boolean;
}

/**
 * One JetStream batch direct get (multi_last) of `subjects`, read here rather than with nats.js's
 * direct.getBatch, whose reader rejects a promise nobody holds when the request fails (NATS away:
 * an unhandled rejection that ended the service in the cluster-restart scenario). The answer ends
 * with an empty message: the end-of-batch status, a 404 (none of them exists), or a deleted key's
 * marker, which ends it early (Nats-Num-Pending then says messages were left).
 */
async function batchDirectGet(b: BatchGet, subjects: string[]): Promise<BatchAnswer> {
  const answer = await b.nc.requestMany(
    `$JS.API.DIRECT.GET.${b.stream}`,
    JSON.stringify({ multi_last: subjects, batch: subjects.length }),
    { strategy: RequestStrategy.SentinelMsg, maxWait: 5000 },
  );
  const got: BatchAnswer['got'] = new Map();
  let pending: number | undefined;
  let ended = false;
  for await (const m of answer) {
    const code = m.headers?.code ?? 0;
    if (code === 404) return { got, complete: true };
    if (code !== 0 && code !== 204)
      throw new Error(`batch direct get: ${code} ${m.headers?.description ?? ''}`.trim());
    const subject = m.headers?.get('Nats-Subject');
    if (!subject) {
      ended = m.data.length === 0; // the end-of-batch status
      break;
    }
    const left = m.headers!.get('Nats-Num-Pending');
    if (!left) return { got, complete: false, unsupported: true };
    pending = Number(left);
    got.set(subject, {
      seq: Number(m.headers!.get('Nats-Sequence')),
      op: m.headers!.get('KV-Operation') || 'PUT',
      data: m.data,
    });
    if (m.data.length === 0) break; // a delete marker: the answer ends here (SentinelMsg)
  }
  // all there when the last one said nothing was left, or the end came with nothing at all
  return { got, complete: pending === 0 || (ended && pending === undefined) };
}

export class ProfileStore {
  /** Trims made to fit a state under maxStateBytes (state-codec.ts encodeStateBounded). */
  trims = 0;
  /** States read by one-key requests (a batch read cut short, or no batch read). */
  singleReads = 0;

  constructor(
    readonly kv: KV,
    readonly features: FeatureSpace,
    /** Largest value written (state-codec.ts MAX_STATE_BYTES, or less for a server with a smaller max_payload). */
    readonly maxStateBytes = MAX_STATE_BYTES,
    /** For loadMany's batch reads; without it, loadMany reads key by key. */
    private batchGet?: BatchGet,
  ) {}

  async load(shopId: string, userKey: string): Promise<Loaded> {
    const entry = await this.kv.get(profileKey(shopId, userKey));
    if (!entry || entry.operation !== 'PUT' || entry.value.length === 0) {
      return { state: emptyState(shopId, userKey, this.features.size), revision: 0 };
    }
    return { state: decodeState(entry.value, this.features), revision: entry.revision };
  }

  /**
   * Many users' states, in the order asked, with one request per BATCH_GET_MAX keys (JetStream's
   * batch direct get of the last message of each key's subject) instead of one per key. The server
   * answers in stream order and leaves out keys that have no entry; a deleted key's marker (empty)
   * ends the answer early (nats.js stops at an empty message), which Nats-Num-Pending shows: the keys
   * not answered are then read one by one, as are all of them when the server has no batch get
   * (before 2.11). A state that does not decode is an error of that user only: it is returned as the
   * error, for the caller to handle as load() would have thrown it.
   */
  async loadMany(users: readonly { shopId: string; userKey: string }[]): Promise<(Loaded | Error)[]> {
    const out: (Loaded | Error)[] = new Array<Loaded | Error>(users.length);
    const single = async (i: number): Promise<void> => {
      this.singleReads++;
      const u = users[i]!;
      out[i] = await this.load(u.shopId, u.userKey).catch((err: Error) => {
        if (isDecodeError(err)) return err;
        throw err;
      });
    };
    if (!this.batchGet) {
      await Promise.all(users.map((_, i) => single(i)));
      return out;
    }
    const batchGet = this.batchGet;
    for (let from = 0; from < users.length; from += BATCH_GET_MAX) {
      const chunk = users.slice(from, from + BATCH_GET_MAX);
      const subjects = chunk.map((u) => `${batchGet.prefix}.${profileKey(u.shopId, u.userKey)}`);
      const { got, complete, unsupported } = await batchDirectGet(batchGet, subjects);
      if (unsupported) this.batchGet = undefined; // an older server: key by key from now on
      const missing: number[] = [];
      chunk.forEach((u, j) => {
        const m = got.get(subjects[j]!);
        if (!m) {
          if (complete)
            out[from + j] = { state: emptyState(u.shopId, u.userKey, this.features.size), revision: 0 };
          else missing.push(from + j);
          return;
        }
        if (m.op !== 'PUT' || m.data.length === 0) {
          out[from + j] = { state: emptyState(u.shopId, u.userKey, this.features.size), revision: 0 };
          return;
        }
        try {
          out[from + j] = { state: decodeState(m.data, this.features), revision: m.seq };
        } catch (err) {
          out[from + j] = err as Error;
        }
      });
      await Promise.all(missing.map((i) => single(i)));
    }
    return out;
  }

  /**
   * Writes if nobody else did since `revision`; returns the new revision, or undefined on a conflict.
   * Never writes more than maxStateBytes (trims, or throws StateTooLargeError).
   */
  async save(loaded: Loaded): Promise<number | undefined> {
    return (await this.saveEncoded(loaded))?.revision;
  }

  /** save(), also returning the bytes written (kept for a snapshot: a fraction of the decoded state). */
  async saveEncoded(loaded: Loaded): Promise<Changed | undefined> {
    const key = profileKey(loaded.state.shopId, loaded.state.userKey);
    const { bytes, trimmed } = encodeStateBounded(loaded.state, this.features, this.maxStateBytes);
    if (trimmed) this.trims++;
    try {
      const revision =
        loaded.revision === 0
          ? await this.kv.create(key, bytes)
          : await this.kv.update(key, bytes, loaded.revision);
      return { revision, bytes };
    } catch (err) {
      if (isKvConflict(err)) return undefined;
      throw err;
    }
  }
}

/**
 * The profile store on the profiles bucket (which must exist). A KV value is one message: states are
 * kept well under the server's max_payload, and under the bucket's own max value size when it has one
 * (headroom for the compare-and-set header).
 */
export async function openProfileStore(
  nc: NatsConnection,
  bucket: string,
  features: FeatureSpace,
): Promise<ProfileStore> {
  const kv = await nc.jetstream().views.kv(bucket, { bindOnly: true });
  const maxPayload = nc.info?.max_payload ?? 1024 * 1024;
  const status = await kv.status();
  const bucketMax = status.maxValueSize;
  return new ProfileStore(
    kv,
    features,
    Math.min(
      MAX_STATE_BYTES,
      Math.floor(maxPayload / 2),
      bucketMax > 0 ? Math.max(0, bucketMax - KV_HEADROOM_BYTES) : Number.POSITIVE_INFINITY,
    ),
    // batch reads need direct gets (the bucket's allow_direct, set by the topology)
    status.streamInfo.config.allow_direct ? batchGetOf(nc, status.streamInfo.config.name, bucket) : undefined,
  );
}

function batchGetOf(nc: NatsConnection, stream: string, bucket: string): BatchGet {
  return { nc, stream, prefix: `$KV.${bucket}` };
}
