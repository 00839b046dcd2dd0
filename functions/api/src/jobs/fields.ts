/** Body fields shared by the VTON and job routes, checked against the eventing contract. */
import { engines, keys, poseLandmarks, segmentPurposes } from '@proteus/eventing';
import { z } from 'zod';

/** A well-formed object key (`users/<userId>/<kind>/<id>.<ext>`); whose it is gets checked later (404, never 403). */
export const objectKeyField = z.string().max(512).regex(keys.objectKeyPattern, { error: 'expected an object key users/<userId>/<kind>/<id>.<ext>' });

/** Ids of VTONs and jobs as they appear in bodies. */
export const idField = z.string().regex(keys.idPattern, { error: 'expected an id (letters, digits, _ and -, at most 128)' });

export const purposeField = z.enum(segmentPurposes);
export const landmarksField = poseLandmarks;
export const seedField = z
  .int()
  .min(0)
  .max(2 ** 32 - 1);
export const stepsField = z.int().min(1).max(100);
export const engineField = z.enum(engines);
export const deadlineField = z.iso.datetime({ offset: true });

/** The folder of a key: garment, cloth_clean, person, mask or results. */
export const kindOfKey = (key: string) => key.split('/')[2] as keys.ObjectKind;
