// TODO(lead): service.ts composition root. Moved to streams/producer/flow-events.ts; remove once service.ts imports it there.
// eslint-disable-next-line no-restricted-imports -- a re-export for streams/service.ts only, never imported by activities
export { flowEventPublisher } from '../streams/producer/flow-events';
