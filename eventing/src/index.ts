export { type DeadLetter, listDeadLetters, RedriveError, type Redriven, redrive, redriveAll, type Skipped } from './dead-letters.ts';
export * from './events.ts';
export * from './http.ts';
export * as keys from './keys.ts';
export { createProducer, fieldMap, type Producer } from './producer.ts';
export { createStreamSource, durationMs, ensureGroup } from './stream-source.ts';
export { createTickSource } from './tick-source.ts';
export * from './topology.ts';
