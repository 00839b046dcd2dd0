import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { invalidVectors, validVectors } from '../test/vectors.ts';
import { contractDocument, generatedFiles } from './contract.ts';
import { createEvent, type EventType, EventValidationError, eventTypes, isValidated, parseEvent } from './events.ts';

const schemasDir = join(import.meta.dirname, '..', 'schemas');

describe('generated files', () => {
  it('are current: eventing/schemas equals what the zod contracts generate (run `npm run generate -w @proteus/eventing`)', () => {
    const expected = generatedFiles();
    const onDisk = readdirSync(schemasDir).filter((f) => f.endsWith('.json'));
    expect(onDisk.sort()).toEqual([...expected.keys()].sort());
    for (const [name, text] of expected) {
      expect(readFileSync(join(schemasDir, name), 'utf8'), `${name} is stale`).toBe(text);
    }
  });

  it('list every event type with its schema file', () => {
    expect(Object.keys(contractDocument().events).sort()).toEqual([...eventTypes].sort());
  });
});

const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats.default(ajv);
const contract = JSON.parse(readFileSync(join(schemasDir, 'contract.json'), 'utf8')) as { events: Record<string, string> };
const validators = new Map(
  Object.entries(contract.events).map(([type, file]) => [type, ajv.compile(JSON.parse(readFileSync(join(schemasDir, file), 'utf8')))]),
);
/** What a non-TypeScript consumer does: pick the schema by type, validate the JSON Schema. */
function validWithJsonSchema(event: Record<string, unknown>): boolean {
  const validate = validators.get(String(event.type));
  return validate ? validate(event) : false;
}

describe('shared test vectors', () => {
  it('cover every event type', () => {
    expect(new Set(validVectors.map((v) => v.value.type))).toEqual(new Set(eventTypes));
  });

  it.each(validVectors)('valid: $name passes zod and the generated JSON Schema', ({ value }) => {
    expect(parseEvent(value)).toEqual(value);
    expect(validWithJsonSchema(value), JSON.stringify(validators.get(String(value.type))?.errors)).toBe(true);
  });

  it.each(invalidVectors)('invalid: $name is rejected by zod and the generated JSON Schema', ({ value }) => {
    expect(() => parseEvent(value.event)).toThrow(EventValidationError);
    expect(validWithJsonSchema(value.event)).toBe(false);
  });
});

describe('parseEvent', () => {
  it('names the bad field and the type', () => {
    const bad = structuredClone(validVectors.find((v) => v.name === 'tryon-requested-minimal')!.value);
    (bad.data as Record<string, unknown>).seed = -1;
    expect(() => parseEvent(bad)).toThrow(/invalid dev\.proteus\.tryon\.requested event: data\.seed/);
  });

  it('lists the known types when the type is unknown', () => {
    expect(() => parseEvent({ type: 'nope' })).toThrow(/unknown event type "nope"; expected one of dev\.proteus\.segment\.requested/);
    expect(() => parseEvent(null)).toThrow(EventValidationError);
    expect(() => parseEvent('{"type":"dev.proteus.arbitrator.tick"}')).toThrow(/unknown event type/);
  });
});

describe('createEvent', () => {
  // it checks only what the caller gives; what it answers must still pass the whole contract
  it.each(validVectors)('answers what parseEvent accepts for the data of $name', ({ value }) => {
    const { type, data, id, subject } = value as { type: EventType; data: never; id: string; subject?: string };
    const made = createEvent(type, 'api', data, { id, ...(subject !== undefined ? { subject } : {}) });
    expect(isValidated(made)).toBe(true);
    expect(parseEvent(structuredClone(made))).toEqual(made);
    expect(made.data).toEqual(data);
  });

  it.each(invalidVectors.filter((v) => (v.value.event as { data?: unknown }).data !== undefined))(
    'refuses the data of $name exactly when the whole contract does, given a good envelope',
    ({ value }) => {
      const { type, data } = value.event as { type: EventType; data: never };
      const envelope = validVectors.find((v) => v.value.type === type)?.value;
      if (!envelope) return expect(() => createEvent(type, 'api', data)).toThrow(/unknown event type/);
      const whole = () => parseEvent({ ...envelope, data });
      let contractRefuses = false;
      try {
        whole();
      } catch {
        contractRefuses = true;
      }
      if (contractRefuses) expect(() => createEvent(type, 'api', data)).toThrow(EventValidationError);
      else expect(createEvent(type, 'api', data).data).toEqual(whole().data);
    },
  );

  it('names the bad field, and checks the id and subject it is given', () => {
    const tick = { seq: 1, skipped: 0 };
    expect(() => createEvent('dev.proteus.arbitrator.tick', 'api', { seq: -1, skipped: 0 })).toThrow(/invalid dev\.proteus\.arbitrator\.tick event: data\.seq/);
    expect(() => createEvent('dev.proteus.arbitrator.tick', 'api', { ...tick, extra: 1 } as never)).toThrow(EventValidationError);
    expect(() => createEvent('dev.proteus.arbitrator.tick', 'api', tick, { subject: '' })).toThrow(/subject/);
    expect(() => createEvent('dev.proteus.arbitrator.tick', 'api', tick, { id: 'x'.repeat(257) })).toThrow(/id/);
    expect(() => createEvent('dev.proteus.nope' as EventType, 'api', tick as never)).toThrow(/unknown event type/);
    expect(createEvent('dev.proteus.arbitrator.tick', 'api', tick, { subject: 's' }).subject).toBe('s');
  });

  // the api's job requests: data built from values checked by the contract's own field schemas
  it.each(validVectors)('with dataChecked, answers the same event for the data of $name, still checking the id and subject', ({ value }) => {
    const { type, data, id, subject } = value as { type: EventType; data: never; id: string; subject?: string };
    const options = { id, ...(subject !== undefined ? { subject } : {}) };
    const made = createEvent(type, 'api', data, { ...options, dataChecked: true });
    expect(isValidated(made)).toBe(true);
    expect({ ...made, time: '' }).toEqual({ ...createEvent(type, 'api', data, options), time: '' });
    expect(parseEvent(structuredClone(made))).toEqual(made);
    expect(() => createEvent(type, 'api', data, { id: '', dataChecked: true })).toThrow(/id/);
    expect(() => createEvent(type, 'api', data, { subject: '', dataChecked: true })).toThrow(/subject/);
  });
});
