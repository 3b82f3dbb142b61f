//! The random number generator and the byte-level mutations applied to seeds.
//!
//! Every mutation is a pure function of the input and the generator's state, so an
//! input is reproduced from the fuzzing seed and its execution number alone.

/// SplitMix64: small, fast, and the same numbers on every machine.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator whose stream is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        let mut rng = Self(seed);
        rng.next_u64();
        rng
    }

    /// The generator of execution `exec` of a run seeded with `seed`.
    pub fn for_exec(seed: u64, exec: u64) -> Self {
        Self::new(seed ^ exec.wrapping_mul(0xD6E8_FEB8_6659_FD93).rotate_left(17))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`0` when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// True with probability `1 / n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// A random byte.
    pub fn byte(&mut self) -> u8 {
        self.next_u64() as u8
    }
}

/// Bytes that matter to the formats fuzzed here (separators, quotes, brackets, digits,
/// UTF-8 lead and continuation bytes, controls).
const INTERESTING_BYTES: &[u8] = &[
    0, 1, 0x7f, 0x80, 0xff, 0xc3, 0xbf, 0xef, 0xbb, b'"', b',', b';', b'\t', b'\n', b'\r', b' ',
    b'{', b'}', b'[', b']', b':', b'-', b'+', b'.', b'e', b'0', b'1', b'9', b'\\',
];

/// Integers that break length and offset arithmetic.
const INTERESTING_INTEGERS: &[u64] = &[
    0,
    1,
    2,
    7,
    8,
    0x7f,
    0x80,
    0xff,
    0x100,
    0x7fff,
    0xffff,
    0x1_0000,
    100_000_000, // safetensors' header-size limit
    100_000_001,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    u64::MAX,
    u64::MAX - 7,
];

/// Decimal texts that break number parsing and size arithmetic.
pub const INTERESTING_NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "2",
    "255",
    "256",
    "65536",
    "2147483648",
    "4294967295",
    "4294967296",
    "9007199254740993",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999",
    "1e39",
    "-1e39",
    "3.4028236e38",
    "3.4028235e38",
    "1e308",
    "1e309",
    "-1e309",
    "1e-45",
    "1e-320",
    "4.9e-324",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "infinity",
    "0.1",
    "1.5",
    "1e5",
    "0x10",
    "1_000",
    "",
    ".",
    "e",
    "-",
];

/// What a mutation may draw on besides the input itself.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The corpus, for splicing.
    pub corpus: &'a [Vec<u8>],
    /// Tokens of the target's format (names, keywords, dtypes).
    pub dictionary: &'a [&'a [u8]],
    /// The largest input the target takes.
    pub max_len: usize,
}

/// Number of distinct byte-level mutations ([`mutate_once`] picks among them).
pub const KINDS: usize = 14;

/// Applies one random byte-level mutation to `data`.
pub fn mutate_once(data: &mut Vec<u8>, rng: &mut Rng, cx: &Context<'_>) {
    let kind = rng.below(KINDS);
    apply(kind, data, rng, cx);
    if data.len() > cx.max_len {
        data.truncate(cx.max_len);
    }
}

/// A random position in `0..=len`.
fn pos(rng: &mut Rng, len: usize) -> usize {
    rng.below(len + 1)
}

/// A random range inside `0..len`, of length at least 1 when `len > 0`; chunks are
/// mostly short, sometimes long.
fn range(rng: &mut Rng, len: usize) -> std::ops::Range<usize> {
    if len == 0 {
        return 0..0;
    }
    let max = if rng.one_in(4) { len } else { len.min(16) };
    let n = 1 + rng.below(max);
    let start = rng.below(len - n + 1);
    start..start + n
}

fn apply(kind: usize, data: &mut Vec<u8>, rng: &mut Rng, cx: &Context<'_>) {
    let len = data.len();
    match kind {
        // Flip one bit.
        0 if len > 0 => {
            let i = rng.below(len);
            data[i] ^= 1 << rng.below(8);
        }
        // Set a byte to a random or an interesting value.
        1 if len > 0 => {
            let i = rng.below(len);
            data[i] = if rng.one_in(2) {
                rng.byte()
            } else {
                *rng.pick(INTERESTING_BYTES)
            };
        }
        // Add or subtract a small amount.
        2 if len > 0 => {
            let i = rng.below(len);
            let delta = 1 + rng.below(16) as u8;
            data[i] = if rng.one_in(2) {
                data[i].wrapping_add(delta)
            } else {
                data[i].wrapping_sub(delta)
            };
        }
        // Truncate: drop the tail (or, rarely, the head).
        3 => {
            let at = pos(rng, len);
            if rng.one_in(8) {
                data.drain(..at);
            } else {
                data.truncate(at);
            }
        }
        // Erase a chunk.
        4 => {
            let r = range(rng, len);
            data.drain(r);
        }
        // Insert random or repeated bytes.
        5 => {
            let at = pos(rng, len);
            let most = if rng.one_in(8) { 256 } else { 8 };
            let n = 1 + rng.below(most);
            let bytes: Vec<u8> = if rng.one_in(2) {
                vec![*rng.pick(INTERESTING_BYTES); n]
            } else {
                (0..n).map(|_| rng.byte()).collect()
            };
            data.splice(at..at, bytes);
        }
        // Duplicate a chunk somewhere else, sometimes many times.
        6 if len > 0 => {
            let r = range(rng, len);
            let chunk = data[r].to_vec();
            let times = if rng.one_in(8) { 1 + rng.below(64) } else { 1 };
            let at = pos(rng, len);
            let repeated = chunk.repeat(times);
            data.splice(at..at, repeated);
        }
        // Overwrite with an interesting integer (a length or offset field), little- or
        // big-endian, 1, 2, 4 or 8 bytes; often at offset 0, where length prefixes live.
        7 => {
            let width = 1 << rng.below(4);
            let mut value = *rng.pick(INTERESTING_INTEGERS);
            if rng.one_in(4) {
                // Relative to the input's own size.
                value = (len as u64)
                    .wrapping_add(rng.below(17) as u64)
                    .wrapping_sub(8);
            }
            let bytes = if rng.one_in(4) {
                value.to_be_bytes()[8 - width..].to_vec()
            } else {
                value.to_le_bytes()[..width].to_vec()
            };
            let at = if rng.one_in(3) { 0 } else { pos(rng, len) };
            let end = (at + width).min(len);
            data.splice(at..end, bytes);
        }
        // Replace a decimal number in the text with an interesting one, or nudge it.
        8 => replace_number(data, rng),
        // Insert a dictionary token.
        9 if !cx.dictionary.is_empty() => {
            let token = *rng.pick(cx.dictionary);
            let at = pos(rng, len);
            data.splice(at..at, token.iter().copied());
        }
        // Replace one occurrence of a dictionary token by another.
        10 if !cx.dictionary.is_empty() => {
            let from = *rng.pick(cx.dictionary);
            let to = *rng.pick(cx.dictionary);
            if let Some(at) = find_nth(data, from, rng) {
                data.splice(at..at + from.len(), to.iter().copied());
            }
        }
        // Splice: a prefix of this input and a suffix of another corpus entry.
        11 if !cx.corpus.is_empty() => {
            let other = rng.pick(cx.corpus);
            let cut = pos(rng, len);
            let from = pos(rng, other.len());
            data.truncate(cut);
            data.extend_from_slice(&other[from..]);
        }
        // Swap two chunks.
        12 if len > 1 => {
            let a = range(rng, len / 2);
            let b = range(rng, len - len / 2);
            let b = b.start + len / 2..b.end + len / 2;
            let (first, second) = (data[a.clone()].to_vec(), data[b.clone()].to_vec());
            data.splice(b, first);
            data.splice(a, second);
        }
        // Insert an interesting number as text.
        13 => {
            let at = pos(rng, len);
            let text = *rng.pick(INTERESTING_NUMBERS);
            data.splice(at..at, text.bytes());
        }
        // A mutation that did not apply (empty input, no dictionary): grow instead.
        _ => data.push(*rng.pick(INTERESTING_BYTES)),
    }
}

/// The start of a random occurrence of `needle` in `data`.
fn find_nth(data: &[u8], needle: &[u8], rng: &mut Rng) -> Option<usize> {
    if needle.is_empty() || needle.len() > data.len() {
        return None;
    }
    let hits: Vec<usize> = data
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect();
    (!hits.is_empty()).then(|| *rng.pick(&hits))
}

/// Replaces a run of digits (with its sign, fraction and exponent) by an interesting
/// number, or by itself plus or minus a little, or times two.
fn replace_number(data: &mut Vec<u8>, rng: &mut Rng) {
    let starts: Vec<usize> = (0..data.len())
        .filter(|&i| data[i].is_ascii_digit() && (i == 0 || !data[i - 1].is_ascii_digit()))
        .collect();
    if starts.is_empty() {
        return;
    }
    let mut start = *rng.pick(&starts);
    if start > 0 && data[start - 1] == b'-' {
        start -= 1;
    }
    let mut end = start + 1;
    while end < data.len() && matches!(data[end], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') {
        end += 1;
    }
    let text = String::from_utf8_lossy(&data[start..end]).into_owned();
    let replacement = match (rng.below(3), text.parse::<u64>()) {
        (0, Ok(n)) => match rng.below(4) {
            0 => n.wrapping_add(1 + rng.below(8) as u64).to_string(),
            1 => n.wrapping_sub(1 + rng.below(8) as u64).to_string(),
            2 => n.wrapping_mul(2).to_string(),
            _ => (n / 2).to_string(),
        },
        _ => rng.pick(INTERESTING_NUMBERS).to_string(),
    };
    data.splice(start..end, replacement.bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_fixed_by_its_seed() {
        let a: Vec<u64> = (0..4).map(|_| Rng::new(7).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        let mut r = Rng::new(7);
        let b: Vec<u64> = (0..4).map(|_| r.next_u64()).collect();
        assert_ne!(b[0], b[1]);
        assert_ne!(
            Rng::for_exec(1, 2).next_u64(),
            Rng::for_exec(1, 3).next_u64()
        );
        let mut r = Rng::new(3);
        let mut seen = [0usize; 5];
        for _ in 0..5000 {
            seen[r.below(5)] += 1;
        }
        // Each bucket expects 1000; 800 is 6.3 standard deviations (σ ≈ 28) away.
        assert!(seen.iter().all(|&n| n > 800), "{seen:?}");
    }

    #[test]
    fn every_mutation_respects_the_length_limit_and_is_deterministic() {
        let corpus = vec![b"a,b\n1,2\n".to_vec(), vec![0u8; 40]];
        let cx = Context {
            corpus: &corpus,
            dictionary: &[b"dtype", b"F32"],
            max_len: 64,
        };
        for kind in 0..KINDS {
            for seed in 0..200 {
                let run = || {
                    let mut rng = Rng::new(seed);
                    let mut data = b"x,y\n3.5,-2\n{\"dtype\":\"F32\"}".to_vec();
                    apply(kind, &mut data, &mut rng, &cx);
                    data.truncate(cx.max_len);
                    data
                };
                let (a, b) = (run(), run());
                assert_eq!(a, b, "kind {kind} seed {seed}");
                assert!(a.len() <= 64);
            }
        }
        // Mutations of an empty input do not panic either.
        for seed in 0..500 {
            let mut data = Vec::new();
            mutate_once(&mut data, &mut Rng::new(seed), &cx);
        }
    }

    #[test]
    fn numbers_are_found_and_replaced() {
        let mut changed = 0;
        for seed in 0..100 {
            let mut data = b"shape:[12,-3.5e2]".to_vec();
            replace_number(&mut data, &mut Rng::new(seed));
            assert!(
                data.starts_with(b"shape:["),
                "{}",
                String::from_utf8_lossy(&data)
            );
            changed += usize::from(data != b"shape:[12,-3.5e2]");
        }
        assert!(changed > 80, "{changed}");
    }
}
