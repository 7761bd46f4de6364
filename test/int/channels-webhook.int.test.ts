// The webhook channel and the relay transport against a real HTTP server (node:http on a free port):
// the signed request as a receiver sees it, a retry after a 503 with the same Idempotency-Key, a
// refusal (422) as a non-retryable ChannelRejected, a 409 as already delivered, and a receiver that is
// too slow or not there as retryable errors.
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/activity';
import { ActivityErrorType } from '../../activities';
import {
  ChannelUnavailable,
  createEmailChannel,
  createHttpRelay,
  createWebhookChannel,
  deterministicMessageId,
  renderOrFail,
  verifySignature,
  type MessageChannel,
} from '../../activities/channels';

const SECRET = 'test-secret-0123456789';
const to = { shopId: 'shop-1', userId: 'user-1' };
const vars = { cartId: 'c-1', cartTotalMinor: 4_999, itemCount: 3, currency: 'USD' };

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

let server: Server;
let url: string;
let received: Received[] = [];
/** How the server answers the next requests, in order; the last one repeats. */
let answers: ((res: ServerResponse) => void)[] = [];

const status =
  (code: number, body = '') =>
  (res: ServerResponse) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(body);
  };

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
      const answer = answers.length > 1 ? answers.shift() : answers[0];
      (answer ?? status(200))(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/shopstream`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  received = [];
  answers = [status(200)];
});

function webhook(timeoutMs = 5_000): MessageChannel {
  return createWebhookChannel(createHttpRelay({ url, secret: SECRET, timeoutMs }));
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the send to fail');
}

describe('webhook channel over HTTP', () => {
  it('POSTs the signed JSON message with the idempotency key', async () => {
    answers = [status(200, JSON.stringify({ messageId: 'relay-42' }))];
    const before = Date.now();
    const result = await webhook().send(to, 'cart_reminder_1', vars, { idempotencyKey: 'flow-1/step-1' });
    expect(result).toEqual({ messageId: 'relay-42' });

    expect(received).toHaveLength(1);
    const [req] = received as [Received];
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['idempotency-key']).toBe('flow-1/step-1');
    const signature = req.headers['shopstream-signature'] as string;
    expect(signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(verifySignature(SECRET, signature, req.body, 300)).toMatchObject({ ok: true });
    expect(verifySignature(SECRET, signature, req.body.replace('shop-1', 'shop-2'), 300).ok).toBe(false);

    const body = JSON.parse(req.body) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual([
      'messageId',
      'channel',
      'template',
      'to',
      'vars',
      'rendered',
      'sentAt',
    ]);
    const rendered = renderOrFail('cart_reminder_1', vars);
    expect(body).toEqual({
      messageId: deterministicMessageId('webhook', 'flow-1/step-1'),
      channel: 'webhook',
      template: 'cart_reminder_1',
      to,
      vars,
      rendered: { title: rendered.title, body: rendered.body },
      sentAt: expect.any(Number) as number,
    });
    expect(body['sentAt']).toBeGreaterThanOrEqual(before);
  });

  it('a 503 is retryable; the retry carries the same Idempotency-Key and succeeds', async () => {
    answers = [status(503, '{"error":"maintenance"}'), status(200, '{}')];
    const channel = webhook();
    const send = () => channel.send(to, 'cart_reminder_1', vars, { idempotencyKey: 'flow-2/step-1' });

    const err = await failure(send());
    expect(err).toBeInstanceOf(ChannelUnavailable);
    expect(err).not.toBeInstanceOf(ApplicationFailure); // Temporal retries plain errors
    expect(err).toMatchObject({ status: 503, message: expect.stringMatching(/answered 503/) as string });

    await expect(send()).resolves.toEqual({ messageId: deterministicMessageId('webhook', 'flow-2/step-1') });
    expect(received.map((r) => r.headers['idempotency-key'])).toEqual(['flow-2/step-1', 'flow-2/step-1']);
    const ids = received.map((r) => (JSON.parse(r.body) as { messageId: string }).messageId);
    expect(ids[0]).toBe(ids[1]);
  });

  it('a key beyond ASCII (a user id in Chinese, a space) goes out %-encoded, the same on every attempt', async () => {
    const key = 'cart-recovery/shop/用户 1/c%1/0';
    answers = [status(503, '{}'), status(200, '{}')];
    const channel = webhook();
    const send = () => channel.send(to, 'cart_reminder_1', vars, { idempotencyKey: key });
    await failure(send());
    await send();
    const sent = 'cart-recovery/shop/%E7%94%A8%E6%88%B7%201/c%251/0';
    expect(received.map((r) => r.headers['idempotency-key'])).toEqual([sent, sent]);
    expect(decodeURIComponent(sent)).toBe(key);
  });

  it('a 429 and a 500 are retryable too', async () => {
    answers = [status(429), status(500)];
    const channel = webhook();
    expect(await failure(channel.send(to, 'cart_reminder_1', vars, { idempotencyKey: 'k' }))).toMatchObject({
      name: 'ChannelUnavailable',
      status: 429,
    });
    expect(await failure(channel.send(to, 'cart_reminder_1', vars, { idempotencyKey: 'k' }))).toMatchObject({
      name: 'ChannelUnavailable',
      status: 500,
    });
  });

  it('a 422 is a non-retryable ChannelRejected with the status and a short excerpt', async () => {
    answers = [status(422, JSON.stringify({ error: 'unknown user', detail: 'x'.repeat(1_000) }))];
    const err = await failure(webhook().send(to, 'cart_reminder_1', vars, { idempotencyKey: 'flow-3' }));
    expect(err).toBeInstanceOf(ApplicationFailure);
    const f = err as ApplicationFailure;
    expect(f).toMatchObject({ type: ActivityErrorType.ChannelRejected, nonRetryable: true });
    expect(f.message).toMatch(/rejected the message with 422: \{"error":"unknown user"/);
    expect(f.message.length).toBeLessThan(400);
    expect(f.message).not.toContain('/hooks/shopstream'); // the origin only
    expect(f.details?.[0]).toMatchObject({ status: 422 });
  });

  it('a 409 means the receiver already has the message: delivered', async () => {
    answers = [status(409, 'duplicate')];
    await expect(webhook().send(to, 'cart_reminder_1', vars, { idempotencyKey: 'flow-4' })).resolves.toEqual({
      messageId: deterministicMessageId('webhook', 'flow-4'),
    });
  });

  it('a receiver slower than the timeout is a retryable timeout', async () => {
    // the receiver answers only after 10 s: a failure well before that is the client's 200 ms timeout
    answers = [(res) => void setTimeout(() => status(200)(res), 10_000).unref()];
    const started = Date.now();
    const err = await failure(webhook(200).send(to, 'cart_reminder_1', vars, { idempotencyKey: 'flow-5' }));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(err).toBeInstanceOf(ChannelUnavailable);
    expect(err).not.toBeInstanceOf(ApplicationFailure);
    expect((err as Error).message).toMatch(/did not answer within 200 ms/);
  });

  it('a receiver that is not there is retryable', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const channel = createWebhookChannel(
      createHttpRelay({ url: `http://127.0.0.1:${port}/`, secret: SECRET, timeoutMs: 2_000 }),
    );
    const err = await failure(channel.send(to, 'cart_reminder_1', vars, { idempotencyKey: 'flow-6' }));
    expect(err).toBeInstanceOf(ChannelUnavailable);
    expect((err as Error).message).toMatch(/unreachable: ECONNREFUSED/);
  });

  it('an unknown template fails before any request', async () => {
    const err = await failure(webhook().send(to, 'nope', vars, { idempotencyKey: 'flow-7' }));
    expect(err).toMatchObject({ type: ActivityErrorType.TemplateInvalid, nonRetryable: true });
    expect(received).toHaveLength(0);
  });

  it('the e-mail adapter sends its provider shape through the same signed relay', async () => {
    const email = createEmailChannel(createHttpRelay({ url, secret: SECRET, timeoutMs: 5_000 }));
    await email.send(to, 'cart_reminder_last', vars, { idempotencyKey: 'flow-8' });
    const [req] = received as [Received];
    expect(verifySignature(SECRET, req.headers['shopstream-signature'] as string, req.body, 300).ok).toBe(
      true,
    );
    const body = JSON.parse(req.body) as Record<string, unknown>;
    expect(body).toMatchObject({
      channel: 'email',
      template: 'cart_reminder_last',
      to,
      email: { subject: 'Last call for your cart', text: expect.stringContaining('$49.99') as string },
    });
    expect(body).not.toHaveProperty('vars');
  });
});
