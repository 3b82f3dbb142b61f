//! `Embedding`: a lookup table from token ids to vectors.

use crate::error::{NnError, Result, shape_of};
use crate::init::normal;
use crate::kernels;
use crate::module::{Forward, Module, Visitor};
use ferrograd_tensor::{BackwardOp, IdTensor, Parameter, Rng, Scalar, Tensor};
use std::ops::Not;

struct EmbeddingBackward {
    /// The ids as row positions, checked against the table when the lookup ran.
    rows: Vec<usize>,
    padding_idx: Option<usize>,
}

impl<T: Scalar> BackwardOp<T> for EmbeddingBackward {
    fn name(&self) -> &'static str {
        "embedding"
    }

    fn backward(
        &self,
        inputs: &[Tensor<T>],
        _: &Tensor<T>,
        grad: &Tensor<T>,
    ) -> ferrograd_tensor::Result<Vec<Option<Tensor<T>>>> {
        let table = &inputs[0];
        let dim = table.shape()[1];
        let g = grad.contiguous_data();
        let mut gw = kernels::buffer(table.numel());
        if dim > 0 {
            for (&id, row) in self.rows.iter().zip(g.chunks_exact(dim)) {
                if self.padding_idx == Some(id) {
                    continue; // the padding row never receives a gradient
                }
                for (acc, &v) in gw[id * dim..(id + 1) * dim].iter_mut().zip(row) {
                    *acc += v;
                }
            }
        }
        Ok(vec![Some(Tensor::from_vec(gw, table.shape())?)])
    }
}

/// Looks up rows of `weight` (`[num_embeddings, dim]`) for `ids` of any shape, giving
/// `ids.shape() ++ [dim]`, `torch.nn.functional.embedding`. The row `padding_idx`
/// receives no gradient (its value is used as it is).
///
/// ```
/// use ferrograd_nn::functional::embedding;
/// use ferrograd_tensor::{IdTensor, Tensor};
/// let table = Tensor::<f32>::from([[0.0, 0.0], [1.0, 2.0], [3.0, 4.0]]);
/// let out = embedding(&table, &IdTensor::new(vec![2, 1, 2], &[1, 3])?, None)?;
/// assert_eq!(out.shape(), &[1, 3, 2]);
/// assert_eq!(out.to_vec(), vec![3.0, 4.0, 1.0, 2.0, 3.0, 4.0]);
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
///
/// # Errors
/// [`NnError::BadInput`] for a weight that is not 2-D, [`NnError::InvalidArgument`]
/// naming the first id past the table.
pub fn embedding<T: Scalar>(
    weight: &Tensor<T>,
    ids: &IdTensor,
    padding_idx: Option<usize>,
) -> Result<Tensor<T>> {
    if weight.rank() != 2 {
        return Err(NnError::BadInput {
            op: "embedding",
            expected: "a table of shape [num_embeddings, dim]".into(),
            got: shape_of(weight.shape()),
        });
    }
    let (rows, dim) = (weight.shape()[0], weight.shape()[1]);
    let positions = ids.contiguous_data();
    if let Some((position, &id)) = positions
        .iter()
        .enumerate()
        .find(|&(_, &i)| usize::try_from(i).is_ok_and(|i| i < rows).not())
    {
        return Err(NnError::InvalidArgument {
            op: "embedding",
            reason: format!(
                "id {id} (at position {position}) is out of range for a table of {rows} rows"
            ),
        });
    }
    let positions: Vec<usize> = positions.iter().map(|&i| i as usize).collect();
    let table = weight.contiguous_data();
    let mut out = kernels::buffer(ids.len() * dim);
    if dim > 0 {
        for (&id, row) in positions.iter().zip(out.chunks_exact_mut(dim)) {
            row.copy_from_slice(&table[id * dim..(id + 1) * dim]);
        }
    }
    drop(table);
    let mut shape = ids.shape().to_vec();
    shape.push(dim);
    let op = EmbeddingBackward {
        rows: positions,
        padding_idx,
    };
    Ok(Tensor::from_op(out, &shape, &[weight], op)?)
}

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
    /// # Errors
    /// [`NnError::InvalidArgument`] naming the first id past the table.
    pub fn lookup(&self, ids: &IdTensor) -> Result<Tensor<T>> {
        embedding(&self.weight.tensor(), ids, self.padding_idx)
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
