//! The skip-gram negative-sampling update, written for the CPU's vector units: one call
//! trains a whole sentence, compiled for AVX-512, AVX2 and the baseline and dispatched at
//! run time (`ferrograd_linalg::simd_kernel!`).

use ferrograd_linalg::simd_kernel;

/// The training loop's random numbers: SplitMix64, small enough to inline into the
/// vectorised kernel (seed it from the crate's seeded generator).
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    #[inline(always)]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Draws negative words from the unigram distribution raised to a power, in O(1) a draw
/// (Walker's alias method: exact probabilities, one random number a draw).
#[derive(Debug, Clone)]
pub struct NegativeSampler {
    /// Acceptance threshold of each column, scaled to `u32`.
    accept: Vec<u32>,
    /// The word a rejected draw of each column falls to.
    alias: Vec<u32>,
}

impl NegativeSampler {
    /// A sampler drawing word `i` with probability `countᵢ^power / Σ countⱼ^power`.
    /// `counts` must not be empty.
    pub fn new(counts: &[u64], power: f64) -> Self {
        let n = counts.len();
        let weights: Vec<f64> = counts.iter().map(|&c| (c as f64).powf(power)).collect();
        let total: f64 = weights.iter().sum();
        let mut scaled: Vec<f64> = weights.iter().map(|w| w * n as f64 / total).collect();
        let mut accept = vec![u32::MAX; n];
        let mut alias: Vec<u32> = (0..n as u32).collect();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) =
            (0..n).partition(|&i| scaled[i] < 1.0);
        while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
            accept[s] = (scaled[s] * f64::from(u32::MAX)) as u32;
            alias[s] = l as u32;
            scaled[l] -= 1.0 - scaled[s];
            if scaled[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        // What is left is 1 up to rounding: always accept.
        Self { accept, alias }
    }

    /// One draw.
    #[inline(always)]
    pub fn sample(&self, rng: &mut Rng) -> u32 {
        let r = rng.next_u64();
        let column = (((r >> 32) * self.accept.len() as u64) >> 32) as usize;
        if (r as u32) < self.accept[column] {
            column as u32
        } else {
            self.alias[column]
        }
    }
}

/// The fixed inputs of a sentence update.
#[derive(Debug, Clone, Copy)]
pub struct Setup<'a> {
    /// Vector size.
    pub dim: usize,
    /// Maximum distance of a context word.
    pub window: usize,
    /// Negative words per (center, context) pair.
    pub negative: usize,
    /// Whether the window shrinks to a uniform random `1..=window` per center word.
    pub shrink_windows: bool,
    /// The negative-word sampler.
    pub sampler: &'a NegativeSampler,
}

#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 16;
    let mut acc = [0.0f32; LANES];
    let mut ca = a.chunks_exact(LANES);
    let mut cb = b.chunks_exact(LANES);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for k in 0..LANES {
            acc[k] += x[k] * y[k];
        }
    }
    let mut tail = 0.0;
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        tail += x * y;
    }
    // Pairwise sum of the lanes.
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for k in 0..width {
            acc[k] += acc[k + width];
        }
    }
    acc[0] + tail
}

/// `y += a·x`.
#[inline(always)]
fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

/// The logistic function `1 / (1 + e^(−x))`.
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// One (center, context) pair: the positive target `context`, then `negative` draws
/// (a draw equal to `context` is skipped, as word2vec does). Output vectors are updated
/// as each target is seen; the center's input vector once at the end, by the sum of the
/// gradients — word2vec's order of updates, which for distinct targets is one exact SGD
/// step on `−ln σ(u_o·v_c) − Σₖ ln σ(−u_k·v_c)`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn pair(
    center: &mut [f32],
    output: &mut [f32],
    context: u32,
    setup: &Setup<'_>,
    alpha: f32,
    work: &mut [f32],
    rng: &mut Rng,
) {
    let dim = setup.dim;
    work.fill(0.0);
    for d in 0..=setup.negative {
        let (target, label) = if d == 0 {
            (context, 1.0f32)
        } else {
            let t = setup.sampler.sample(rng);
            if t == context {
                continue;
            }
            (t, 0.0)
        };
        let row = &mut output[target as usize * dim..(target as usize + 1) * dim];
        let g = (label - sigmoid(dot(center, row))) * alpha;
        axpy(work, g, row);
        axpy(row, g, center);
    }
    axpy(center, 1.0, work);
}

simd_kernel! {
    /// Trains on one sentence of word ids (already sub-sampled): every word predicts each
    /// word within its (shrunk) window. Returns the number of (center, context) pairs.
    pub fn train_sentence(
        sentence: &[u32],
        input: &mut [f32],
        output: &mut [f32],
        setup: &Setup<'_>,
        alpha: f32,
        work: &mut [f32],
        rng: &mut Rng,
    ) -> u64 {
        let dim = setup.dim;
        let mut pairs = 0u64;
        for (i, &word) in sentence.iter().enumerate() {
            let reach = if setup.shrink_windows {
                // b uniform in 0..window, reach = window − b in 1..=window.
                let b = (((rng.next_u64() >> 32) * setup.window as u64) >> 32) as usize;
                setup.window - b
            } else {
                setup.window
            };
            let lo = i.saturating_sub(reach);
            let hi = (i + reach + 1).min(sentence.len());
            let center = &mut input[word as usize * dim..(word as usize + 1) * dim];
            for (j, &context) in sentence[lo..hi].iter().enumerate() {
                if lo + j == i {
                    continue;
                }
                pair(center, output, context, setup, alpha, work, rng);
                pairs += 1;
            }
        }
        pairs
    }
}

/// One (center, context, given negatives) update with exactly the arithmetic of the
/// training kernel, for tests and for comparing with the tensor-stack step: returns
/// nothing, updates `input`'s center row and `output`'s target rows in place.
#[allow(clippy::too_many_arguments)]
pub fn train_pair_with_negatives(
    input: &mut [f32],
    output: &mut [f32],
    dim: usize,
    center: u32,
    context: u32,
    negatives: &[u32],
    alpha: f32,
) {
    let mut work = vec![0.0f32; dim];
    let v = &mut input[center as usize * dim..(center as usize + 1) * dim];
    let targets = std::iter::once((context, 1.0f32)).chain(
        negatives
            .iter()
            .filter(|&&t| t != context)
            .map(|&t| (t, 0.0f32)),
    );
    for (target, label) in targets {
        let row = &mut output[target as usize * dim..(target as usize + 1) * dim];
        let g = (label - sigmoid(dot(v, row))) * alpha;
        axpy(&mut work, g, row);
        axpy(row, g, v);
    }
    axpy(v, 1.0, &work);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_sampler_matches_its_distribution() {
        let counts = [1000u64, 10, 300, 1, 0, 50];
        let sampler = NegativeSampler::new(&counts, 0.75);
        let weights: Vec<f64> = counts.iter().map(|&c| (c as f64).powf(0.75)).collect();
        let total: f64 = weights.iter().sum();
        let mut rng = Rng::new(3);
        let draws = 400_000;
        let mut seen = [0usize; 6];
        for _ in 0..draws {
            seen[sampler.sample(&mut rng) as usize] += 1;
        }
        for i in 0..counts.len() {
            let p = weights[i] / total;
            let expected = p * draws as f64;
            // Five binomial standard deviations (plus one draw for p = 0).
            let tolerance = 5.0 * (draws as f64 * p * (1.0 - p)).sqrt() + 1.0;
            assert!(
                (seen[i] as f64 - expected).abs() <= tolerance,
                "word {i}: {} draws, expected {expected:.0}",
                seen[i]
            );
        }
        assert_eq!(seen[4], 0);
    }

    #[test]
    fn dot_equals_a_plain_sum_up_to_rounding() {
        for len in [0, 1, 15, 16, 17, 100, 300] {
            let a: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..len).map(|i| (i as f32 * 0.11).cos()).collect();
            let plain: f64 = a.iter().zip(&b).map(|(x, y)| f64::from(x * y)).sum();
            assert!((f64::from(dot(&a, &b)) - plain).abs() < 1e-4, "len {len}");
        }
    }
}
