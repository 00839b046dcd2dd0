import { describe, expect, it } from 'vitest';
import { CLASS, LABELS, parseClasses } from './labels.ts';

describe('labels', () => {
  it('has the 18 classes of segformer_b2_clothes in its order', () => {
    expect(LABELS).toHaveLength(18);
    expect([CLASS['Upper-clothes'], CLASS.Skirt, CLASS.Pants, CLASS.Dress, CLASS.Scarf, CLASS.Face, CLASS['Left-arm']]).toEqual([4, 5, 6, 7, 17, 11, 14]);
  });

  it('parses a list of selectable classes, sorted and without repeats', () => {
    expect(parseClasses('4')).toEqual([4]);
    expect(parseClasses(' 17, 4,6,4 ')).toEqual([4, 6, 17]);
  });

  it.each([
    ['', 'expected class ids from 4 (Upper-clothes), 5 (Skirt), 6 (Pants), 7 (Dress), 17 (Scarf), got nothing'],
    ['11', 'class "11" is not one of 4 (Upper-clothes), 5 (Skirt), 6 (Pants), 7 (Dress), 17 (Scarf)'],
    ['4,x', 'class "x" is not one of'],
    ['4.0', 'class "4.0" is not one of'],
  ])('refuses %j', (text, message) => {
    expect(() => parseClasses(text)).toThrow(message);
  });
});
