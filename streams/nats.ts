// TODO(lead): service.ts composition root. Moved to infra/nats.ts; remove once service.ts imports it there.
export { connectNats } from '../infra/nats';
