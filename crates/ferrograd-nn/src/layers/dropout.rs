//! `Dropout`: inverted dropout during training, identity in evaluation.

use crate::error::{NnError, Result};
use crate::module::{Forward, Module};
use ferrograd_tensor::{Rng, Scalar, Tensor};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Zeroes each element with probability `p` during training and scales the rest by
/// `1/(1-p)`, `torch.nn.Dropout`; the identity in evaluation mode
/// ([`Module::eval`] / [`Module::set_training`]`(false)`). Layers start in training
/// mode, as in PyTorch.
///
/// The masks come from the layer's own [`Rng`], seeded at construction, so a run is
/// reproducible. The generator sits behind a [`Mutex`] and the training flag is atomic:
/// forward and [`Module::set_training`] take `&self` like every module (the model stays
/// usable while an optimizer shares its parameters) and [`Module`] requires `Sync`,
/// which rules out `RefCell`/`Cell`; the lock is taken once per forward call, uncontended
/// in the usual single-threaded loop (tens of nanoseconds).
///
/// ```
/// use ferrograd_nn::{Dropout, Forward, Module};
/// use ferrograd_tensor::Tensor;
/// let dropout = Dropout::new(0.5, 42)?;
/// let x = Tensor::<f32>::ones(&[1000]);
/// let y = dropout.forward(&x)?.to_vec();
/// assert!(y.iter().all(|&v| v == 0.0 || v == 2.0)); // kept elements scaled by 1/(1-p)
/// Module::<f32>::eval(&dropout);
/// assert_eq!(dropout.forward(&x)?.to_vec(), x.to_vec());
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
#[derive(Debug)]
pub struct Dropout {
    p: f64,
    training: AtomicBool,
    rng: Mutex<Rng>,
}

impl Dropout {
    /// Dropout with probability `p` in `[0, 1]`, masks drawn from `Rng::new(seed)`.
    ///
    /// # Errors
    /// [`NnError::InvalidArgument`] for `p` outside `[0, 1]`.
    pub fn new(p: f64, seed: u64) -> Result<Self> {
        if !(0.0..=1.0).contains(&p) {
            return Err(NnError::InvalidArgument {
                op: "Dropout",
                reason: format!("probability {p} is not in [0, 1]"),
            });
        }
        Ok(Self {
            p,
            training: AtomicBool::new(true),
            rng: Mutex::new(Rng::new(seed)),
        })
    }

    /// The drop probability.
    pub fn p(&self) -> f64 {
        self.p
    }

    /// True in training mode (masks applied).
    pub fn is_training(&self) -> bool {
        self.training.load(Ordering::Relaxed)
    }
}

impl<T: Scalar> Module<T> for Dropout {
    fn set_own_training(&self, training: bool) {
        self.training.store(training, Ordering::Relaxed);
    }
}

impl<T: Scalar> Forward<&Tensor<T>> for Dropout {
    type Output = Tensor<T>;
    fn forward(&self, input: &Tensor<T>) -> Result<Tensor<T>> {
        if !self.is_training() || self.p == 0.0 {
            return Ok(input.clone());
        }
        // A panic elsewhere cannot leave the generator half-updated, so a poisoned lock
        // is still usable.
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        crate::functional::dropout(input, self.p, true, &mut rng)
    }
}
