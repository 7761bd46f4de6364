// Interest profiles in a JetStream KV bucket, one key per user, written with compare-and-set on the
// revision: several processor instances can work on the same users without losing an update.
import type { KV } from 'nats';
import { isKvConflict } from '../../../infra/nats';
import type { FeatureSpace } from '../../../catalog/types';
import { kvKey } from '../../../schemas/kv-keys';
import { emptyState, type ProfileState } from './model';
import { decodeState, encodeStateBounded, MAX_STATE_BYTES } from './state-codec';

export function profileKey(shopId: string, userKey: string): string {
  return kvKey(shopId, userKey);
}

export interface Loaded {
  state: ProfileState;
  /** KV revision the state was read at; 0 when the user has none yet. */
  revision: number;
}

export class ProfileStore {
  /** Trims made to fit a state under maxStateBytes (state-codec.ts encodeStateBounded). */
  trims = 0;

  constructor(
    readonly kv: KV,
    readonly features: FeatureSpace,
    /** Largest value written (state-codec.ts MAX_STATE_BYTES, or less for a server with a smaller max_payload). */
    readonly maxStateBytes = MAX_STATE_BYTES,
  ) {}

  async load(shopId: string, userKey: string): Promise<Loaded> {
    const entry = await this.kv.get(profileKey(shopId, userKey));
    if (!entry || entry.operation !== 'PUT' || entry.value.length === 0) {
      return { state: emptyState(shopId, userKey, this.features.size), revision: 0 };
    }
    return { state: decodeState(entry.value, this.features), revision: entry.revision };
  }

  /**
   * Writes if nobody else did since `revision`; returns the new revision, or undefined on a conflict.
   * Never writes more than maxStateBytes (trims, or throws StateTooLargeError).
   */
  async save(loaded: Loaded): Promise<number | undefined> {
    const key = profileKey(loaded.state.shopId, loaded.state.userKey);
    const { bytes: value, trimmed } = encodeStateBounded(loaded.state, this.features, this.maxStateBytes);
    if (trimmed) this.trims++;
    try {
      return loaded.revision === 0
        ? await this.kv.create(key, value)
        : await this.kv.update(key, value, loaded.revision);
    } catch (err) {
      if (isKvConflict(err)) return undefined;
      throw err;
    }
  }
}
