//! `Dropout`: inverted dropout during training, identity in evaluation.

use crate::error::{NnError, Result};
use crate::module::Module;
use ferrograd_tensor::{Rng, Scalar, Tensor};
use std::sync::Mutex;

/// Zeroes each element with probability `p` during training and scales the rest by
/// `1/(1-p)`, `torch.nn.Dropout`; the identity in evaluation mode
/// ([`Module::set_training`]`(false)`). The random mask comes from the layer's own seeded
/// [`Rng`], held behind a mutex so that `forward` takes `&self` like every module.
#[derive(Debug)]
pub struct Dropout {
    p: f64,
    training: bool,
    rng: Mutex<Rng>,
}

impl Dropout {
    /// Dropout with probability `p` in `[0, 1)`, masks drawn from `Rng::new(seed)`.
    ///
    /// # Errors
    /// [`NnError::InvalidArgument`] for `p` outside `[0, 1)`.
    pub fn new(p: f64, seed: u64) -> Result<Self> {
        if !(0.0..1.0).contains(&p) {
            return Err(NnError::InvalidArgument {
                op: "Dropout",
                reason: format!("probability {p} is not in [0, 1)"),
            });
        }
        Ok(Self {
            p,
            training: true,
            rng: Mutex::new(Rng::new(seed)),
        })
    }

    /// The drop probability.
    pub fn p(&self) -> f64 {
        self.p
    }
}

impl<T: Scalar> Module<T> for Dropout {
    fn forward(&self, input: &Tensor<T>) -> Result<Tensor<T>> {
        if !self.training || self.p == 0.0 {
            return Ok(input.clone());
        }
        let scale = T::from_f64(1.0 / (1.0 - self.p));
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        let mask: Vec<T> = (0..input.numel())
            .map(|_| {
                if rng.next_f64() < self.p {
                    T::ZERO
                } else {
                    scale
                }
            })
            .collect();
        Ok(input.mul(&Tensor::from_vec(mask, input.shape())?)?)
    }

    fn set_training(&mut self, training: bool) {
        self.training = training;
    }
}
