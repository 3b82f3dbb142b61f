//! Rotary position embedding (RoPE, the book's §4.4): each pair of features of a query or
//! key vector is rotated by an angle proportional to the token's position, so the dot
//! product of a query and a key depends on their positions only through the difference.
//!
//! Two pairings are in use. The book's (and its notebook's) *interleaved* pairs
//! `(x[2i], x[2i+1])`, and the *half-split* pairs `(x[i], x[i + d/2])` of Llama-style
//! checkpoints (Hugging Face's `rotate_half`). Both rotate pair `i` by
//! `position · θ_i` with `θ_i = base^(−2i/d)` (the book's `θ_p = 10000^(−2(p−1)/d)`,
//! `p = i + 1`), computed in the element type `T` (the notebook always computes its angles
//! in float32, so an f64 model's angles are the more precise by ~1e-7 relative).
//!
//! [`Rope::apply`] is one fused pass with its own backward (the rotation by the opposite
//! angle), over tensors `[..., T, n·d]` holding `n` heads of `d` features side by side, so
//! the queries of every head are rotated in one call on the projection's output.

use crate::error::{NnError, Result, shape_of};
use ferrograd_tensor::{BackwardOp, Scalar, Tensor, num_threads, pool, simd_kernel};

/// Which features are paired and rotated together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RopeStyle {
    /// `(x[2i], x[2i+1])`: the book's pairing (its notebook's `x[..., 0::2]`, `x[..., 1::2]`).
    #[default]
    Interleaved,
    /// `(x[i], x[i + d/2])`: Llama's and Hugging Face's (`rotate_half`).
    HalfSplit,
}

/// Rotary position embedding over heads of `head_dim` features.
///
/// The book's example: `q = [0.8, 0.6, 0.7, 0.3, 0.5, 0.4]` at position 100 becomes
/// ≈ `[0.9937, 0.1123, 0.2497, −0.7195, 0.4029, 0.4976]`:
///
/// ```
/// use ferrograd_nn::Rope;
/// use ferrograd_tensor::Tensor;
/// let q = Tensor::<f64>::from([[0.8, 0.6, 0.7, 0.3, 0.5, 0.4]]); // [T = 1, d = 6]
/// let rotated = Rope::new(6)?.apply(&q, &[100])?.to_vec();
/// let book = [0.9937, 0.1123, 0.2497, -0.7195, 0.4029, 0.4976];
/// assert!(rotated.iter().zip(book).all(|(a, b)| (a - b).abs() < 1e-4));
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rope {
    head_dim: usize,
    base: f64,
    style: RopeStyle,
}

impl Rope {
    /// The book's RoPE: interleaved pairs, base 10 000, over heads of `head_dim` features.
    ///
    /// # Errors
    /// [`NnError::InvalidArgument`] when `head_dim` is zero or odd (features are rotated
    /// in pairs).
    pub fn new(head_dim: usize) -> Result<Self> {
        if head_dim == 0 || !head_dim.is_multiple_of(2) {
            return Err(NnError::InvalidArgument {
                op: "Rope::new",
                reason: format!(
                    "the head dimension must be even and positive (features rotate in pairs), got {head_dim}"
                ),
            });
        }
        Ok(Self {
            head_dim,
            base: 10_000.0,
            style: RopeStyle::Interleaved,
        })
    }

    /// The same with another base θ (Llama 3 uses 500 000).
    ///
    /// # Errors
    /// [`NnError::InvalidArgument`] for a base that is not finite and above 1.
    pub fn with_base(mut self, base: f64) -> Result<Self> {
        if !(base.is_finite() && base > 1.0) {
            return Err(NnError::InvalidArgument {
                op: "Rope::with_base",
                reason: format!("the base must be finite and greater than 1, got {base}"),
            });
        }
        self.base = base;
        Ok(self)
    }

    /// The same with another pairing of features.
    pub fn with_style(mut self, style: RopeStyle) -> Self {
        self.style = style;
        self
    }

    /// Features per head.
    pub fn head_dim(&self) -> usize {
        self.head_dim
    }

    /// The base θ.
    pub fn base(&self) -> f64 {
        self.base
    }

    /// The pairing.
    pub fn style(&self) -> RopeStyle {
        self.style
    }

    /// `θ_i = 1 / base^(2i/d)` for `i = 0..d/2`, computed in `T` as the notebook does
    /// (`1.0 / (theta_base ** (2 * (p - 1) / d))` on float tensors).
    pub fn frequencies<T: Scalar>(&self) -> Vec<T> {
        let d = T::from_usize(self.head_dim);
        let base = T::from_f64(self.base);
        (0..self.head_dim / 2)
            .map(|i| T::ONE / base.powf(T::from_usize(2 * i) / d))
            .collect()
    }

    /// Cosines and sines of `position · θ_i`, `[positions.len(), d/2]` each, in `T`.
    fn tables<T: Scalar>(&self, positions: &[usize]) -> (Vec<T>, Vec<T>) {
        let theta = self.frequencies::<T>();
        let half = theta.len();
        let mut cos = Vec::with_capacity(positions.len() * half);
        let mut sin = Vec::with_capacity(positions.len() * half);
        for &p in positions {
            let p = T::from_usize(p);
            for &t in &theta {
                let angle = p * t;
                cos.push(angle.cos());
                sin.push(angle.sin());
            }
        }
        (cos, sin)
    }

    /// Rotates `x` `[..., T, n·head_dim]` (`n` heads side by side): position
    /// `positions[t]` for the rows of time step `t`. Differentiable (fused, with its own
    /// backward).
    ///
    /// # Errors
    /// [`NnError::BadInput`] when `x` has fewer than 2 axes, its last axis is not a
    /// multiple of `head_dim`, or `positions` does not have one entry per time step.
    pub fn apply<T: Scalar>(&self, x: &Tensor<T>, positions: &[usize]) -> Result<Tensor<T>> {
        let rank = x.rank();
        let width = if rank >= 2 { x.shape()[rank - 1] } else { 0 };
        if rank < 2 || width % self.head_dim != 0 || x.shape()[rank - 2] != positions.len() {
            return Err(NnError::BadInput {
                op: "Rope::apply",
                expected: format!(
                    "[..., T, n·{}] with T = {} (one position per time step)",
                    self.head_dim,
                    positions.len()
                ),
                got: shape_of(x.shape()),
            });
        }
        let (cos, sin) = self.tables::<T>(positions);
        let data = x.contiguous_data();
        // (Every element is written below; a pooled buffer is last step's memory.)
        let mut out = Tensor::<T>::output_buffer(data.len());
        rotate_all(
            &data,
            &mut out,
            width,
            positions.len(),
            self,
            &cos,
            &sin,
            false,
        );
        drop(data);
        let op = RopeBackward {
            rope: *self,
            width,
            time: positions.len(),
            cos,
            sin,
        };
        Ok(Tensor::from_op(out, x.shape(), &[x], op)?)
    }

    /// [`Rope::apply`] at positions `start, start + 1, …` (after `start` cached tokens).
    ///
    /// # Errors
    /// As [`Rope::apply`].
    pub fn apply_from<T: Scalar>(&self, x: &Tensor<T>, start: usize) -> Result<Tensor<T>> {
        let time = if x.rank() >= 2 {
            x.shape()[x.rank() - 2]
        } else {
            0
        };
        let positions: Vec<usize> = (start..start + time).collect();
        self.apply(x, &positions)
    }
}

/// One task's rows: the index of its first row and its output, taken once.
type Slot<'a, T> = std::sync::Mutex<Option<(usize, &'a mut [T])>>;

/// Rows of `width` features rotated (or rotated back, `inverse`), on the worker pool for
/// large inputs.
#[allow(clippy::too_many_arguments)]
fn rotate_all<T: Scalar>(
    x: &[T],
    out: &mut [T],
    width: usize,
    time: usize,
    rope: &Rope,
    cos: &[T],
    sin: &[T],
    inverse: bool,
) {
    if width == 0 || time == 0 {
        return;
    }
    let rows = x.len() / width;
    let threads = num_threads();
    let parts = if threads > 1 && x.len() >= 1 << 16 {
        threads * 2
    } else {
        1
    };
    let half_split = rope.style == RopeStyle::HalfSplit;
    let dh = rope.head_dim;
    if parts == 1 {
        rotate_rows(x, out, 0, width, time, dh, half_split, cos, sin, inverse);
        return;
    }
    let per = rows.div_ceil(parts);
    let chunks: Vec<Slot<'_, T>> = out
        .chunks_mut(per * width)
        .enumerate()
        .map(|(i, c)| std::sync::Mutex::new(Some((i * per, c))))
        .collect();
    pool::run(chunks.len(), &|task| {
        let taken = chunks[task]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some((first, o)) = taken {
            let xs = &x[first * width..first * width + o.len()];
            rotate_rows(xs, o, first, width, time, dh, half_split, cos, sin, inverse);
        }
    });
}

simd_kernel! {
    /// Rotates rows `first..` (row `r` is time step `r % time`) head by head.
    #[allow(clippy::too_many_arguments)]
    fn rotate_rows<T: Scalar>(
        x: &[T],
        out: &mut [T],
        first: usize,
        width: usize,
        time: usize,
        head_dim: usize,
        half_split: bool,
        cos: &[T],
        sin: &[T],
        inverse: bool,
    ) {
        let half = head_dim / 2;
        for (r, (xr, or)) in x.chunks(width).zip(out.chunks_mut(width)).enumerate() {
            let t = (first + r) % time;
            let c = &cos[t * half..(t + 1) * half];
            let s = &sin[t * half..(t + 1) * half];
            for (xh, oh) in xr.chunks(head_dim).zip(or.chunks_mut(head_dim)) {
                if half_split {
                    let (x1, x2) = xh.split_at(half);
                    let (o1, o2) = oh.split_at_mut(half);
                    for i in 0..half {
                        let (c, s) = (c[i], if inverse { -s[i] } else { s[i] });
                        o1[i] = x1[i] * c - x2[i] * s;
                        o2[i] = x2[i] * c + x1[i] * s;
                    }
                } else {
                    for i in 0..half {
                        let (c, s) = (c[i], if inverse { -s[i] } else { s[i] });
                        let (a, b) = (xh[2 * i], xh[2 * i + 1]);
                        oh[2 * i] = a * c - b * s;
                        oh[2 * i + 1] = a * s + b * c;
                    }
                }
            }
        }
    }
}

struct RopeBackward<T: Scalar> {
    rope: Rope,
    width: usize,
    time: usize,
    cos: Vec<T>,
    sin: Vec<T>,
}

impl<T: Scalar> BackwardOp<T> for RopeBackward<T> {
    fn name(&self) -> &'static str {
        "rope"
    }

    fn backward(
        &self,
        inputs: &[Tensor<T>],
        _: &Tensor<T>,
        grad: &Tensor<T>,
    ) -> ferrograd_tensor::Result<Vec<Option<Tensor<T>>>> {
        // A rotation's transpose is the rotation by the opposite angle.
        let g = grad.contiguous_data();
        let mut gx = Tensor::<T>::output_buffer(g.len());
        rotate_all(
            &g, &mut gx, self.width, self.time, &self.rope, &self.cos, &self.sin, true,
        );
        Ok(vec![Some(Tensor::from_vec(gx, inputs[0].shape())?)])
    }
}
