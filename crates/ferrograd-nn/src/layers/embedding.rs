//! `Embedding`: a lookup table from token ids to vectors. The lookup is the tensor
//! crate's fused op [`Tensor::embedding`] (function form
//! [`crate::functional::embedding`]).

use crate::error::{NnError, Result, shape_of};
use crate::init::normal;
use crate::module::{Forward, Module, Visitor};
use ferrograd_tensor::{IdTensor, Parameter, Rng, Scalar, Tensor};

/// A table of `num_embeddings` vectors of size `dim`, `torch.nn.Embedding`: ids of any
/// shape `[...]` give vectors `[..., dim]`. Rows are initialised from `N(0, 1)`; the
/// `padding_idx` row starts at zero and never receives a gradient, as in PyTorch.
///
/// ```
/// use ferrograd_nn::Embedding;
/// use ferrograd_tensor::{IdTensor, Rng};
/// let table = Embedding::<f32>::new(256, 8, Some(0), &mut Rng::new(0));
/// let ids = IdTensor::new(vec![1, 2, 3, 0], &[2, 2])?;
/// let vectors = table.lookup(&ids)?;
/// assert_eq!(vectors.shape(), &[2, 2, 8]);
/// assert!(vectors.to_vec()[24..].iter().all(|&v| v == 0.0)); // id 0 is padding
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
///
/// `.clone()` shares the parameters: the clone is tied to this layer (one update
/// changes both). [`Module::deep_clone`] makes an
/// independent copy.
#[derive(Debug, Clone)]
pub struct Embedding<T: Scalar = f32> {
    /// The table `[num_embeddings, dim]`.
    pub weight: Parameter<T>,
    /// Row whose gradient is always zero (and which starts at zero with [`Self::new`]).
    pub padding_idx: Option<usize>,
}

impl<T: Scalar> Embedding<T> {
    /// A table with PyTorch's initialisation, `N(0, 1)`, and the padding row zeroed.
    ///
    /// # Panics
    /// When `padding_idx` is not below `num_embeddings` (PyTorch asserts the same).
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

    /// A table holding `weight` (`[num_embeddings, dim]`) as it is, like PyTorch's
    /// `Embedding.from_pretrained(weight, freeze=False, padding_idx=…)`: the padding row
    /// is not zeroed, but receives no gradient.
    ///
    /// # Errors
    /// [`NnError::BadInput`] for a weight that is not 2-D,
    /// [`NnError::InvalidArgument`] for a `padding_idx` past the table.
    pub fn from_tensor(weight: Tensor<T>, padding_idx: Option<usize>) -> Result<Self> {
        if weight.rank() != 2 {
            return Err(NnError::BadInput {
                op: "Embedding::from_tensor",
                expected: "a table of shape [num_embeddings, dim]".into(),
                got: shape_of(weight.shape()),
            });
        }
        if let Some(p) = padding_idx.filter(|&p| p >= weight.shape()[0]) {
            return Err(NnError::InvalidArgument {
                op: "Embedding::from_tensor",
                reason: format!(
                    "padding_idx {p} must be below num_embeddings {}",
                    weight.shape()[0]
                ),
            });
        }
        Ok(Self {
            weight: Parameter::new(weight),
            padding_idx,
        })
    }

    /// Number of rows.
    pub fn num_embeddings(&self) -> usize {
        self.weight.shape()[0]
    }

    /// Size of each vector.
    pub fn embedding_dim(&self) -> usize {
        self.weight.shape()[1]
    }

    /// The vectors of `ids`: shape `ids.shape() ++ [dim]`.
    ///
    /// ```
    /// use ferrograd_nn::Embedding;
    /// use ferrograd_tensor::{IdTensor, Rng};
    /// let table = Embedding::<f32>::new(1000, 4, None, &mut Rng::new(0));
    /// let err = table.lookup(&IdTensor::from(vec![1, 2, 3, 1000])).unwrap_err();
    /// assert_eq!(err.to_string(), "Embedding::forward: id 1000 at position 3 is out of range 0..1000");
    /// ```
    ///
    /// # Errors
    /// [`NnError::Tensor`] holding [`ferrograd_tensor::TensorError::IdOutOfRange`] for
    /// the first id past the table: `Embedding::forward: id 1000 at position 3 is out of
    /// range 0..1000`.
    pub fn lookup(&self, ids: &IdTensor) -> Result<Tensor<T>> {
        self.weight
            .tensor()
            .embedding(ids, self.padding_idx)
            .map_err(|e| e.with_op("Embedding::forward").into())
    }
}

impl<T: Scalar> Module<T> for Embedding<T> {
    fn visit(&self, v: &mut dyn Visitor<T>) {
        v.param("weight", &self.weight);
    }
}

impl<T: Scalar> Forward<&IdTensor> for Embedding<T> {
    type Output = Tensor<T>;
    /// The vectors of `ids` ([`Embedding::lookup`]).
    fn forward(&self, ids: &IdTensor) -> Result<Tensor<T>> {
        self.lookup(ids)
    }
}
