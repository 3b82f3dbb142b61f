//! `Embedding`: a lookup table from token ids to vectors.

use crate::error::{NnError, Result, shape_of};
use crate::init::normal;
use crate::module::Module;
use ferrograd_tensor::{Indices, Parameter, Rng, Scalar, Tensor};

/// A table of `num_embeddings` vectors of size `dim`, `torch.nn.Embedding`: ids of any
/// shape `[...]` give vectors `[..., dim]`. Rows are initialised from `N(0, 1)`; the
/// `padding_idx` row starts at zero and never receives a gradient, as in PyTorch.
///
/// ```
/// use ferrograd_nn::Embedding;
/// use ferrograd_tensor::{Indices, Rng};
/// let table = Embedding::<f32>::new(256, 8, None, &mut Rng::new(0));
/// let ids = Indices::new(vec![1, 2, 3, 1], &[2, 2])?;
/// assert_eq!(table.lookup(&ids)?.shape(), &[2, 2, 8]);
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Embedding<T: Scalar = f32> {
    /// The table `[num_embeddings, dim]`.
    pub weight: Parameter<T>,
    /// Row whose vector stays zero and gets no gradient.
    pub padding_idx: Option<usize>,
}

impl<T: Scalar> Embedding<T> {
    /// A table with PyTorch's initialisation.
    ///
    /// # Panics
    /// When `padding_idx` is not below `num_embeddings` (as PyTorch asserts).
    pub fn new(
        num_embeddings: usize,
        dim: usize,
        padding_idx: Option<usize>,
        rng: &mut Rng,
    ) -> Self {
        assert!(
            padding_idx.is_none_or(|p| p < num_embeddings),
            "Embedding: padding_idx {padding_idx:?} must be below num_embeddings {num_embeddings}"
        );
        let mut table = normal::<T>(&[num_embeddings, dim], 0.0, 1.0, rng).to_vec();
        if let Some(p) = padding_idx {
            table[p * dim..(p + 1) * dim].fill(T::ZERO);
        }
        let weight = Tensor::from_vec(table, &[num_embeddings, dim]).expect("sizes agree");
        Self {
            weight: Parameter::new(weight),
            padding_idx,
        }
    }

    /// The vectors of `ids`: shape `ids.shape() ++ [dim]`.
    ///
    /// # Errors
    /// [`NnError::Tensor`] naming the first id past the table.
    pub fn lookup(&self, ids: &Indices) -> Result<Tensor<T>> {
        let weight = self.weight.tensor();
        let table = match self.padding_idx {
            // Zero the padding row's gradient by routing it through a constant mask.
            Some(p) => {
                let rows = weight.shape()[0];
                let mut keep = vec![T::ONE; rows];
                keep[p] = T::ZERO;
                let mask = Tensor::from_vec(keep, &[rows, 1])?;
                weight.mul(&mask)?
            }
            None => weight,
        };
        Ok(table.index_select(0, ids)?)
    }
}

impl<T: Scalar> Module<T> for Embedding<T> {
    /// Looks up ids stored as whole numbers in a float tensor; prefer [`Embedding::lookup`].
    fn forward(&self, input: &Tensor<T>) -> Result<Tensor<T>> {
        let ids = Indices::from_tensor(input).map_err(|_| NnError::BadInput {
            op: "Embedding",
            expected: "whole, non-negative ids".into(),
            got: shape_of(input.shape()),
        })?;
        self.lookup(&ids)
    }

    fn named_parameters(&self) -> Vec<(String, Parameter<T>)> {
        vec![("weight".into(), self.weight.clone())]
    }
}
