//! Drawing ids from probability rows: `multinomial`.

use crate::error::{Result, TensorError, shape_of};
use crate::ids::IdTensor;
use crate::rng::Rng;
use crate::tensor::Tensor;
use ferrograd_linalg::Scalar;

impl<T: Scalar> Tensor<T> {
    /// Draws `samples` ids (with replacement) from each row of non-negative weights over
    /// the last axis (`torch.multinomial(…, replacement=True)`); rows need not sum to 1.
    /// The result has this shape with the last axis replaced by `samples`.
    ///
    /// ```
    /// use ferrograd_tensor::{Rng, Tensor};
    /// let probs = Tensor::<f32>::from([[0.0, 1.0, 0.0]]);
    /// let ids = probs.multinomial(4, &mut Rng::new(0))?;
    /// assert_eq!(ids.to_vec(), [1, 1, 1, 1]);
    /// # Ok::<(), ferrograd_tensor::TensorError>(())
    /// ```
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] for a rank-0 tensor, or a row with a negative,
    /// NaN or infinite weight or with no positive weight (naming the row).
    pub fn multinomial(&self, samples: usize, rng: &mut Rng) -> Result<IdTensor> {
        let Some(&size) = self.shape().last() else {
            return Err(TensorError::InvalidArgument {
                op: "multinomial",
                reason: "needs at least one axis of weights, got a scalar".into(),
            });
        };
        let data = self.contiguous_data();
        if size == 0 && self.numel() == 0 && self.shape()[..self.rank() - 1].iter().all(|&d| d > 0)
        {
            // Rows of no weights at all: the first one has nothing to draw.
            return Err(TensorError::InvalidArgument {
                op: "multinomial",
                reason: format!(
                    "row 0 of shape {} has no positive weight (no entries)",
                    shape_of(self.shape())
                ),
            });
        }
        let rows = data.len().checked_div(size).unwrap_or(0);
        let mut out = Vec::with_capacity(rows * samples);
        for r in 0..rows {
            let row = &data[r * size..(r + 1) * size];
            let mut total = 0.0f64;
            for &w in row {
                let w = w.to_f64();
                if !(w >= 0.0 && w.is_finite()) {
                    return Err(TensorError::InvalidArgument {
                        op: "multinomial",
                        reason: format!(
                            "row {r} has the weight {w}; weights must be finite and >= 0"
                        ),
                    });
                }
                total += w;
            }
            if total.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
                return Err(TensorError::InvalidArgument {
                    op: "multinomial",
                    reason: format!(
                        "row {r} of shape {} has no positive weight",
                        shape_of(self.shape())
                    ),
                });
            }
            for _ in 0..samples {
                out.push(draw(row, total, rng) as i64);
            }
        }
        let mut shape = self.shape().to_vec();
        *shape.last_mut().expect("rank checked above") = samples;
        IdTensor::new(out, &shape)
    }
}

/// One draw from `weights` (summing to `total > 0`) by inverting the cumulative sum; a
/// zero-weight entry is never drawn, even where rounding puts the draw at its boundary.
fn draw<T: Scalar>(weights: &[T], total: f64, rng: &mut Rng) -> usize {
    let target = rng.next_f64() * total;
    let mut acc = 0.0;
    let mut last_positive = 0;
    for (i, &w) in weights.iter().enumerate() {
        let w = w.to_f64();
        if w > 0.0 {
            acc += w;
            last_positive = i;
            if target < acc {
                return i;
            }
        }
    }
    last_positive
}
