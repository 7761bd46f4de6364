// A profile state as stored in the KV bucket: JSON with vectors keyed by feature name, so stored
// state survives a catalog change (features not in the current catalog are dropped on load, new
// ones start at zero).
//
// Fields added since format 1 was first written are optional on disk and get their default on load,
// so states stored before them still decode: timeZone / timeZoneAt (absent: undefined, no zone known
// yet), pendingTierChanges and orderKeys (absent: none). A decoded state gets the model's caps
// (model.ts enforceCaps), so a state stored before them shrinks on its next write.
//
// Size: a KV value is one NATS message, so it is bounded by the server's max_payload (1 MiB by
// default; the profiles bucket sets no smaller max value size). encodeStateBounded never returns
// more than MAX_STATE_BYTES (or a smaller limit given): past it, the descriptive maps are trimmed
// (least recent products first), never the vectors, the watermark or the order keys, and if that is
// not enough it throws StateTooLargeError, which the processor dead-letters for that user alone.
import { Matrix } from 'ml-matrix';
import type { FeatureSpace } from '../../../catalog/types';
import { dict, enforceCaps, type DecayedVector, type ProfileState } from './model';

const FORMAT = 1;

/** Largest encoded profile state written: half the server's default max_payload (1 MiB). */
export const MAX_STATE_BYTES = 512 * 1024;

interface StoredVector {
  at: number;
  values: Record<string, number>;
}

type Stored = Omit<ProfileState, 'short' | 'long' | 'pendingTierChanges' | 'orderKeys'> & {
  format: number;
  short: StoredVector;
  long: StoredVector;
  pendingTierChanges?: ProfileState['pendingTierChanges'];
  orderKeys?: ProfileState['orderKeys'];
};

function storeVector(v: DecayedVector, features: FeatureSpace): StoredVector {
  const values: Record<string, number> = {};
  v.row.getRow(0).forEach((w, i) => {
    if (Math.abs(w) > 1e-12) values[features.names[i]!] = w;
  });
  return { at: v.at, values };
}

function loadVector(v: StoredVector, features: FeatureSpace): DecayedVector {
  const row = Matrix.zeros(1, features.size);
  for (const [name, w] of Object.entries(v.values)) {
    const i = features.index.get(name);
    if (i !== undefined) row.set(0, i, w);
  }
  return { at: v.at, row };
}

export function encodeState(s: ProfileState, features: FeatureSpace): Uint8Array {
  const stored: Stored = {
    ...s,
    format: FORMAT,
    short: storeVector(s.short, features),
    long: storeVector(s.long, features),
  };
  return Buffer.from(JSON.stringify(stored));
}

export class StateFormatError extends Error {
  override readonly name = 'StateFormatError';
  readonly code = 'STATE_FORMAT';
}

export class StateTooLargeError extends Error {
  override readonly name = 'StateTooLargeError';
  readonly code = 'STATE_TOO_LARGE';
  constructor(
    readonly bytes: number,
    readonly maxBytes: number,
  ) {
    super(`profile state is ${bytes} bytes even trimmed, over the ${maxBytes}-byte limit`);
  }
}

/** Halves the descriptive maps (the least recent entries go); false when they are all empty. */
function trimDescriptive(s: ProfileState): boolean {
  const skus = Object.keys(s.skus);
  const cats = Object.keys(s.compared);
  if (skus.length === 0 && cats.length === 0 && s.purchased.length === 0) return false;
  skus
    .sort((a, b) => s.skus[a]!.lastAt - s.skus[b]!.lastAt)
    .slice(0, Math.ceil(skus.length / 2))
    .forEach((k) => delete s.skus[k]);
  cats
    .sort((a, b) => s.compared[a]!.length - s.compared[b]!.length)
    .slice(0, Math.ceil(cats.length / 2))
    .forEach((c) => delete s.compared[c]);
  s.purchased.splice(0, Math.ceil(s.purchased.length / 2));
  return true;
}

/**
 * Encodes a state in at most `maxBytes`, trimming its descriptive maps in place if needed (so what
 * is stored is what the caller holds); throws StateTooLargeError when that is not enough.
 */
export function encodeStateBounded(
  s: ProfileState,
  features: FeatureSpace,
  maxBytes = MAX_STATE_BYTES,
): { bytes: Uint8Array; trimmed: boolean } {
  let bytes = encodeState(s, features);
  let trimmed = false;
  while (bytes.length > maxBytes) {
    if (!trimDescriptive(s)) throw new StateTooLargeError(bytes.length, maxBytes);
    trimmed = true;
    bytes = encodeState(s, features);
  }
  return { bytes, trimmed };
}

export function decodeState(bytes: Uint8Array, features: FeatureSpace): ProfileState {
  const stored = JSON.parse(Buffer.from(bytes).toString('utf8')) as Stored;
  if (stored.format !== FORMAT)
    throw new StateFormatError(`profile state format ${stored.format} is not ${FORMAT}`);
  const { format: _format, short, long, pendingTierChanges, orderKeys, ...rest } = stored;
  const state: ProfileState = {
    ...rest,
    // maps keyed by client strings get no prototype (model.ts dict)
    skus: dict(rest.skus),
    compared: dict(rest.compared),
    ...(rest.traits ? { traits: dict(rest.traits) } : {}),
    short: loadVector(short, features),
    long: loadVector(long, features),
    pendingTierChanges: pendingTierChanges ?? [],
    orderKeys: orderKeys ?? [],
  };
  enforceCaps(state);
  return state;
}
