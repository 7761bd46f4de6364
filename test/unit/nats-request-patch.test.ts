import { createRequire } from 'node:module';
import { patchNatsRequests, resolver } from '../../infra/nats-request-patch';

const RequestOne = (
  createRequire(require.resolve('nats'))('./lib/nats-base-client/request.js') as {
    RequestOne: { prototype: { resolver: unknown } };
  }
).RequestOne;

function fakeRequest() {
  const calls: string[] = [];
  return {
    calls,
    timer: { cancel: () => calls.push('timer') },
    deferred: {
      resolve: (v: unknown) => calls.push(`resolve ${String(v)}`),
      reject: (e: Error) => calls.push(`reject ${e.message}`),
    },
    mux: { cancel: () => calls.push('mux') },
  };
}

describe('the nats.js request patch', () => {
  it('is applied to the installed nats.js (its resolver is the one it was written against)', () => {
    expect(patchNatsRequests()).toBe('patched');
    expect(RequestOne.prototype.resolver).toBe(resolver);
    expect(patchNatsRequests()).toBe('patched'); // once
  });

  it('settles the request once, stops its timer and takes it off the mux, with no second rejection', () => {
    const ok = fakeRequest();
    resolver.call(ok, null, 'answer');
    expect(ok.calls).toEqual(['timer', 'resolve answer', 'mux']);
    const failed = fakeRequest();
    resolver.call(failed, new Error('503'), undefined);
    expect(failed.calls).toEqual(['timer', 'reject 503', 'mux']);
  });
});
