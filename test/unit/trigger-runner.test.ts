// Which failures a trigger waits out (retries for as long as it takes) and which it gives up on.
import { ServiceError } from '@temporalio/client';
import { isUnavailable } from '../../streams/triggers/runner';

const grpc = (code: number, details: string) => Object.assign(new Error(details), { code, details });

describe('isUnavailable', () => {
  it('waits out Temporal being down, slow or overloaded', () => {
    expect(isUnavailable(new ServiceError('x', { cause: grpc(14, 'Connection refused') }))).toBe(true);
    expect(isUnavailable(new ServiceError('x', { cause: grpc(4, 'took too long') }))).toBe(true);
    expect(isUnavailable(new ServiceError('x', { cause: grpc(8, 'namespace rate limit') }))).toBe(true);
  });

  it('gives up on a request Temporal refuses', () => {
    expect(isUnavailable(new ServiceError('x', { cause: grpc(3, 'input too large') }))).toBe(false);
    expect(isUnavailable(new ServiceError('x', { cause: grpc(7, 'not allowed') }))).toBe(false);
    expect(isUnavailable(new Error('workflow input is invalid'))).toBe(false);
  });

  it('waits out JetStream being away', () => {
    expect(isUnavailable(Object.assign(new Error('TIMEOUT'), { code: 'TIMEOUT' }))).toBe(true);
    expect(isUnavailable(Object.assign(new Error('503'), { code: '503' }))).toBe(true);
  });
});
