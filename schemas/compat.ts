// Which schema changes are safe (schemas/COMPATIBILITY.md), checked between a released snapshot and
// the current .proto. Pure: compares two plain descriptions.
import type { FieldRule, SchemaDescription } from './codec';

export type CompatRule =
  | 'message_removed'
  | 'field_removed_without_reserve'
  | 'field_type_changed'
  | 'field_renamed'
  | 'number_reused'
  | 'name_reused'
  | 'made_required'
  | 'enum_value_removed'
  | 'enum_value_renumbered';

export interface CompatIssue {
  rule: CompatRule;
  where: string;
  message: string;
}

function isReserved(reserved: (number | string | [number, number])[], id: number, name: string): boolean {
  return reserved.some((r) => (Array.isArray(r) ? id >= r[0] && id <= r[1] : r === id || r === name));
}

const shape = (f: FieldRule): string => `${f.repeated ? 'repeated ' : ''}${f.typeName ?? f.type}`;

/** Every unsafe change from `before` to `after`; empty when old and new producers can talk both ways. */
export function checkCompatibility(before: SchemaDescription, after: SchemaDescription): CompatIssue[] {
  const out: CompatIssue[] = [];
  for (const [name, oldMsg] of Object.entries(before.messages)) {
    const newMsg = after.messages[name];
    if (!newMsg) {
      out.push({ rule: 'message_removed', where: name, message: `message ${name} was removed` });
      continue;
    }
    for (const of of oldMsg.fields) {
      const where = `${name}.${of.name}`;
      const nf = newMsg.fields.find((f) => f.id === of.id);
      if (!nf) {
        if (!isReserved(newMsg.reserved, of.id, '') || !isReserved(newMsg.reserved, -1, of.name)) {
          out.push({
            rule: 'field_removed_without_reserve',
            where,
            message: `field ${of.id} removed: reserve both its number and its name`,
          });
        }
        continue;
      }
      if (shape(nf) !== shape(of)) {
        out.push({
          rule: 'field_type_changed',
          where,
          message: `field ${of.id} changed from ${shape(of)} to ${shape(nf)}`,
        });
      }
      if (nf.name !== of.name) {
        out.push({
          rule: 'field_renamed',
          where,
          message: `field ${of.id} renamed to ${nf.name}: JSON producers (the collector) use names`,
        });
      }
      if (nf.required && !of.required) {
        out.push({
          rule: 'made_required',
          where,
          message: 'made required: events from older producers would be rejected',
        });
      }
    }
    for (const nf of newMsg.fields) {
      const where = `${name}.${nf.name}`;
      const old = oldMsg.fields.find((f) => f.id === nf.id);
      if (!old && isReserved(oldMsg.reserved, nf.id, '')) {
        out.push({ rule: 'number_reused', where, message: `field number ${nf.id} was reserved` });
      }
      const sameName = oldMsg.fields.find((f) => f.name === nf.name);
      if ((sameName && sameName.id !== nf.id) || (!old && isReserved(oldMsg.reserved, -1, nf.name))) {
        out.push({
          rule: 'name_reused',
          where,
          message: `name ${nf.name} had another number (or was reserved)`,
        });
      }
      if (!old && nf.required) {
        out.push({
          rule: 'made_required',
          where,
          message: 'a new field cannot be required: older producers do not send it',
        });
      }
    }
  }
  for (const [name, oldValues] of Object.entries(before.enums)) {
    const newValues = after.enums[name] ?? {};
    for (const [value, n] of Object.entries(oldValues)) {
      if (!(value in newValues))
        out.push({
          rule: 'enum_value_removed',
          where: `${name}.${value}`,
          message: `enum value ${value} removed`,
        });
      else if (newValues[value] !== n)
        out.push({
          rule: 'enum_value_renumbered',
          where: `${name}.${value}`,
          message: `enum value ${value} renumbered`,
        });
    }
  }
  return out;
}
