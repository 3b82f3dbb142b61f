//! Skip-gram with negative sampling through the tensor stack, as the book frames it: two
//! embedding tables (`nn.Embedding`), the scores of the context word and the negative words
//! as dot products with the center word's vector, the loss
//! `−ln σ(u_context·v_center) − Σₖ ln σ(−u_k·v_center)`, automatic differentiation, and an
//! SGD step.
//!
//! This is the slow, general path (it builds a graph per pair); training uses the kernel
//! in [`super::kernel`], and tests show the two make the same update for distinct negative
//! words. As in the kernel (and word2vec), a negative word equal to the context word is
//! skipped. A negative word drawn twice is where they differ: here both draws' gradients are
//! taken at the same output vector, while the kernel updates that vector between them.
//!
//! The loss is computed from the scores as `binary_cross_entropy_with_logits` (a stable
//! `−ln σ(s) = ln(1 + e^−s)`), so scores far below −88 — where `σ(s)` underflows f32 to 0 —
//! still give a finite loss and gradient.
//!
//! ```
//! use ferrograd_lm::word2vec::tensor_step::SkipGram;
//!
//! let model = SkipGram::from_vectors(&[0.1, 0.2, -0.1, 0.3, 0.0, 0.5], &[0.0; 6], 2)?;
//! let before = model.loss(0, 1, &[2])?.item()?;
//! model.sgd_step(0, 1, &[2], 0.5)?;
//! let after = model.loss(0, 1, &[2])?.item()?;
//! assert!(after < before);
//! # Ok::<(), ferrograd_lm::LmError>(())
//! ```

use ferrograd_nn::Embedding;
use ferrograd_optim::{Optimizer, Sgd, SgdConfig};
use ferrograd_tensor::{IdTensor, Reduction, Tensor};

use crate::error::{Result, invalid};

/// The two tables of skip-gram: input (center) vectors and output (context) vectors.
#[derive(Debug, Clone)]
pub struct SkipGram {
    /// Input vectors `[vocabulary, dim]`: the embeddings.
    pub input: Embedding<f32>,
    /// Output vectors `[vocabulary, dim]`.
    pub output: Embedding<f32>,
}

impl SkipGram {
    /// Tables holding copies of `input` and `output` (each `[vocabulary, dim]` row-major).
    ///
    /// # Errors
    /// [`crate::LmError::InvalidConfig`] when the sizes disagree.
    pub fn from_vectors(input: &[f32], output: &[f32], dim: usize) -> Result<Self> {
        if dim == 0 || !input.len().is_multiple_of(dim) || input.len() != output.len() {
            return Err(invalid(
                "SkipGram::from_vectors",
                "sizes",
                format!("{} and {} numbers, dim {dim}", input.len(), output.len()),
                "both tables must hold [vocabulary, dim] numbers",
            ));
        }
        let rows = input.len() / dim;
        Ok(Self {
            input: Embedding::from_tensor(Tensor::from_vec(input.to_vec(), &[rows, dim])?, None)?,
            output: Embedding::from_tensor(Tensor::from_vec(output.to_vec(), &[rows, dim])?, None)?,
        })
    }

    /// The loss of one (center, context) pair with its negative words:
    /// `−ln σ(u_context·v_center) − Σₖ ln σ(−u_k·v_center)`, a one-element tensor. Negative
    /// words equal to `context` are skipped (as word2vec and the kernel do); each term is
    /// computed stably from its score (finite for any finite score).
    ///
    /// # Errors
    /// An error for an id past the tables.
    pub fn loss(&self, center: usize, context: usize, negatives: &[usize]) -> Result<Tensor<f32>> {
        let v = self
            .input
            .lookup(&IdTensor::from_indices(&[center], &[1])?)?; // [1, dim]
        let mut targets = vec![context];
        targets.extend(negatives.iter().copied().filter(|&n| n != context));
        let k = targets.len();
        let u = self
            .output
            .lookup(&IdTensor::from_indices(&targets, &[k])?)?; // [k, dim]
        let scores = u.matmul(&v.t()?)?; // [k, 1]
        // Label 1 for the context word, 0 for the negatives: (1 − y)·s − ln σ(s) is
        // −ln σ(s) for the context and −ln σ(−s) for a negative.
        let mut labels = vec![0.0f32; k];
        labels[0] = 1.0;
        let labels = Tensor::from_vec(labels, &[k, 1])?;
        Ok(scores.binary_cross_entropy_with_logits(&labels, Reduction::Sum)?)
    }

    /// One SGD step with learning rate `alpha` on [`SkipGram::loss`]: the book's
    /// forward / backward / step loop for a single pair.
    ///
    /// # Errors
    /// As [`SkipGram::loss`].
    pub fn sgd_step(
        &self,
        center: usize,
        context: usize,
        negatives: &[usize],
        alpha: f32,
    ) -> Result<()> {
        let mut optimizer = Sgd::new(
            [self.input.weight.clone(), self.output.weight.clone()],
            SgdConfig::new(f64::from(alpha)),
        )?;
        let loss = self.loss(center, context, negatives)?;
        optimizer.step(&loss.backward_free()?)?;
        Ok(())
    }
}
