import { createHash } from 'node:crypto';

/**
 * Which member should own each partition: rendezvous (highest random weight)
 * hashing over the live members. Every instance computes the same table from
 * the same member list, and a member joining or leaving moves only the
 * partitions it gains or loses (about 1/n of them), not a reshuffle.
 */
export function assignPartitions(members: readonly string[], partitions: number): (string | undefined)[] {
  const owners = new Array<string | undefined>(partitions).fill(undefined);
  if (members.length === 0) return owners;
  const sorted = [...new Set(members)].sort();
  for (let p = 0; p < partitions; p++) {
    let best = -1;
    let owner: string | undefined;
    for (const m of sorted) {
      const w = weight(m, p);
      if (w > best) {
        best = w;
        owner = m;
      }
    }
    owners[p] = owner;
  }
  return owners;
}

/** The partitions `member` should own. */
export function partitionsOf(member: string, members: readonly string[], partitions: number): number[] {
  const owners = assignPartitions(members, partitions);
  const mine: number[] = [];
  owners.forEach((o, p) => {
    if (o === member) mine.push(p);
  });
  return mine;
}

function weight(member: string, partition: number): number {
  return createHash('sha256').update(`${member}\u0000${partition}`).digest().readUInt32BE(0);
}
