// Every processing step returns a typed result instead of throwing; one runner turns results into
// acks, naks and dead letters.
import type { DlqReason } from './topology';

export type StepResult<T> =
  | { kind: 'ok'; value: T }
  | { kind: 'dlq'; reason: DlqReason; detail: string }
  | { kind: 'drop'; why: string };

export const ok = <T>(value: T): StepResult<T> => ({ kind: 'ok', value });
export const dlq = (reason: DlqReason, detail: string): StepResult<never> => ({
  kind: 'dlq',
  reason,
  detail,
});
export const drop = (why: string): StepResult<never> => ({ kind: 'drop', why });
