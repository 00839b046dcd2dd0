/**
 * The classes of segformer_b2_clothes (the ATR label set, in the model's order) and the groups
 * the two purposes use. One place, so a class id never appears as a bare number elsewhere.
 */

export const LABELS = [
  'Background',
  'Hat',
  'Hair',
  'Sunglasses',
  'Upper-clothes',
  'Skirt',
  'Pants',
  'Dress',
  'Belt',
  'Left-shoe',
  'Right-shoe',
  'Face',
  'Left-leg',
  'Right-leg',
  'Left-arm',
  'Right-arm',
  'Bag',
  'Scarf',
] as const;

export const CLASS = Object.fromEntries(LABELS.map((name, id) => [name, id])) as { [K in (typeof LABELS)[number]]: number };

/** Garment classes a caller may ask to keep: upper clothes (the default), skirt, pants, dress, scarf. */
export const SELECTABLE_CLASSES = [CLASS['Upper-clothes'], CLASS.Skirt, CLASS.Pants, CLASS.Dress, CLASS.Scarf] as const;
export const DEFAULT_CLASSES = [CLASS['Upper-clothes']];

/** A person's body: never part of a cut-out garment (a hand over the shirt stays a hole). */
export const BODY_CLASSES = [CLASS.Hair, CLASS.Face, CLASS['Left-leg'], CLASS['Right-leg'], CLASS['Left-arm'], CLASS['Right-arm']];

/** The person mask: what an upper-body try-on repaints. */
export const UPPER_BODY_CLASSES = [CLASS['Upper-clothes'], CLASS.Scarf];
export const ARM_CLASSES = [CLASS['Left-arm'], CLASS['Right-arm']];
/** What the person mask never covers: the head, and the lower body an upper garment leaves as it is. */
export const PROTECTED_CLASSES = [
  CLASS.Hat,
  CLASS.Hair,
  CLASS.Sunglasses,
  CLASS.Face,
  CLASS.Skirt,
  CLASS.Pants,
  CLASS.Belt,
  CLASS['Left-shoe'],
  CLASS['Right-shoe'],
  CLASS['Left-leg'],
  CLASS['Right-leg'],
];

export const labelName = (id: number) => LABELS[id] ?? `class ${id}`;

/** Parses "4,6" into selectable class ids; throws a RangeError naming what is wrong. */
export function parseClasses(text: string): number[] {
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (parts.length === 0) throw new RangeError(`expected class ids from ${describeSelectable()}, got nothing`);
  const ids = parts.map((p) => {
    const id = /^\d+$/.test(p) ? Number(p) : Number.NaN;
    if (!(SELECTABLE_CLASSES as readonly number[]).includes(id)) throw new RangeError(`class ${JSON.stringify(p)} is not one of ${describeSelectable()}`);
    return id;
  });
  return [...new Set(ids)].sort((a, b) => a - b);
}

export const describeSelectable = () => SELECTABLE_CLASSES.map((id) => `${id} (${labelName(id)})`).join(', ');
