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
//! | `optimizer.zero_grad()` | nothing: each backward returns a fresh [`Gradients`] |
//! | `loss = criterion(model(x), y)` | `let loss = criterion.forward(&model.forward(&x)?, &y)?;` |
//! | `loss.backward()` | `let grads = loss.backward_free()?;` (frees the graph, as PyTorch's) |
//! | `loss.backward(retain_graph=True)` | `let grads = loss.backward()?;` |
//! | `optimizer.step()` | `optimizer.step(&params, &grads)?;` |
//! | `p.grad` | `grads.get(&p)` |
//! | `with torch.no_grad():` | [`no_grad`]`(|| …)` or a [`NoGradGuard`] |
//! | accumulate over micro-batches | [`Gradients::accumulate`] |

pub use crate::grad_mode::{NoGradGuard, is_grad_enabled, no_grad};
pub use crate::tensor::BackwardOp;

use crate::error::{Result, TensorError, shape_of};
use crate::tensor::{GradState, Tensor, TensorId};
use ferrograd_linalg::Scalar;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

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
            accumulate_into(&mut self.grads, *id, g.clone(), "Gradients::accumulate")?;
        }
        Ok(())
    }
}

fn accumulate_into<T: Scalar>(
    grads: &mut IdMap<Tensor<T>>,
    id: TensorId,
    grad: Tensor<T>,
    op: &'static str,
) -> Result<()> {
    match grads.remove(&id) {
        None => {
            grads.insert(id, grad);
        }
        Some(existing) => {
            if existing.shape() != grad.shape() {
                return Err(TensorError::GradientShape {
                    op,
                    id,
                    existing: shape_of(existing.shape()),
                    incoming: shape_of(grad.shape()),
                });
            }
            grads.insert(id, existing.add_into(grad)?);
        }
    }
    Ok(())
}

impl<T: Scalar> Tensor<T> {
    /// Backpropagates from this one-element tensor (a loss) and returns the gradient of
    /// every trainable leaf it depends on.
    ///
    /// The graph is kept (PyTorch's `backward(retain_graph=True)`): calling it twice gives
    /// the same gradients, and nothing accumulates between calls. In a training loop use
    /// [`Tensor::backward_free`], which releases the graph so the optimizer can update
    /// the parameters in place.
    ///
    /// # Errors
    /// [`TensorError::NotScalar`] for a tensor with more than one element (use
    /// [`Tensor::backward_with_grad`]), [`TensorError::NoGraph`] when it does not require
    /// grad, [`TensorError::GraphFreed`] when its graph was freed.
    pub fn backward(&self) -> Result<Gradients<T>> {
        self.check_loss("backward")?;
        self.run_backward(Tensor::ones(self.shape()), &[], false)
    }

    /// Backpropagates from this one-element tensor and frees the graph as it goes
    /// (PyTorch's default `loss.backward()`): every recorded operation drops its inputs
    /// and saved values once its gradient is computed. Peak memory falls, and the
    /// parameters' values are no longer held by the graph, so the optimizer's step
    /// updates them in place instead of copying them. This is the training loop's call:
    ///
    /// ```
    /// use ferrograd_tensor::{Parameter, Tensor};
    /// let w = Parameter::new(Tensor::<f32>::from([1.0, 2.0]));
    /// let loss = w.tensor().square().sum_all();
    /// let grads = loss.backward_free()?;
    /// let g = grads.get(&w).unwrap().to_vec();
    /// w.update(|v| v.iter_mut().zip(&g).for_each(|(v, g)| *v -= 0.25 * g))?; // in place
    /// assert_eq!(w.tensor().to_vec(), [0.5, 1.0]);
    /// assert!(loss.backward().is_err()); // the graph is gone
    /// # Ok::<(), ferrograd_tensor::TensorError>(())
    /// ```
    ///
    /// # Errors
    /// As [`Tensor::backward`].
    pub fn backward_free(&self) -> Result<Gradients<T>> {
        self.check_loss("backward_free")?;
        self.run_backward(Tensor::ones(self.shape()), &[], true)
    }

    /// Backpropagates and also keeps the gradients of the given intermediate tensors
    /// (PyTorch's `retain_grad()`). The graph is kept.
    ///
    /// # Errors
    /// As [`Tensor::backward`].
    pub fn backward_retaining(&self, keep: &[&Tensor<T>]) -> Result<Gradients<T>> {
        self.check_loss("backward")?;
        let keep: Vec<TensorId> = keep.iter().map(|t| t.id()).collect();
        self.run_backward(Tensor::ones(self.shape()), &keep, false)
    }

    /// Backpropagates a given output gradient (a vector-Jacobian product) from a tensor
    /// of any shape. The graph is kept.
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
        self.run_backward(grad.detach(), &[], false)
    }

    fn check_loss(&self, op: &'static str) -> Result<()> {
        if self.numel() != 1 {
            return Err(TensorError::NotScalar {
                op,
                shape: shape_of(self.shape()),
            });
        }
        Ok(())
    }

    fn run_backward(&self, seed: Tensor<T>, keep: &[TensorId], free: bool) -> Result<Gradients<T>> {
        if !self.requires_grad() {
            return Err(TensorError::NoGraph);
        }
        let _no_grad = NoGradGuard::new();
        let mut order = topological_order(self)?;
        let mut grads: IdMap<Tensor<T>> =
            IdMap::with_capacity_and_hasher(order.len(), Default::default());
        grads.insert(self.id(), seed);
        let mut result = Gradients::new();
        // Popped from the end (outputs first), so with `free` each tensor of the graph is
        // released as soon as its gradient has been passed on.
        while let Some(tensor) = order.pop() {
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
            let mut guard = node.edges();
            let Some(edges) = guard.as_ref() else {
                return Err(TensorError::GraphFreed { op: node.name });
            };
            // A one-input op may add its gradient into what its input has collected.
            let mut added = false;
            if let [input] = edges.inputs.as_slice()
                && input.requires_grad()
                && let Some(mut pending) = grads.remove(&input.id())
            {
                added = edges.op.accumulate_input_grad(input, &grad, &mut pending)?;
                grads.insert(input.id(), pending);
            }
            if !added {
                let input_grads = edges.op.backward(&edges.inputs, &tensor, &grad)?;
                if input_grads.len() != edges.inputs.len() {
                    return Err(TensorError::BackwardArity {
                        op: node.name,
                        inputs: edges.inputs.len(),
                        gradients: input_grads.len(),
                    });
                }
                for (input, input_grad) in edges.inputs.iter().zip(input_grads) {
                    let Some(input_grad) = input_grad else {
                        continue;
                    };
                    if !input.requires_grad() {
                        continue;
                    }
                    let input_grad = reduce_to_shape(node.name, input_grad, input.shape())?;
                    accumulate_into(&mut grads, input.id(), input_grad, node.name)?;
                }
            }
            if free {
                // Dropped outside the lock: dropping inputs may free a long chain.
                let released = guard.take();
                drop(guard);
                drop(released);
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
/// inputs (post-order), found with an explicit stack: no recursion, any depth. The
/// tensors are cheap clones (a reference count each), so the order does not hold any
/// node's lock.
///
/// # Errors
/// [`TensorError::GraphFreed`] when a node on the way was freed by an earlier
/// [`Tensor::backward_free`].
fn topological_order<T: Scalar>(root: &Tensor<T>) -> Result<Vec<Tensor<T>>> {
    let mut order = Vec::with_capacity(16);
    let mut visited = IdSet::with_capacity_and_hasher(16, Default::default());
    visited.insert(root.id());
    // (tensor, its inputs still to visit)
    let mut stack: Vec<(Tensor<T>, Vec<Tensor<T>>)> = Vec::with_capacity(16);
    stack.push((root.clone(), inputs_of(root)?));
    while let Some((_, pending)) = stack.last_mut() {
        match pending.pop() {
            Some(child) => {
                if child.requires_grad() && visited.insert(child.id()) {
                    let grandchildren = inputs_of(&child)?;
                    stack.push((child, grandchildren));
                }
            }
            None => {
                let (tensor, _) = stack.pop().expect("the stack is not empty");
                order.push(tensor);
            }
        }
    }
    Ok(order)
}

/// The recorded inputs of `tensor`, last first (popped in order), or none for a leaf or
/// a constant.
fn inputs_of<T: Scalar>(tensor: &Tensor<T>) -> Result<Vec<Tensor<T>>> {
    match &tensor.inner.grad {
        GradState::Node(node) => match node.edges().as_ref() {
            Some(edges) => Ok(edges.inputs.iter().rev().cloned().collect()),
            None => Err(TensorError::GraphFreed { op: node.name }),
        },
        _ => Ok(Vec::new()),
    }
}
