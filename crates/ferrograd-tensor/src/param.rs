//! Trainable parameters: tensors that optimizers update in place between steps.

use crate::autograd::HasTensorId;
use crate::error::{Result, TensorError, shape_of};
use crate::tensor::{GradState, Inner, Tensor, TensorId};
use ferrograd_linalg::Scalar;
use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, RwLock, RwLockReadGuard};

/// A trainable tensor with a stable identity.
///
/// Modules hold parameters; [`Parameter::tensor`] gives the current value as a graph leaf
/// (cheap: a reference count), `backward` stores its gradient under [`Parameter::id`],
/// and optimizers write new values with [`Parameter::update`].
///
/// **`clone()` shares, it does not copy**: a clone is the same parameter (same id, same
/// value, one update or freeze seen through both), like sharing a `torch.nn.Parameter`
/// between a module and an optimizer or tying two layers' weights. So cloning a layer
/// or a model that holds parameters ties the copy to the original:
/// `vec![block; 6]` is six views of one block. For an independent copy (PyTorch's
/// `copy.deepcopy`) use [`Parameter::deep_clone`], or [`deep_clone()`] for a whole
/// layer or model.
///
/// ```
/// use ferrograd_tensor::{Parameter, Tensor};
/// let w = Parameter::new(Tensor::<f32>::from([1.0, 2.0]));
/// let loss = w.tensor().square().sum_all();
/// let grads = loss.backward()?;
/// let g = grads.get(&w).unwrap().to_vec();           // [2, 4]
/// w.update(|value| for (v, g) in value.iter_mut().zip(&g) { *v -= 0.5 * g })?;
/// assert_eq!(w.tensor().to_vec(), vec![0.0, 0.0]);
/// # Ok::<(), ferrograd_tensor::TensorError>(())
/// ```
pub struct Parameter<T: Scalar = f32> {
    value: Arc<RwLock<Tensor<T>>>,
    id: TensorId,
}

/// Shares the parameter: the clone is the same parameter (a tie), not a copy; see
/// [`Parameter::deep_clone`] and [`deep_clone()`] for copies. Inside [`deep_clone()`]
/// it makes the copy instead.
impl<T: Scalar> Clone for Parameter<T> {
    fn clone(&self) -> Self {
        // `try_with`: during a thread's teardown (no thread-locals left) clone shares.
        DEEP_COPIES
            .try_with(|memo| {
                let mut memo = memo.borrow_mut();
                let Some(copies) = memo.as_mut() else {
                    return self.shared();
                };
                // One copy per parameter, so ties inside the cloned value stay ties.
                if let Some(copy) = copies
                    .get(&self.id)
                    .and_then(|c| c.downcast_ref::<Parameter<T>>())
                {
                    return copy.shared();
                }
                let copy = self.deep_clone();
                copies.insert(self.id, Box::new(copy.shared()));
                copy
            })
            .unwrap_or_else(|_| self.shared())
    }
}

thread_local! {
    /// The copies made so far by the [`deep_clone()`] running on this thread, by the
    /// original's id; `None` outside one.
    static DEEP_COPIES: RefCell<Option<HashMap<TensorId, Box<dyn Any>>>> =
        const { RefCell::new(None) };
}

/// Clones `value` with every [`Parameter`] in it copied instead of shared: PyTorch's
/// `copy.deepcopy` of a module. The copy's parameters have fresh ids, the same values
/// and the same trainable flags, and are independent of the original's; a parameter
/// that appears twice in `value` (a tied weight) becomes one copy in two places, so ties
/// inside `value` stay ties in the copy.
///
/// It works through `value`'s [`Clone`]: parameters cloned during that call, on this
/// thread, are copied (a `Clone` impl that clones parameters on other threads would
/// share those). Tensors other than parameters are immutable and stay shared.
///
/// ```
/// use ferrograd_tensor::{deep_clone, Parameter, Tensor};
/// let w = Parameter::new(Tensor::<f32>::from([1.0, 2.0]));
/// let pair = (w.clone(), w.clone());                  // one parameter, tied in two places
/// let copy = deep_clone(&pair);
/// copy.0.set(&Tensor::from([5.0, 6.0]))?;
/// assert_eq!(w.tensor().to_vec(), [1.0, 2.0]);         // the original is untouched
/// assert_eq!(copy.1.tensor().to_vec(), [5.0, 6.0]);    // the copy's tie is kept
/// assert!(!copy.0.same_as(&w) && copy.0.same_as(&copy.1));
/// # Ok::<(), ferrograd_tensor::TensorError>(())
/// ```
pub fn deep_clone<V: Clone>(value: &V) -> V {
    /// Restores the state before this call, also when a `Clone` impl panics.
    struct Scope(Option<Option<HashMap<TensorId, Box<dyn Any>>>>);
    impl Drop for Scope {
        fn drop(&mut self) {
            if let Some(outer) = self.0.take() {
                DEEP_COPIES.with(|memo| *memo.borrow_mut() = outer);
            }
        }
    }
    // Inside an enclosing deep_clone (a `Clone` impl calling it), share its copies.
    let outer = DEEP_COPIES.with(|memo| {
        let mut memo = memo.borrow_mut();
        if memo.is_some() {
            None
        } else {
            Some(memo.replace(HashMap::new()))
        }
    });
    let _scope = Scope(outer);
    value.clone()
}

impl<T: Scalar> std::fmt::Debug for Parameter<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parameter")
            .field("id", &self.id)
            .field("shape", &self.shape())
            .field("trainable", &self.is_trainable())
            .finish()
    }
}

impl<T: Scalar> HasTensorId for Parameter<T> {
    fn tensor_id(&self) -> TensorId {
        self.id
    }
}

impl<T: Scalar> Parameter<T> {
    /// A parameter holding `value`'s elements (contiguous, detached): moved in when
    /// nothing else shares them (a freshly made tensor), copied otherwise.
    pub fn new(value: Tensor<T>) -> Self {
        let id = TensorId::fresh();
        let shape = value.shape().to_vec();
        let leaf = Self::leaf(id, value.into_vec(), &shape);
        Self {
            value: Arc::new(RwLock::new(leaf)),
            id,
        }
    }

    fn leaf(id: TensorId, data: Vec<T>, shape: &[usize]) -> Tensor<T> {
        Self::leaf_from_storage(
            id,
            Arc::new(crate::storage::Storage::new(data)),
            shape,
            true,
        )
    }

    /// The value tensor: a graph leaf when trainable, a constant (recording nothing)
    /// when frozen. Either way it carries the parameter's id.
    fn leaf_from_storage(
        id: TensorId,
        storage: Arc<crate::storage::Storage<T>>,
        shape: &[usize],
        trainable: bool,
    ) -> Tensor<T> {
        Tensor {
            inner: Arc::new(Inner {
                id,
                storage,
                layout: crate::layout::Layout::contiguous(shape),
                grad: if trainable {
                    GradState::Leaf
                } else {
                    GradState::None
                },
            }),
        }
    }

    /// True unless the parameter is frozen (PyTorch's `requires_grad`).
    pub fn is_trainable(&self) -> bool {
        self.read().requires_grad()
    }

    /// Marks the parameter trainable or frozen (PyTorch's `requires_grad_(flag)`), for
    /// every clone of it (a module and an optimizer share one parameter).
    ///
    /// A frozen parameter still takes part in the forward pass, but its tensor is a
    /// constant: no graph is recorded for it and no gradient work is done for it, so the
    /// backward of a frozen `Linear` skips the weight-gradient product. Optimizers find
    /// no gradient for it and leave it (and its state) unchanged.
    ///
    /// ```
    /// use ferrograd_tensor::{Parameter, Tensor};
    /// let w = Parameter::new(Tensor::<f32>::from([1.0, 2.0]));
    /// let b = Parameter::new(Tensor::<f32>::from([0.5, 0.5]));
    /// w.set_trainable(false);
    /// let loss = w.tensor().mul(&b.tensor())?.sum_all();
    /// let grads = loss.backward()?;
    /// assert!(grads.get(&w).is_none());                          // frozen: no gradient
    /// assert_eq!(grads.get(&b).unwrap().to_vec(), [1.0, 2.0]);    // the rest unchanged
    /// # Ok::<(), ferrograd_tensor::TensorError>(())
    /// ```
    pub fn set_trainable(&self, trainable: bool) {
        let mut guard = self.value.write().unwrap_or_else(|e| e.into_inner());
        if guard.requires_grad() == trainable {
            return;
        }
        let storage = Arc::clone(&guard.inner.storage);
        let shape = guard.shape().to_vec();
        *guard = Self::leaf_from_storage(self.id, storage, &shape, trainable);
    }

    /// Freezes the parameter: `set_trainable(false)`.
    pub fn freeze(&self) {
        self.set_trainable(false);
    }

    /// Makes the parameter trainable again: `set_trainable(true)`.
    pub fn unfreeze(&self) {
        self.set_trainable(true);
    }

    /// The same parameter (what `clone()` does outside [`deep_clone()`]).
    fn shared(&self) -> Self {
        Self {
            value: Arc::clone(&self.value),
            id: self.id,
        }
    }

    /// An independent copy (PyTorch's `copy.deepcopy` of a parameter): the same value
    /// and trainable flag under a fresh id; updating or freezing one leaves the other
    /// as it was. `clone()` instead shares the parameter (a tie).
    ///
    /// ```
    /// use ferrograd_tensor::{Parameter, Tensor};
    /// let w = Parameter::new(Tensor::<f32>::from([1.0, 2.0]));
    /// let (tied, copy) = (w.clone(), w.deep_clone());
    /// w.set(&Tensor::from([3.0, 4.0]))?;
    /// assert_eq!(tied.tensor().to_vec(), [3.0, 4.0]); // a clone is the same parameter
    /// assert_eq!(copy.tensor().to_vec(), [1.0, 2.0]); // a deep clone is not
    /// assert!(tied.same_as(&w) && !copy.same_as(&w) && copy.id() != w.id());
    /// # Ok::<(), ferrograd_tensor::TensorError>(())
    /// ```
    pub fn deep_clone(&self) -> Self {
        let current = self.read().clone();
        let trainable = current.requires_grad();
        let copy = Self::new(current.detach());
        copy.set_trainable(trainable);
        copy
    }

    /// True when `other` is this same parameter (a clone of it), as a tied weight is.
    pub fn same_as(&self, other: &Parameter<T>) -> bool {
        Arc::ptr_eq(&self.value, &other.value)
    }

    fn read(&self) -> RwLockReadGuard<'_, Tensor<T>> {
        // A panic while holding the lock cannot leave the tensor half-written (updates
        // replace it whole), so a poisoned lock is still safe to read.
        self.value.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The current value as a trainable leaf of the graph.
    pub fn tensor(&self) -> Tensor<T> {
        self.read().clone()
    }

    /// The id its gradients are stored under; stable across updates.
    pub fn id(&self) -> TensorId {
        self.id
    }

    /// Shape of the parameter.
    pub fn shape(&self) -> Vec<usize> {
        self.read().shape().to_vec()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.read().numel()
    }

    /// Replaces the value with `value`'s elements (same shape required).
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] when the shape differs.
    pub fn set(&self, value: &Tensor<T>) -> Result<()> {
        let current = self.shape();
        if value.shape() != current.as_slice() {
            return Err(TensorError::ShapeMismatch {
                op: "Parameter::set",
                lhs: shape_of(&current),
                rhs: shape_of(value.shape()),
            });
        }
        let mut guard = self.value.write().unwrap_or_else(|e| e.into_inner());
        let trainable = guard.requires_grad();
        let mut data = crate::storage::take_buffer::<T>(value.numel());
        data.copy_from_slice(&value.contiguous_data());
        *guard = Self::leaf_from_storage(
            self.id,
            Arc::new(crate::storage::Storage::new(data)),
            value.shape(),
            trainable,
        );
        Ok(())
    }

    /// Updates the elements in place through `f` (row-major slice). When a graph from an
    /// earlier step still holds the old value, the old value is left untouched and the
    /// update goes to a fresh buffer, so no recorded computation changes under it.
    ///
    /// # Errors
    /// Never for now; reserved for checks on the updated values.
    pub fn update(&self, f: impl FnOnce(&mut [T])) -> Result<()> {
        let mut guard = self.value.write().unwrap_or_else(|e| e.into_inner());
        let shape = guard.shape().to_vec();
        if let Some(inner) = Arc::get_mut(&mut guard.inner)
            && let Some(storage) = Arc::get_mut(&mut inner.storage)
        {
            f(&mut storage.data);
            return Ok(());
        }
        // Reuse a pooled buffer: a step should not go to the OS for memory.
        let mut data = crate::storage::take_buffer::<T>(guard.numel());
        data.copy_from_slice(&guard.contiguous_data());
        f(&mut data);
        let trainable = guard.requires_grad();
        *guard = Self::leaf_from_storage(
            self.id,
            Arc::new(crate::storage::Storage::new(data)),
            &shape,
            trainable,
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_tensor_is_moved_in_and_a_shared_one_copied() {
        // Fresh: the parameter owns the very buffer (no copy, no second allocation).
        let fresh = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0], &[3]).unwrap();
        let address = fresh.as_slice().unwrap().as_ptr();
        let p = Parameter::new(fresh);
        assert_eq!(p.tensor().as_slice().unwrap().as_ptr(), address);
        assert_eq!(p.tensor().to_vec(), [1.0, 2.0, 3.0]);
        // Shared: a copy, so updating the parameter leaves the other handle as it was.
        let shared = Tensor::<f32>::from_vec(vec![4.0, 5.0], &[2]).unwrap();
        let q = Parameter::new(shared.clone());
        q.update(|v| v[0] = 9.0).unwrap();
        assert_eq!(q.tensor().to_vec(), [9.0, 5.0]);
        assert_eq!(shared.to_vec(), [4.0, 5.0]);
        // A view: copied, contiguous.
        let base = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
        let r = Parameter::new(base.t().unwrap());
        assert_eq!(r.tensor().to_vec(), [1.0, 3.0, 2.0, 4.0]);
    }
}
