// Compatibility rules of schemas/COMPATIBILITY.md: released bytes still decode, and the checker
// catches each unsafe change.
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { INamespace } from 'protobufjs';
import {
  codecFor,
  currentSchemaJson,
  decodeEnvelope,
  describeSchema,
  encodeEnvelope,
  envelopeToJson,
} from '../../schemas/codec';
import { checkCompatibility } from '../../schemas/compat';
import { buildEnvelope } from '../helpers/events';

const SNAPSHOTS = path.join(__dirname, '../../schemas/snapshots');
const snapshots = readdirSync(SNAPSHOTS).map((f) => ({
  file: f,
  json: JSON.parse(readFileSync(path.join(SNAPSHOTS, f), 'utf8')) as INamespace,
}));
const golden = JSON.parse(
  readFileSync(path.join(__dirname, '../fixtures/schema/v1-golden.json'), 'utf8'),
) as {
  events: { type: string; hex: string; json: Record<string, unknown> }[];
};

type Json = { nested: Record<string, Json> } & Record<string, unknown>;
const clone = (): Json => JSON.parse(JSON.stringify(currentSchemaJson)) as Json;
type Pkg = Record<
  string,
  {
    fields?: Record<string, { type: string; id: number; rule?: string; options?: Record<string, unknown> }>;
    reserved?: unknown[];
    oneofs?: Record<string, { oneof: string[] }>;
    values?: Record<string, number>;
  }
>;
const pkg = (j: Json): Pkg => j.nested['shopstream']!.nested['events']!.nested['v1']!.nested as never;

describe('schema compatibility', () => {
  it.each(snapshots)('current schema is compatible with released $file', ({ json }) => {
    expect(checkCompatibility(describeSchema(json), describeSchema())).toEqual([]);
  });

  it.each(golden.events.map((e) => [e.type, e] as const))(
    'bytes an old producer wrote for %s decode today',
    (_t, e) => {
      const d = decodeEnvelope(Buffer.from(e.hex, 'hex'));
      expect(d.ok).toBe(true);
      if (d.ok) expect(envelopeToJson(d.envelope)).toEqual(e.json);
    },
  );

  it.each(snapshots)('bytes the current producer writes decode with released $file', ({ json }) => {
    const old = codecFor(json);
    for (const e of golden.events) {
      const d = decodeEnvelope(Buffer.from(e.hex, 'hex'));
      if (!d.ok) throw new Error(d.detail);
      expect(old.decode(encodeEnvelope(d.envelope))).toEqual(e.json);
    }
  });

  it('a safe change (new field, new payload) works both ways', () => {
    const next = clone();
    const p = pkg(next);
    p['Product']!.fields!['color'] = { type: 'string', id: 9 };
    p['GiftCardBought'] = { fields: { code: { type: 'string', id: 1 } } };
    p['Envelope']!.fields!['giftCardBought'] = { type: 'GiftCardBought', id: 99 };
    p['Envelope']!.oneofs!['payload']!.oneof.push('giftCardBought');
    expect(checkCompatibility(describeSchema(), describeSchema(next as INamespace))).toEqual([]);

    const newer = codecFor(next);
    // new producer -> old consumer: unknown field skipped, unknown payload classified, nothing thrown
    const withColor = envelopeToJson(
      (decodeEnvelope(encodeEnvelope(buildEnvelope('product_viewed'))) as unknown as { envelope: never })
        .envelope,
    );
    (withColor['productViewed'] as { product: Record<string, unknown> }).product['color'] = 'red';
    const d1 = decodeEnvelope(newer.encode(withColor));
    expect(d1.ok).toBe(true);
    const gift = { ...withColor, productViewed: undefined, giftCardBought: { code: 'G1' } };
    delete gift.productViewed;
    expect(decodeEnvelope(newer.encode(gift))).toMatchObject({ ok: false, reason: 'unknown_payload' });
    // old producer -> new consumer
    const fromOld = newer.decode(encodeEnvelope(buildEnvelope('cart_item_added')));
    expect(fromOld['cartItemAdded']).toBeDefined();
  });

  it.each([
    ['field_type_changed', (p: Pkg): unknown => (p['Product']!.fields!['priceMinor']!.type = 'string')],
    ['field_removed_without_reserve', (p: Pkg): unknown => delete p['Product']!.fields!['brand']],
    [
      'field_renamed',
      (p: Pkg): void => {
        p['Product']!.fields!['make'] = p['Product']!.fields!['brand']!;
        delete p['Product']!.fields!['brand'];
      },
    ],
    [
      'made_required',
      (p: Pkg): unknown => (p['Product']!.fields!['brand']!.options = { '(required)': true }),
    ],
    [
      'made_required',
      (p: Pkg): unknown =>
        (p['Product']!.fields!['weight'] = { type: 'uint32', id: 10, options: { '(required)': true } }),
    ],
    ['enum_value_removed', (p: Pkg): unknown => delete p['Channel']!.values!['CHANNEL_SMS']],
    ['enum_value_renumbered', (p: Pkg): unknown => (p['Channel']!.values!['CHANNEL_SMS'] = 60)],
  ] as const)('flags %s', (rule, change) => {
    const next = clone();
    change(pkg(next));
    expect(
      checkCompatibility(describeSchema(), describeSchema(next as INamespace)).map((i) => i.rule),
    ).toContain(rule);
  });

  it('accepts a removal that reserves number and name, and flags reuse of them', () => {
    const removed = clone();
    delete pkg(removed)['Product']!.fields!['brand'];
    pkg(removed)['Product']!.reserved = [[5, 5], 'brand'];
    expect(checkCompatibility(describeSchema(), describeSchema(removed as INamespace))).toEqual([]);
    // someone deletes the reservation and reuses the number (protobufjs itself refuses a reserved one)
    const reused = JSON.parse(JSON.stringify(removed)) as Json;
    delete pkg(reused)['Product']!.reserved;
    pkg(reused)['Product']!.fields!['maker'] = { type: 'string', id: 5 };
    expect(
      checkCompatibility(describeSchema(removed as INamespace), describeSchema(reused as INamespace)).map(
        (i) => i.rule,
      ),
    ).toContain('number_reused');
  });
});
