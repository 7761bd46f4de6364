// A profile state as stored in the KV bucket: JSON with vectors keyed by feature name, so stored
// state survives a catalog change (features not in the current catalog are dropped on load, new
// ones start at zero).
//
// Fields added since format 1 was first written are optional on disk and get their default on load,
// so states stored before them still decode: timeZone / timeZoneAt (absent: undefined, no zone known
// yet) and pendingTierChanges (absent: none).
import { Matrix } from 'ml-matrix';
import type { FeatureSpace } from '../../../catalog/types';
import type { DecayedVector, ProfileState } from './model';

const FORMAT = 1;

interface StoredVector {
  at: number;
  values: Record<string, number>;
}

type Stored = Omit<ProfileState, 'short' | 'long' | 'pendingTierChanges'> & {
  format: number;
  short: StoredVector;
  long: StoredVector;
  pendingTierChanges?: ProfileState['pendingTierChanges'];
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

export function decodeState(bytes: Uint8Array, features: FeatureSpace): ProfileState {
  const stored = JSON.parse(Buffer.from(bytes).toString('utf8')) as Stored;
  if (stored.format !== FORMAT)
    throw new StateFormatError(`profile state format ${stored.format} is not ${FORMAT}`);
  const { format: _format, short, long, pendingTierChanges, ...rest } = stored;
  return {
    ...rest,
    short: loadVector(short, features),
    long: loadVector(long, features),
    pendingTierChanges: pendingTierChanges ?? [],
  };
}
