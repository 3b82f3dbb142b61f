//! The [`Tensor`] type: a cheap handle to shared storage plus a layout, and, when it is
//! part of a computation that needs gradients, the operation that produced it.

use crate::error::{Result, TensorError, shape_of};
use crate::grad_mode;
use crate::layout::{Layout, checked_numel, for_each_run};
use crate::rng::Rng;
use crate::storage::{self, Storage};
use ferrograd_linalg::Scalar;
use std::borrow::Cow;
use std::sync::{Arc, Mutex, MutexGuard};

pub use crate::tensor_id::TensorId;

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

    /// For an op with one input: adds that input's gradient straight into `pending`, the
    /// gradient the input has already collected from other uses, and returns `true`; or
    /// returns `false` (the default) to have the engine call [`BackwardOp::backward`] and
    /// add its result.
    ///
    /// A view whose input gradient is zero outside a window overrides it to add into the
    /// window alone instead of building a full-size gradient of zeros and adding all of
    /// it: the narrows that split one fused q/k/v projection into three cost one window
    /// each. (Narrow's override leaves a −0.0 outside its window as it is, where adding
    /// zero padding would give +0.0.)
    ///
    /// # Errors
    /// As [`BackwardOp::backward`].
    fn accumulate_input_grad(
        &self,
        input: &Tensor<T>,
        grad_output: &Tensor<T>,
        pending: &mut Tensor<T>,
    ) -> Result<bool> {
        let _ = (input, grad_output, pending);
        Ok(false)
    }
}

/// How a tensor takes part in autograd.
pub(crate) enum GradState<T: Scalar> {
    /// Constant: no gradient flows to or through it.
    None,
    /// A trainable leaf: gradients are collected for it.
    Leaf,
    /// Produced by an operation on tensors that need gradients.
    Node(Node<T>),
}

/// A recorded operation: what produced a tensor, and from what.
pub(crate) struct Node<T: Scalar> {
    /// The operation's name, kept after the graph is freed (PyTorch's `grad_fn`).
    pub(crate) name: &'static str,
    /// The operation and its inputs; `None` once a backward pass that frees the graph
    /// ([`Tensor::backward_free`](crate::Tensor::backward_free)) has used them, so the
    /// saved tensors and the parameters' old values are released.
    pub(crate) edges: Mutex<Option<Edges<T>>>,
}

/// The part of a [`Node`] that backward uses and may free.
pub(crate) struct Edges<T: Scalar> {
    pub(crate) op: Box<dyn BackwardOp<T>>,
    pub(crate) inputs: Vec<Tensor<T>>,
}

impl<T: Scalar> Node<T> {
    /// The edges, locked (a poisoned lock only means a panic elsewhere: the data is
    /// whole, since it is replaced, never mutated piecewise).
    pub(crate) fn edges(&self) -> MutexGuard<'_, Option<Edges<T>>> {
        self.edges.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub(crate) struct Inner<T: Scalar> {
    pub(crate) id: TensorId,
    pub(crate) storage: Arc<Storage<T>>,
    pub(crate) layout: Layout,
    pub(crate) grad: GradState<T>,
}

impl<T: Scalar> Drop for Inner<T> {
    /// Frees a long chain of operations without recursing once per link, so a graph of
    /// any depth can be dropped on a small stack.
    fn drop(&mut self) {
        let GradState::Node(node) = &mut self.grad else {
            return;
        };
        let edges = node.edges.get_mut().unwrap_or_else(|e| e.into_inner());
        let mut pending = edges.take().map(|e| e.inputs).unwrap_or_default();
        while let Some(tensor) = pending.pop() {
            if let Ok(mut inner) = Arc::try_unwrap(tensor.inner)
                && let GradState::Node(node) = &mut inner.grad
                && let Some(edges) = node
                    .edges
                    .get_mut()
                    .unwrap_or_else(|e| e.into_inner())
                    .take()
            {
                pending.extend(edges.inputs);
            }
        }
    }
}

/// An n-dimensional array of `f32` (the default) or `f64` with reverse-mode autodiff.
///
/// Cloning is cheap (a reference count); views such as [`Tensor::transpose`],
/// [`Tensor::reshape`] of contiguous data, [`Tensor::broadcast_to`] and
/// [`Tensor::narrow`] share storage. Tensors are immutable: operations return new tensors.
///
/// ```
/// use ferrograd_tensor::Tensor;
/// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2])?;
/// let y = x.matmul(&x.t()?)?;
/// assert_eq!(y.to_vec(), vec![5.0, 11.0, 11.0, 25.0]);
/// # Ok::<(), ferrograd_tensor::TensorError>(())
/// ```
pub struct Tensor<T: Scalar = f32> {
    pub(crate) inner: Arc<Inner<T>>,
}

impl<T: Scalar> Clone for Tensor<T> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T: Scalar> std::fmt::Debug for Tensor<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tensor")
            .field("id", &self.inner.id)
            .field("dtype", &T::DTYPE)
            .field("shape", &self.shape())
            .field("requires_grad", &self.requires_grad())
            .field("op", &self.op_name())
            .finish()
    }
}

impl<T: Scalar> Tensor<T> {
    // ----- construction ---------------------------------------------------------------

    pub(crate) fn from_storage(
        storage: Arc<Storage<T>>,
        layout: Layout,
        grad: GradState<T>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                id: TensorId::fresh(),
                storage,
                layout,
                grad,
            }),
        }
    }

    /// A constant tensor owning `data` laid out row-major; `shape` is not checked.
    pub(crate) fn from_vec_unchecked(data: Vec<T>, shape: &[usize]) -> Self {
        debug_assert_eq!(checked_numel(shape), Some(data.len()));
        Self::from_storage(
            Arc::new(Storage::new(data)),
            Layout::contiguous(shape),
            GradState::None,
        )
    }

    /// A tensor of `shape` filled row-major from `data`.
    ///
    /// # Errors
    /// [`TensorError::ElementCount`] when `data.len()` is not the product of `shape`.
    pub fn from_vec(data: Vec<T>, shape: &[usize]) -> Result<Self> {
        if checked_numel(shape) != Some(data.len()) {
            return Err(TensorError::ElementCount {
                op: "from_vec",
                shape: shape_of(shape),
                len: data.len(),
            });
        }
        Ok(Self::from_vec_unchecked(data, shape))
    }

    /// A tensor of `shape` copied from a slice; see [`Tensor::from_vec`].
    ///
    /// # Errors
    /// [`TensorError::ElementCount`] when the length does not fill the shape.
    pub fn from_slice(data: &[T], shape: &[usize]) -> Result<Self> {
        Self::from_vec(data.to_vec(), shape)
    }

    /// A 2-D tensor from equally long rows.
    ///
    /// ```
    /// use ferrograd_tensor::Tensor;
    /// let x = Tensor::<f32>::from_rows(&[[22.0, 25.0], [25.0, 35.0]])?;
    /// assert_eq!(x.shape(), &[2, 2]);
    /// # Ok::<(), ferrograd_tensor::TensorError>(())
    /// ```
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] when rows differ in length.
    pub fn from_rows<R: AsRef<[T]>>(rows: &[R]) -> Result<Self> {
        let cols = rows.first().map_or(0, |r| r.as_ref().len());
        let mut data = Vec::with_capacity(rows.len() * cols);
        for row in rows {
            let row = row.as_ref();
            if row.len() != cols {
                return Err(TensorError::ShapeMismatch {
                    op: "from_rows",
                    lhs: shape_of(&[cols]),
                    rhs: shape_of(&[row.len()]),
                });
            }
            data.extend_from_slice(row);
        }
        Ok(Self::from_vec_unchecked(data, &[rows.len(), cols]))
    }

    /// A rank-0 tensor holding one value.
    pub fn scalar(value: T) -> Self {
        Self::from_vec_unchecked(vec![value], &[])
    }

    /// A tensor of `shape` with every element `value`.
    ///
    /// # Panics
    /// When the element count overflows or the buffer cannot be allocated; see
    /// [`Tensor::try_full`] for the fallible form.
    pub fn full(shape: &[usize], value: T) -> Self {
        Self::try_full(shape, value).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A tensor of `shape` with every element `value`, or an error for a shape too large
    /// to count or allocate.
    ///
    /// ```
    /// use ferrograd_tensor::{Tensor, TensorError};
    /// assert!(matches!(
    ///     Tensor::<f32>::try_full(&[usize::MAX, 2], 0.0),
    ///     Err(TensorError::TooLarge { .. })
    /// ));
    /// ```
    ///
    /// # Errors
    /// [`TensorError::TooLarge`] naming the shape.
    pub fn try_full(shape: &[usize], value: T) -> Result<Self> {
        Self::filled("full", shape, value)
    }

    /// `shape` filled with `value`, or [`TensorError::TooLarge`] naming `op` (the
    /// constructor the caller used) when the element count overflows or cannot be
    /// allocated.
    fn filled(op: &'static str, shape: &[usize], value: T) -> Result<Self> {
        let n = checked_len(op, shape, size_of::<T>())?;
        let mut data = storage::try_take_buffer(op, shape, n)?;
        data.fill(value);
        Ok(Self::from_vec_unchecked(data, shape))
    }

    /// A tensor of zeros.
    ///
    /// # Panics
    /// As [`Tensor::full`]; see [`Tensor::try_zeros`].
    pub fn zeros(shape: &[usize]) -> Self {
        Self::try_zeros(shape).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A tensor of zeros, or an error for a shape too large to count or allocate.
    ///
    /// # Errors
    /// [`TensorError::TooLarge`] naming the shape.
    pub fn try_zeros(shape: &[usize]) -> Result<Self> {
        Self::filled("zeros", shape, T::ZERO)
    }

    /// A tensor of ones.
    ///
    /// # Panics
    /// As [`Tensor::full`]; see [`Tensor::try_ones`].
    pub fn ones(shape: &[usize]) -> Self {
        Self::try_ones(shape).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A tensor of ones, or an error for a shape too large to count or allocate.
    ///
    /// # Errors
    /// [`TensorError::TooLarge`] naming the shape.
    pub fn try_ones(shape: &[usize]) -> Result<Self> {
        Self::filled("ones", shape, T::ONE)
    }

    /// Zeros with this tensor's shape.
    pub fn zeros_like(&self) -> Self {
        Self::zeros(self.shape())
    }

    /// Ones with this tensor's shape.
    pub fn ones_like(&self) -> Self {
        Self::ones(self.shape())
    }

    /// `start, start + step, …` up to but excluding `end`, as in `torch.arange`.
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] when `step` is zero, not finite, or points away
    /// from `end`; [`TensorError::TooLarge`] when the range has too many elements to
    /// allocate (`arange(0.0, 1e30, 1.0)`).
    pub fn arange(start: T, end: T, step: T) -> Result<Self> {
        let (s, e, st) = (start.to_f64(), end.to_f64(), step.to_f64());
        if st == 0.0 || !st.is_finite() || !s.is_finite() || !e.is_finite() || (e - s) * st < 0.0 {
            return Err(TensorError::InvalidArgument {
                op: "arange",
                reason: format!("cannot step from {start} to {end} by {step}"),
            });
        }
        let count = ((e - s) / st).ceil().max(0.0);
        // `as usize` saturates, so a count beyond usize is caught by the size check.
        let n = if count >= usize::MAX as f64 {
            usize::MAX
        } else {
            count as usize
        };
        checked_len("arange", &[n], size_of::<T>())?;
        let mut data = storage::try_take_buffer("arange", &[n], n)?;
        for (i, v) in data.iter_mut().enumerate() {
            *v = T::from_f64(s + i as f64 * st);
        }
        Ok(Self::from_vec_unchecked(data, &[n]))
    }

    /// The `n x n` identity matrix.
    ///
    /// # Panics
    /// When `n * n` overflows or cannot be allocated; see [`Tensor::try_eye`].
    pub fn eye(n: usize) -> Self {
        Self::try_eye(n).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The `n x n` identity matrix, or an error when `n * n` elements cannot be counted or
    /// allocated.
    ///
    /// # Errors
    /// [`TensorError::TooLarge`] naming the shape.
    pub fn try_eye(n: usize) -> Result<Self> {
        let mut t = Self::filled("eye", &[n, n], T::ZERO)?;
        let inner = Arc::get_mut(&mut t.inner).expect("a fresh tensor is not shared");
        let data = &mut Arc::get_mut(&mut inner.storage)
            .expect("a fresh buffer is not shared")
            .data;
        for i in 0..n {
            data[i * n + i] = T::ONE;
        }
        Ok(t)
    }

    /// Samples uniformly from `[low, high)`.
    ///
    /// # Panics
    /// As [`Tensor::full`]; see [`Tensor::try_rand_uniform`].
    pub fn rand_uniform(shape: &[usize], low: T, high: T, rng: &mut Rng) -> Self {
        Self::try_rand_uniform(shape, low, high, rng).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Samples uniformly from `[low, high)`, or an error for a shape too large.
    ///
    /// # Errors
    /// [`TensorError::TooLarge`] naming the shape.
    pub fn try_rand_uniform(shape: &[usize], low: T, high: T, rng: &mut Rng) -> Result<Self> {
        let n = checked_len("rand_uniform", shape, size_of::<T>())?;
        let mut data = storage::try_take_buffer("rand_uniform", shape, n)?;
        let (lo, hi) = (low.to_f64(), high.to_f64());
        // An empty or NaN interval has nothing below `high` to wait for.
        let open = low.partial_cmp(&high) == Some(std::cmp::Ordering::Less);
        for v in &mut data {
            // In f64 the draw is below `high`, but rounding to f32 can reach it: redraw
            // then (about once in 3·10⁷ draws), so the interval stays half-open.
            *v = loop {
                let x = T::from_f64(lo + (hi - lo) * rng.next_f64());
                if x < high || !open {
                    break x;
                }
            };
        }
        Ok(Self::from_vec_unchecked(data, shape))
    }

    /// Samples from a normal distribution with the given mean and standard deviation.
    ///
    /// # Panics
    /// As [`Tensor::full`]; see [`Tensor::try_randn`].
    pub fn randn(shape: &[usize], mean: T, std: T, rng: &mut Rng) -> Self {
        Self::try_randn(shape, mean, std, rng).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Samples from a normal distribution, or an error for a shape too large.
    ///
    /// # Errors
    /// [`TensorError::TooLarge`] naming the shape.
    pub fn try_randn(shape: &[usize], mean: T, std: T, rng: &mut Rng) -> Result<Self> {
        let n = checked_len("randn", shape, size_of::<T>())?;
        let mut data = storage::try_take_buffer("randn", shape, n)?;
        let (m, s) = (mean.to_f64(), std.to_f64());
        for v in &mut data {
            *v = T::from_f64(m + s * rng.normal());
        }
        Ok(Self::from_vec_unchecked(data, shape))
    }

    // ----- inspection -----------------------------------------------------------------

    /// Sizes of the dimensions.
    pub fn shape(&self) -> &[usize] {
        self.inner.layout.shape()
    }

    /// Sizes of the dimensions (alias of [`Tensor::shape`], as candle and ndarray name it).
    pub fn dims(&self) -> &[usize] {
        self.shape()
    }

    /// Size of one dimension (negative counts from the end).
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`] for an axis out of range.
    pub fn dim(&self, axis: isize) -> Result<usize> {
        let a = crate::layout::normalize_axis("dim", axis, self.shape())?;
        Ok(self.shape()[a])
    }

    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        self.inner.layout.rank()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.inner.layout.numel()
    }

    /// The layout: shape, strides and offset into the storage.
    pub fn layout(&self) -> &Layout {
        &self.inner.layout
    }

    /// Strides in elements.
    pub fn strides(&self) -> &[usize] {
        self.inner.layout.strides()
    }

    /// True when the elements are dense and row-major.
    pub fn is_contiguous(&self) -> bool {
        self.inner.layout.is_contiguous()
    }

    /// The autograd identity of this tensor.
    pub fn id(&self) -> TensorId {
        self.inner.id
    }

    /// True when gradients flow to or through this tensor.
    pub fn requires_grad(&self) -> bool {
        !matches!(self.inner.grad, GradState::None)
    }

    /// True for a trainable leaf (a parameter, or a tensor marked with
    /// [`Tensor::set_requires_grad`]).
    pub fn is_leaf(&self) -> bool {
        matches!(self.inner.grad, GradState::Leaf)
    }

    /// Name of the operation that produced this tensor in the graph, if any
    /// (PyTorch's `grad_fn`).
    pub fn op_name(&self) -> Option<&'static str> {
        match &self.inner.grad {
            GradState::Node(node) => Some(node.name),
            _ => None,
        }
    }

    /// True when both tensors share the same storage buffer (one is a view of the other).
    pub fn shares_storage_with(&self, other: &Tensor<T>) -> bool {
        Arc::ptr_eq(&self.inner.storage, &other.inner.storage)
    }

    /// The elements in row-major order (copied).
    pub fn to_vec(&self) -> Vec<T> {
        self.contiguous_data().into_owned()
    }

    /// The elements of a 2-D tensor as rows.
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] unless the tensor has rank 2.
    pub fn to_vec2(&self) -> Result<Vec<Vec<T>>> {
        let &[_, cols] = self.shape() else {
            return Err(TensorError::InvalidArgument {
                op: "to_vec2",
                reason: format!(
                    "expected a 2-D tensor, got shape {}",
                    shape_of(self.shape())
                ),
            });
        };
        let data = self.contiguous_data();
        Ok(if cols == 0 {
            vec![Vec::new(); self.shape()[0]]
        } else {
            data.chunks(cols).map(<[T]>::to_vec).collect()
        })
    }

    /// The value of a one-element tensor (any rank), as PyTorch's `item()`.
    ///
    /// # Errors
    /// [`TensorError::NotScalar`] when the tensor has more or fewer than one element.
    pub fn item(&self) -> Result<T> {
        if self.numel() != 1 {
            return Err(TensorError::NotScalar {
                op: "item",
                shape: shape_of(self.shape()),
            });
        }
        Ok(self.inner.storage.data[self.inner.layout.offset()])
    }

    /// The element at a multi-index.
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] for a wrong number of indices and
    /// [`TensorError::IndexOutOfRange`] for an index past its axis.
    pub fn get(&self, index: &[usize]) -> Result<T> {
        if index.len() != self.rank() {
            return Err(TensorError::InvalidArgument {
                op: "get",
                reason: format!(
                    "{} indices given for a tensor of shape {}",
                    index.len(),
                    shape_of(self.shape())
                ),
            });
        }
        let mut pos = self.inner.layout.offset();
        for (axis, ((&i, &d), &s)) in index
            .iter()
            .zip(self.shape())
            .zip(self.strides())
            .enumerate()
        {
            if i >= d {
                return Err(TensorError::IndexOutOfRange {
                    op: "get",
                    index: i,
                    axis,
                    size: d,
                });
            }
            pos += i * s;
        }
        Ok(self.inner.storage.data[pos])
    }

    /// The elements as a slice when the tensor is contiguous, without copying.
    pub fn as_slice(&self) -> Option<&[T]> {
        if !self.is_contiguous() {
            return None;
        }
        let start = self.inner.layout.offset();
        Some(&self.inner.storage.data[start..start + self.numel()])
    }

    /// The elements as a mutable slice, for writing in place, when nothing else can see
    /// them: this handle is the only one to its storage (no clone, no view, no graph
    /// holds it), the tensor is a constant (not part of a graph), and it is contiguous
    /// and spans its whole buffer. `None` otherwise, and nothing is changed.
    ///
    /// This is how a preallocated buffer (a KV cache) is written without a copy:
    ///
    /// ```
    /// use ferrograd_tensor::Tensor;
    /// let mut cache = Tensor::<f32>::zeros(&[4]);
    /// cache.try_data_mut().unwrap()[1] = 7.0;
    /// let view = cache.narrow(0, 0, 2)?;           // a view shares the buffer …
    /// assert_eq!(view.to_vec(), [0.0, 7.0]);
    /// assert!(cache.try_data_mut().is_none());     // … so it cannot change under it
    /// drop(view);
    /// assert!(cache.try_data_mut().is_some());
    /// # Ok::<(), ferrograd_tensor::TensorError>(())
    /// ```
    pub fn try_data_mut(&mut self) -> Option<&mut [T]> {
        let numel = self.numel();
        let inner = Arc::get_mut(&mut self.inner)?;
        if !matches!(inner.grad, GradState::None)
            || !inner.layout.is_contiguous()
            || inner.layout.offset() != 0
        {
            return None;
        }
        let storage = Arc::get_mut(&mut inner.storage)?;
        (storage.data.len() == numel).then_some(storage.data.as_mut_slice())
    }

    /// The elements in row-major order, moved out without a copy when nothing else can
    /// see them (the conditions of [`Tensor::try_data_mut`]), copied otherwise.
    pub(crate) fn into_vec(mut self) -> Vec<T> {
        if self.try_data_mut().is_some() {
            // `try_data_mut` just checked that both `Arc`s are unique.
            if let Some(storage) =
                Arc::get_mut(&mut self.inner).and_then(|inner| Arc::get_mut(&mut inner.storage))
            {
                return std::mem::take(&mut storage.data);
            }
        }
        self.to_vec()
    }

    /// The elements in row-major order: borrowed when contiguous, gathered otherwise.
    pub fn contiguous_data(&self) -> Cow<'_, [T]> {
        if let Some(slice) = self.as_slice() {
            return Cow::Borrowed(slice);
        }
        let mut out = storage::take_buffer::<T>(self.numel());
        let src = &self.inner.storage.data;
        let layout = &self.inner.layout;
        let mut pos = 0;
        // Whole runs at once: a copy for unit stride, a fill for a broadcast (stride 0),
        // a strided walk without per-element bounds checks otherwise.
        for_each_run(
            layout.shape(),
            [layout.strides()],
            [layout.offset()],
            |len, [start], [stride]| {
                let dst = &mut out[pos..pos + len];
                match stride {
                    1 => dst.copy_from_slice(&src[start..start + len]),
                    0 => dst.fill(src[start]),
                    _ => {
                        let run = &src[start..=start + (len - 1) * stride];
                        for (d, &s) in dst.iter_mut().zip(run.iter().step_by(stride)) {
                            *d = s;
                        }
                    }
                }
                pos += len;
            },
        );
        Cow::Owned(out)
    }

    /// The whole storage buffer (for kernels that walk the layout themselves).
    pub(crate) fn storage_data(&self) -> &[T] {
        &self.inner.storage.data
    }

    /// The elements, row-major and writable in place, when nothing else holds them (a
    /// gradient being accumulated); `None` for a view, shared storage or a shared handle.
    pub(crate) fn unique_data_mut(&mut self) -> Option<&mut [T]> {
        if !self.is_contiguous() || self.inner.layout.offset() != 0 {
            return None;
        }
        let inner = Arc::get_mut(&mut self.inner)?;
        let numel = inner.layout.numel();
        let storage = Arc::get_mut(&mut inner.storage)?;
        (storage.data.len() == numel).then_some(&mut storage.data[..])
    }

    /// True when any element is NaN.
    pub fn has_nan(&self) -> bool {
        self.contiguous_data().iter().any(|v| v.is_nan())
    }

    // ----- autograd plumbing ------------------------------------------------------------

    /// A copy of this tensor marked (or unmarked) as a trainable leaf: `backward` collects
    /// its gradient. Shares storage with `self`; the result is a new leaf with a new id.
    ///
    /// ```
    /// use ferrograd_tensor::Tensor;
    /// let w = Tensor::from_vec(vec![2.0f64], &[1])?.set_requires_grad(true);
    /// let loss = w.mul(&w)?.sum_all();
    /// let grads = loss.backward()?;
    /// assert_eq!(grads.get(&w).unwrap().to_vec(), vec![4.0]);
    /// # Ok::<(), ferrograd_tensor::TensorError>(())
    /// ```
    pub fn set_requires_grad(&self, requires_grad: bool) -> Self {
        let grad = if requires_grad {
            GradState::Leaf
        } else {
            GradState::None
        };
        Self::from_storage(
            Arc::clone(&self.inner.storage),
            self.inner.layout.clone(),
            grad,
        )
    }

    /// The same values, cut from the graph: no gradient flows back through the result.
    pub fn detach(&self) -> Self {
        if !self.requires_grad() {
            return self.clone();
        }
        self.set_requires_grad(false)
    }

    /// A buffer of `len` elements for a new tensor's data, to be filled and handed to
    /// [`Tensor::from_op`] or [`Tensor::from_vec`]: an idle buffer of that length from
    /// this thread's pool of large buffers when there is one (the buffers of dropped
    /// tensors go back to it), else a fresh one. The contents are unspecified (but
    /// initialised): write every element. A custom op that takes its outputs from here
    /// reuses the previous training step's memory instead of faulting fresh pages in.
    ///
    /// ```
    /// use ferrograd_tensor::Tensor;
    /// let mut data = Tensor::<f32>::output_buffer(6);
    /// data.iter_mut().enumerate().for_each(|(i, x)| *x = i as f32);
    /// let t = Tensor::from_vec(data, &[2, 3])?;
    /// assert_eq!(t.to_vec(), [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    /// # Ok::<(), ferrograd_tensor::TensorError>(())
    /// ```
    pub fn output_buffer(len: usize) -> Vec<T> {
        storage::take_buffer::<T>(len)
    }

    /// The result of an operation on `inputs`: records `op` for backward when gradients
    /// are enabled and any input requires them.
    ///
    /// This is how every op in the crate is built, and how users add their own fused ops:
    /// compute the forward values, then hand them here with a [`BackwardOp`].
    ///
    /// # Errors
    /// [`TensorError::ElementCount`] when `data` does not fill `shape`.
    pub fn from_op<O: BackwardOp<T>>(
        data: Vec<T>,
        shape: &[usize],
        inputs: &[&Tensor<T>],
        op: O,
    ) -> Result<Self> {
        if checked_numel(shape) != Some(data.len()) {
            return Err(TensorError::ElementCount {
                op: op.name(),
                shape: shape_of(shape),
                len: data.len(),
            });
        }
        Ok(Self::with_layout(
            Arc::new(Storage::new(data)),
            Layout::contiguous(shape),
            inputs,
            op,
        ))
    }

    /// Like [`Tensor::from_op`] for a result whose shape the caller has checked.
    pub(crate) fn op_result<O: BackwardOp<T>>(
        data: Vec<T>,
        shape: &[usize],
        inputs: &[&Tensor<T>],
        op: O,
    ) -> Self {
        debug_assert_eq!(checked_numel(shape), Some(data.len()), "{}", op.name());
        Self::with_layout(
            Arc::new(Storage::new(data)),
            Layout::contiguous(shape),
            inputs,
            op,
        )
    }

    /// A view (same storage, new layout) recorded as `op`.
    pub(crate) fn view_of<O: BackwardOp<T>>(&self, layout: Layout, op: O) -> Self {
        Self::with_layout(Arc::clone(&self.inner.storage), layout, &[self], op)
    }

    pub(crate) fn with_layout<O: BackwardOp<T>>(
        storage: Arc<Storage<T>>,
        layout: Layout,
        inputs: &[&Tensor<T>],
        op: O,
    ) -> Self {
        let grad = if grad_mode::is_grad_enabled() && inputs.iter().any(|t| t.requires_grad()) {
            GradState::Node(Node {
                name: op.name(),
                edges: Mutex::new(Some(Edges {
                    op: Box::new(op),
                    inputs: inputs.iter().map(|&t| t.clone()).collect(),
                })),
            })
        } else {
            GradState::None
        };
        Self::from_storage(storage, layout, grad)
    }

    /// Converts the element type (e.g. to `f64` for gradient checks). Not differentiable:
    /// the result is a constant.
    pub fn to_dtype<U: Scalar>(&self) -> Tensor<U> {
        let data = self
            .contiguous_data()
            .iter()
            .map(|v| U::from_f64(v.to_f64()))
            .collect();
        Tensor::from_vec_unchecked(data, self.shape())
    }
}

/// The element count of `shape`, checked: it must fit in `usize` and its byte size
/// (`elem_size` bytes each) in `isize`, the most a Rust allocation can hold.
pub(crate) fn checked_len(op: &'static str, shape: &[usize], elem_size: usize) -> Result<usize> {
    let too_large = |reason: &str| TensorError::TooLarge {
        op,
        shape: shape_of(shape),
        reason: reason.to_string(),
    };
    let n = checked_numel(shape).ok_or_else(|| too_large("the element count overflows usize"))?;
    match n.checked_mul(elem_size.max(1)) {
        Some(bytes) if bytes <= isize::MAX as usize => Ok(n),
        _ => Err(too_large("its size in bytes exceeds isize::MAX")),
    }
}

impl<T: Scalar> From<T> for Tensor<T> {
    fn from(value: T) -> Self {
        Tensor::scalar(value)
    }
}

impl<T: Scalar, const N: usize> From<[T; N]> for Tensor<T> {
    fn from(values: [T; N]) -> Self {
        Tensor::from_vec_unchecked(values.to_vec(), &[N])
    }
}

impl<T: Scalar, const M: usize, const N: usize> From<[[T; N]; M]> for Tensor<T> {
    fn from(rows: [[T; N]; M]) -> Self {
        Tensor::from_vec_unchecked(rows.iter().flatten().copied().collect(), &[M, N])
    }
}

impl<T: Scalar> From<Vec<T>> for Tensor<T> {
    fn from(values: Vec<T>) -> Self {
        let n = values.len();
        Tensor::from_vec_unchecked(values, &[n])
    }
}
