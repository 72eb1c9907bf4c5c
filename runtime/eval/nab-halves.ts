/**
 * The fixed split of the NAB corpus that the detector's defaults were tuned
 * on (runtime/eval/PROTOCOL.md lists both halves): within each category, in
 * NAB's sorted order, the 1st, 3rd, 5th... file is in the tuning half, the
 * others in the held-out half. A rule rather than a random draw, so it is
 * the same for every copy of the corpus and balanced across categories.
 */
export type NabHalf = 'tuning' | 'held-out';

export function nabHalf(keys: readonly string[], key: string): NabHalf {
  const category = key.split('/')[0]!;
  const inCategory = keys.filter((k) => k.split('/')[0] === category).sort();
  return inCategory.indexOf(key) % 2 === 0 ? 'tuning' : 'held-out';
}
