/**
 * The producer: `emit` validates an event against its contract and XADDs it as one field
 * holding structured JSON. Stream bounding (trim below the oldest pending entry) is issue #3.
 */
import type { Redis } from 'ioredis';
import { type ProteusEvent, parseEvent } from './events.ts';
import { entryField } from './keys.ts';

export interface Producer {
  /** Validates and appends the event; resolves to the stream entry id. */
  emit(stream: string, event: ProteusEvent): Promise<string>;
}

export function createProducer(redis: Redis): Producer {
  return {
    async emit(stream, event) {
      const valid = parseEvent(event);
      const id = await redis.xadd(stream, '*', entryField, JSON.stringify(valid));
      if (!id) throw new Error(`XADD to ${stream} returned no id`);
      return id;
    },
  };
}
