//! Reverse-mode automatic differentiation.
//!
//! Only trainable leaves start a graph: an operation records itself (a [`BackwardOp`]
//! and its inputs) only when gradients are enabled and some input requires them, so
//! inference and data preparation build no graph at all.
//!
//! [`Tensor::backward`] walks the graph once, from the output back to the leaves, in a
//! topological order found without recursion, and returns a [`Gradients`] store keyed
//! by [`TensorId`]. Gradients of a tensor used several times are summed; gradients of a
//! broadcast input are summed back to its shape here, in one place, so no op has to.
//!
//! ## The book's PyTorch loop, in ferrograd
//!
//! | PyTorch | ferrograd |
//! |---|---|
//! | `optimizer.zero_grad()` | nothing: each `backward()` returns a fresh [`Gradients`] |
//! | `loss = criterion(model(x), y)` | `let loss = criterion.forward(&model.forward(&x)?, &y)?;` |
//! | `loss.backward()` | `let grads = loss.backward()?;` |
//! | `optimizer.step()` | `optimizer.step(&params, &grads)?;` |
//! | `p.grad` | `grads.get(&p)` |
//! | `with torch.no_grad():` | [`no_grad`]`(|| …)` or a [`NoGradGuard`] |
//! | accumulate over micro-batches | [`Gradients::accumulate`] |

use crate::error::{Result, TensorError, shape_of};
use crate::tensor::{GradState, Tensor, TensorId};
use ferrograd_linalg::Scalar;
use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// The backward half of an operation: given the gradient of the loss with respect to the
/// operation's output, the gradients with respect to its inputs.
///
/// Implement it to add a fused operation with its own gradient, then build the result
/// with [`Tensor::from_op`]. Backward runs with gradient recording off; returned
/// gradients may have the broadcast (output) shape of an input — the engine sums them
/// back to the input's shape.
pub trait BackwardOp<T: Scalar>: Send + Sync + 'static {
    /// Name shown in `Debug`, `Display` and errors (PyTorch's `grad_fn`), e.g. `"matmul"`.
    fn name(&self) -> &'static str;

    /// Gradients of the inputs, in the order they were passed to [`Tensor::from_op`];
    /// `None` where an input gets no gradient.
    ///
    /// # Errors
    /// Any error of the tensor operations used to compute the gradients.
    fn backward(
        &self,
        inputs: &[Tensor<T>],
        output: &Tensor<T>,
        grad_output: &Tensor<T>,
    ) -> Result<Vec<Option<Tensor<T>>>>;
}

/// Hashes a `TensorId` (a sequential counter) by one multiplication: ids are unique
/// integers, so SipHash's protection against adversarial keys buys nothing here and
/// costs a large share of a small graph's backward pass.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

pub(crate) type IdMap<V> = HashMap<TensorId, V, BuildHasherDefault<IdHasher>>;
type IdSet = HashSet<TensorId, BuildHasherDefault<IdHasher>>;

/// A recorded operation: what produced a tensor, and from what.
pub(crate) struct Node<T: Scalar> {
    pub(crate) op: Box<dyn BackwardOp<T>>,
    pub(crate) inputs: Vec<Tensor<T>>,
}

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// True unless recording is switched off on this thread by [`no_grad`] / [`NoGradGuard`].
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(Cell::get)
}

/// Switches graph recording off on this thread until dropped (PyTorch's
/// `torch.no_grad()`). Guards nest.
#[derive(Debug)]
pub struct NoGradGuard {
    previous: bool,
}

impl NoGradGuard {
    /// Turns recording off; the previous state returns when the guard drops.
    pub fn new() -> Self {
        let previous = GRAD_ENABLED.with(|g| g.replace(false));
        Self { previous }
    }
}

impl Default for NoGradGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|g| g.set(self.previous));
    }
}

/// Runs `f` without recording a graph: for inference and evaluation.
///
/// ```
/// use ferrograd_tensor::{no_grad, Tensor};
/// let w = Tensor::from_vec(vec![1.0f32, 2.0], &[2])?.set_requires_grad(true);
/// let y = no_grad(|| w.mul_scalar(3.0));
/// assert!(!y.requires_grad());
/// # Ok::<(), ferrograd_tensor::TensorError>(())
/// ```
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    let _guard = NoGradGuard::new();
    f()
}

/// Something with a [`TensorId`]: a tensor or a parameter. Gradients are looked up by it.
pub trait HasTensorId {
    /// The id gradients are stored under.
    fn tensor_id(&self) -> TensorId;
}

impl<T: Scalar> HasTensorId for Tensor<T> {
    fn tensor_id(&self) -> TensorId {
        self.id()
    }
}

impl HasTensorId for TensorId {
    fn tensor_id(&self) -> TensorId {
        *self
    }
}

/// Gradients from one backward pass, keyed by tensor id.
///
/// Holds the gradient of every trainable leaf reached, and of the intermediates asked
/// for with [`Tensor::backward_retaining`].
#[derive(Debug, Clone)]
pub struct Gradients<T: Scalar = f32> {
    grads: IdMap<Tensor<T>>,
}

impl<T: Scalar> Default for Gradients<T> {
    fn default() -> Self {
        Self {
            grads: IdMap::default(),
        }
    }
}

impl<T: Scalar> Gradients<T> {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The gradient of a tensor or parameter, if one reached it.
    pub fn get(&self, key: &impl HasTensorId) -> Option<&Tensor<T>> {
        self.grads.get(&key.tensor_id())
    }

    /// Sets (replaces) the gradient stored for `key`.
    pub fn insert(&mut self, key: &impl HasTensorId, grad: Tensor<T>) {
        self.grads.insert(key.tensor_id(), grad.detach());
    }

    /// Removes and returns the gradient stored for `key`.
    pub fn remove(&mut self, key: &impl HasTensorId) -> Option<Tensor<T>> {
        self.grads.remove(&key.tensor_id())
    }

    /// Number of gradients held.
    pub fn len(&self) -> usize {
        self.grads.len()
    }

    /// True when no gradient is held.
    pub fn is_empty(&self) -> bool {
        self.grads.is_empty()
    }

    /// Ids and gradients, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (TensorId, &Tensor<T>)> {
        self.grads.iter().map(|(&id, g)| (id, g))
    }

    /// Adds another pass's gradients into this store (PyTorch's accumulation of `.grad`
    /// across several `backward()` calls before `step()`).
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] when the same id has gradients of different shapes.
    pub fn accumulate(&mut self, other: &Gradients<T>) -> Result<()> {
        for (id, g) in &other.grads {
            accumulate_into(&mut self.grads, *id, g.clone())?;
        }
        Ok(())
    }
}

fn accumulate_into<T: Scalar>(
    grads: &mut IdMap<Tensor<T>>,
    id: TensorId,
    grad: Tensor<T>,
) -> Result<()> {
    match grads.remove(&id) {
        None => {
            grads.insert(id, grad);
        }
        Some(existing) => {
            grads.insert(id, existing.add_into(grad)?);
        }
    }
    Ok(())
}

impl<T: Scalar> Tensor<T> {
    /// Backpropagates from this one-element tensor (a loss) and returns the gradient of
    /// every trainable leaf it depends on.
    ///
    /// Calling it twice on the same graph gives the same gradients: the graph is not
    /// consumed and nothing accumulates between calls.
    ///
    /// # Errors
    /// [`TensorError::NotScalar`] for a tensor with more than one element (use
    /// [`Tensor::backward_with_grad`]), [`TensorError::NoGraph`] when it does not require
    /// grad.
    pub fn backward(&self) -> Result<Gradients<T>> {
        if self.numel() != 1 {
            return Err(TensorError::NotScalar {
                op: "backward",
                shape: shape_of(self.shape()),
            });
        }
        self.run_backward(Tensor::ones(self.shape()), &[])
    }

    /// Backpropagates and also keeps the gradients of the given intermediate tensors
    /// (PyTorch's `retain_grad()`).
    ///
    /// # Errors
    /// As [`Tensor::backward`].
    pub fn backward_retaining(&self, keep: &[&Tensor<T>]) -> Result<Gradients<T>> {
        if self.numel() != 1 {
            return Err(TensorError::NotScalar {
                op: "backward",
                shape: shape_of(self.shape()),
            });
        }
        let keep: Vec<TensorId> = keep.iter().map(|t| t.id()).collect();
        self.run_backward(Tensor::ones(self.shape()), &keep)
    }

    /// Backpropagates a given output gradient (a vector-Jacobian product) from a tensor
    /// of any shape.
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] when `grad` does not have this tensor's shape,
    /// [`TensorError::NoGraph`] when it does not require grad.
    pub fn backward_with_grad(&self, grad: &Tensor<T>) -> Result<Gradients<T>> {
        if grad.shape() != self.shape() {
            return Err(TensorError::ShapeMismatch {
                op: "backward_with_grad",
                lhs: shape_of(self.shape()),
                rhs: shape_of(grad.shape()),
            });
        }
        self.run_backward(grad.detach(), &[])
    }

    fn run_backward(&self, seed: Tensor<T>, keep: &[TensorId]) -> Result<Gradients<T>> {
        if !self.requires_grad() {
            return Err(TensorError::NoGraph);
        }
        let _no_grad = NoGradGuard::new();
        let order = topological_order(self);
        let mut grads: IdMap<Tensor<T>> =
            IdMap::with_capacity_and_hasher(order.len(), Default::default());
        grads.insert(self.id(), seed);
        let mut result = Gradients::new();
        for &tensor in order.iter().rev() {
            let id = tensor.id();
            let Some(grad) = grads.remove(&id) else {
                continue; // no gradient reached this node (e.g. a masked-out branch)
            };
            if keep.contains(&id) || tensor.is_leaf() {
                result.grads.insert(id, grad.clone());
            }
            let GradState::Node(node) = &tensor.inner.grad else {
                continue;
            };
            let input_grads = node.op.backward(&node.inputs, tensor, &grad)?;
            for (input, input_grad) in node.inputs.iter().zip(input_grads) {
                let Some(input_grad) = input_grad else {
                    continue;
                };
                if !input.requires_grad() {
                    continue;
                }
                let input_grad = reduce_to_shape(node.op.name(), input_grad, input.shape())?;
                accumulate_into(&mut grads, input.id(), input_grad)?;
            }
        }
        Ok(result)
    }
}

/// Sums a gradient of a broadcast shape back to the shape of the input it belongs to:
/// the one place where broadcasting's gradients are reduced.
fn reduce_to_shape<T: Scalar>(
    op: &'static str,
    grad: Tensor<T>,
    shape: &[usize],
) -> Result<Tensor<T>> {
    if grad.shape() == shape {
        return Ok(grad);
    }
    grad.sum_to_shape(shape)
        .map_err(|_| TensorError::InvalidArgument {
            op: "backward",
            reason: format!(
                "the backward of `{op}` produced a gradient of shape {} for an input of shape {}",
                shape_of(grad.shape()),
                shape_of(shape)
            ),
        })
}

/// Tensors reachable from `root` through nodes that require grad, each after all of its
/// inputs (post-order), found with an explicit stack: no recursion, any depth. Borrowed
/// from the graph `root` owns, so nothing is cloned.
fn topological_order<T: Scalar>(root: &Tensor<T>) -> Vec<&Tensor<T>> {
    let mut order = Vec::with_capacity(16);
    let mut visited = IdSet::with_capacity_and_hasher(16, Default::default());
    visited.insert(root.id());
    let mut stack: Vec<(&Tensor<T>, usize)> = Vec::with_capacity(16);
    stack.push((root, 0));
    while let Some((tensor, next_input)) = stack.last_mut() {
        let tensor: &Tensor<T> = tensor;
        let child = match &tensor.inner.grad {
            GradState::Node(node) if *next_input < node.inputs.len() => {
                *next_input += 1;
                Some(&node.inputs[*next_input - 1])
            }
            _ => None,
        };
        match child {
            Some(child) => {
                if child.requires_grad() && visited.insert(child.id()) {
                    stack.push((child, 0));
                }
            }
            None => {
                order.push(tensor);
                stack.pop();
            }
        }
    }
    order
}
