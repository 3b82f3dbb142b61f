//! Applying BPE merges to one word: repeatedly merge the adjacent pair of lowest rank,
//! the leftmost one among equals, until no pair has a rank.
//!
//! Short words (the common case) use a rank array scanned for its minimum, which is the
//! fastest for a handful of symbols. Longer ones use a binary heap of candidate merges
//! over a doubly linked list of symbols, so a word of n symbols costs O(n log n) (each
//! merge removes one symbol and pushes at most two candidates), not the O(n²) of
//! rescanning: a 100,000-letter run or a 1 MB line stays fast.

use crate::hash::{FxHashMap, pair_key};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Words up to this many symbols use the scan; longer ones the heap.
const SCAN_MAX: usize = 48;
const NONE: u32 = u32::MAX;

/// Merge table: pair of ids → (rank, id of the merged token).
#[derive(Debug, Clone, Default)]
pub(crate) struct MergeTable {
    map: FxHashMap<u64, (u32, u32)>,
}

impl MergeTable {
    pub(crate) fn with_capacity(n: usize) -> Self {
        let mut map = FxHashMap::default();
        map.reserve(n);
        MergeTable { map }
    }

    /// Adds (or replaces) a merge.
    pub(crate) fn insert(&mut self, a: u32, b: u32, rank: u32, merged: u32) {
        self.map.insert(pair_key(a, b), (rank, merged));
    }

    #[inline]
    fn get(&self, a: u32, b: u32) -> Option<(u32, u32)> {
        self.map.get(&pair_key(a, b)).copied()
    }

    #[inline]
    fn rank(&self, a: u32, b: u32) -> u32 {
        self.get(a, b).map_or(NONE, |(r, _)| r)
    }

    /// Merges `ids` in place; `starts`, when given, holds each symbol's start offset and is
    /// kept in step (a merged symbol starts where its left part started).
    pub(crate) fn apply(&self, ids: &mut Vec<u32>, starts: Option<&mut Vec<u32>>) {
        if ids.len() < 2 {
            return;
        }
        if ids.len() <= SCAN_MAX {
            self.apply_scan(ids, starts);
        } else {
            self.apply_heap(ids, starts);
        }
    }

    fn apply_scan(&self, ids: &mut Vec<u32>, mut starts: Option<&mut Vec<u32>>) {
        let mut ranks = [NONE; SCAN_MAX];
        let n = ids.len();
        for i in 0..n - 1 {
            ranks[i] = self.rank(ids[i], ids[i + 1]);
        }
        let mut len = n;
        loop {
            let mut best = NONE;
            let mut at = 0;
            for (i, &r) in ranks[..len - 1].iter().enumerate() {
                if r < best {
                    best = r;
                    at = i;
                }
            }
            if best == NONE {
                break;
            }
            let merged = self.get(ids[at], ids[at + 1]).map_or(ids[at], |(_, m)| m);
            ids[at] = merged;
            ids.remove(at + 1);
            if let Some(s) = starts.as_deref_mut() {
                s.remove(at + 1);
            }
            ranks.copy_within(at + 2..len, at + 1);
            len -= 1;
            ranks[len - 1] = NONE;
            if at + 1 < len {
                ranks[at] = self.rank(ids[at], ids[at + 1]);
            } else {
                ranks[at] = NONE;
            }
            if at > 0 {
                ranks[at - 1] = self.rank(ids[at - 1], ids[at]);
            }
            if len < 2 {
                break;
            }
        }
    }

    fn apply_heap(&self, ids: &mut Vec<u32>, starts: Option<&mut Vec<u32>>) {
        let n = ids.len();
        let mut prev: Vec<u32> = (0..n as u32).map(|i| i.wrapping_sub(1)).collect();
        let mut next: Vec<u32> = (1..=n as u32).collect();
        next[n - 1] = NONE;
        // Candidates `rank << 32 | left position`, smallest first: lowest rank, then
        // leftmost. An entry is stale when its left symbol died, has no right neighbour
        // any more, or now forms a pair of another rank (a pair of the same rank is the
        // same pair, so it is still a right merge to make).
        let initial: Vec<Reverse<u64>> = (0..n - 1)
            .filter_map(|i| {
                let (rank, _) = self.get(ids[i], ids[i + 1])?;
                Some(Reverse((u64::from(rank) << 32) | i as u64))
            })
            .collect();
        let mut heap = BinaryHeap::from(initial);
        while let Some(Reverse(entry)) = heap.pop() {
            let (rank, left) = ((entry >> 32) as u32, entry as u32);
            let l = left as usize;
            let right = next[l];
            if ids[l] == NONE || right == NONE {
                continue;
            }
            let r = right as usize;
            let Some((current, merged)) = self.get(ids[l], ids[r]) else {
                continue;
            };
            if current != rank {
                continue;
            }
            ids[l] = merged;
            ids[r] = NONE;
            let after = next[r];
            next[l] = after;
            if after != NONE {
                prev[after as usize] = left;
                if let Some((rk, _)) = self.get(merged, ids[after as usize]) {
                    heap.push(Reverse((u64::from(rk) << 32) | u64::from(left)));
                }
            }
            let before = prev[l];
            if before != NONE
                && let Some((rk, _)) = self.get(ids[before as usize], merged)
            {
                heap.push(Reverse((u64::from(rk) << 32) | u64::from(before)));
            }
        }
        let mut w = 0;
        let mut starts = starts;
        for i in 0..n {
            if ids[i] != NONE {
                ids[w] = ids[i];
                if let Some(s) = starts.as_deref_mut() {
                    s[w] = s[i];
                }
                w += 1;
            }
        }
        ids.truncate(w);
        if let Some(s) = starts {
            s.truncate(w);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook definition, for comparison: rescan for the lowest-ranked leftmost pair.
    fn naive(table: &MergeTable, ids: &[u32]) -> Vec<u32> {
        let mut ids = ids.to_vec();
        loop {
            let best = (0..ids.len().saturating_sub(1))
                .filter_map(|i| table.get(ids[i], ids[i + 1]).map(|(r, m)| (r, i, m)))
                .min();
            match best {
                Some((_, i, m)) => {
                    ids[i] = m;
                    ids.remove(i + 1);
                }
                None => return ids,
            }
        }
    }

    #[test]
    fn scan_and_heap_agree_with_the_definition() {
        // Alphabet 0..4; merges create 4.. in rank order.
        let mut t = MergeTable::default();
        let merges = [
            (0, 0),
            (1, 2),
            (4, 4),
            (0, 1),
            (5, 3),
            (7, 6),
            (4, 0),
            (3, 3),
        ];
        for (rank, &(a, b)) in merges.iter().enumerate() {
            t.insert(a, b, rank as u32, 4 + rank as u32);
        }
        let mut seed = 12345u64;
        for len in [0usize, 1, 2, 3, 10, 47, 48, 49, 200, 1000] {
            for _ in 0..20 {
                let word: Vec<u32> = (0..len)
                    .map(|_| {
                        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                        ((seed >> 33) % 4) as u32
                    })
                    .collect();
                let expected = naive(&t, &word);
                let mut a = word.clone();
                let mut starts: Vec<u32> = (0..len as u32).collect();
                t.apply(&mut a, Some(&mut starts));
                assert_eq!(a, expected, "len {len}");
                assert_eq!(starts.len(), a.len());
                let mut b = word.clone();
                if b.len() >= 2 {
                    t.apply_heap(&mut b, None);
                }
                assert_eq!(b, expected, "heap, len {len}");
            }
        }
    }
}
