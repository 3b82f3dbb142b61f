//! Inverted dropout, `torch.nn.functional.dropout`: a mask drawn from the crate's
//! [`Rng`], applied as one element-wise product.

use crate::error::{Result, TensorError};
use crate::rng::Rng;
use crate::storage;
use crate::tensor::Tensor;
use ferrograd_linalg::Scalar;

impl<T: Scalar> Tensor<T> {
    /// Inverted dropout: each element is zeroed with probability `p` and the rest scaled by
    /// `1/(1 − p)`, so the expected value is unchanged (`p = 0` returns the input as it is,
    /// `p = 1` zeroes everything, as in PyTorch). The mask is drawn from `rng`, one
    /// `next_f64` per element, so a seed gives the same mask on every machine. The
    /// gradient flows through the kept elements, scaled the same way.
    ///
    /// ```
    /// use ferrograd_tensor::{Rng, Tensor};
    /// let x = Tensor::<f32>::ones(&[1000]);
    /// let y = x.dropout(0.5, &mut Rng::new(0))?.to_vec();
    /// assert!(y.iter().all(|&v| v == 0.0 || v == 2.0));
    /// # Ok::<(), ferrograd_tensor::TensorError>(())
    /// ```
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] naming `dropout` for `p` outside `[0, 1]`.
    pub fn dropout(&self, p: f64, rng: &mut Rng) -> Result<Tensor<T>> {
        if !(0.0..=1.0).contains(&p) {
            return Err(TensorError::InvalidArgument {
                op: "dropout",
                reason: format!("probability {p} is not in [0, 1]"),
            });
        }
        if p == 0.0 {
            return Ok(self.clone());
        }
        // p = 1 drops everything (the scale is then never used).
        let scale = T::from_f64(1.0 / (1.0 - p));
        let mut mask = storage::take_buffer::<T>(self.numel());
        for m in &mut mask {
            *m = if rng.next_f64() < p { T::ZERO } else { scale };
        }
        self.mul(&Tensor::from_vec_unchecked(mask, self.shape()))
    }
}
