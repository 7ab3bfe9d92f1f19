/**
 * A seeded, stratified sample of a sequence visited once, in order, whose length is known
 * before the visit: `stratifiedPicker(population, maxRows, seed)` answers, for each element in
 * turn, whether it is in the sample.
 *
 * Contract: when `population <= maxRows` every element is kept and no random number is drawn.
 * Otherwise the sequence is cut into `maxRows` consecutive blocks of equal length (within one
 * element) and exactly one element of each block, uniformly at random, is kept: every element
 * has the same chance `maxRows / population` of being kept, and every stretch of the sequence
 * (of time, when it is in time order) holds its share of the sample, within one element a block.
 * The same population, cap and seed keep the same elements on every machine.
 */
import { Random } from './random';

export function stratifiedPicker(population: number, maxRows: number, seed: number): () => boolean {
  if (!Number.isInteger(population) || population < 0) throw new Error(`a sample's population must be a non-negative integer, got ${population}`);
  if (!Number.isInteger(maxRows) || maxRows < 1) throw new Error(`a sample's size must be a positive integer, got ${maxRows}`);
  if (population <= maxRows) return () => true;
  const random = new Random(seed);
  // Block b holds the positions [start(b), start(b + 1)); b * population stays below 2^53 for any real library.
  const start = (block: number): number => Math.floor((block * population) / maxRows);
  let position = -1;
  let block = -1;
  let chosen = -1;
  return () => {
    position++;
    while (block + 1 < maxRows && position >= start(block + 1)) {
      block++;
      chosen = start(block) + random.int(start(block + 1) - start(block));
    }
    return position === chosen;
  };
}
