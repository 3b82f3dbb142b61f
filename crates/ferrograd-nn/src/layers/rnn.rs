//! Elman recurrent layers (the book's §3.1 and §3.3): [`ElmanCell`] (one layer,
//! `h_t = tanh(x_t·W + h_{t−1}·U + b)`), [`ElmanRnn`] (any number of stacked layers over
//! batch-first sequences), and [`initialize_weights`], the chapter-3 notebook's
//! initialisation.
//!
//! # How the forward and backward passes over time run
//!
//! Each layer is one fused operation (`elman_layer`) with its own backward, instead of a
//! graph of `T` matrix products, additions and `tanh`s per layer:
//!
//! - forward: the input projection `X·W` of every time step is one large matrix product
//!   (`[B·T, I]·[I, H]`); then, step by step, `h_{t−1}·U` (a `[B, H]·[H, H]` product) is
//!   added with the bias and squashed by a vectorised `tanh`, written in place into the
//!   output `[B, T, H]`;
//! - backward (back-propagation through time): one reverse sweep carries `∂L/∂h` from
//!   step to step (`dz_t = (g_t + dh)·(1 − h_t²)`, `dh = dz_t·Uᵀ`), storing every `dz_t`;
//!   then `∂L/∂W = Xᵀ·dZ`, `∂L/∂U = H_{prev}ᵀ·dZ` and `∂L/∂X = dZ·Wᵀ` are each one large
//!   product over all steps, and `∂L/∂b` one column sum.
//!
//! Stacked layers run layer after layer (all of layer 0's steps, then layer 1's), which
//! computes exactly what the notebook's time-major loop computes: layer `l` at step `t`
//! depends only on layer `l` at step `t − 1` and layer `l − 1` at step `t`.
//! [`ElmanRnn::forward_composed`] builds the same computation from the tensor crate's
//! differentiable primitives, one step at a time (the notebook's formulation); the tests
//! check the fused gradients against it and against finite differences, and
//! `benches/nn.rs` (`rnn/{fused,composed}`) measures the difference.

use crate::error::{NnError, Result, shape_of};
use crate::init::{uniform, xavier_uniform};
use crate::module::{Forward, Module, Visitor};
use ferrograd_linalg::kernel::{MatView, MatViewMut, gemm};
use ferrograd_tensor::{BackwardOp, Parameter, Rng, Scalar, Tensor, simd_kernel};

/// One Elman layer: `h_t = tanh(x_t·Wh + h_{t−1}·Uh + b)`, the notebook's `ElmanRNNUnit`,
/// with its parameter names (`Uh`, `Wh`, `b`) and layouts: weights are stored
/// `[in, out]` and used as `x·W` (not transposed, unlike [`crate::Linear`]).
///
/// ```
/// use ferrograd_nn::ElmanCell;
/// use ferrograd_tensor::{Rng, Tensor};
/// let cell = ElmanCell::<f32>::new(3, 4, &mut Rng::new(0));
/// let x = Tensor::ones(&[2, 3]);              // a batch of 2 inputs
/// let h = cell.step(&x, &Tensor::zeros(&[2, 4]))?; // one step from h_0 = 0
/// assert_eq!(h.shape(), &[2, 4]);
/// assert!(h.to_vec().iter().all(|v| v.abs() < 1.0)); // tanh
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
///
/// `.clone()` shares the parameters: the clone is tied to this layer (one update
/// changes both). [`Module::deep_clone`] makes an
/// independent copy.
#[derive(Debug, Clone)]
pub struct ElmanCell<T: Scalar = f32> {
    /// Hidden-to-hidden weight `[hidden, hidden]` (the notebook's `Uh`).
    pub uh: Parameter<T>,
    /// Input-to-hidden weight `[input, hidden]` (the notebook's `Wh`).
    pub wh: Parameter<T>,
    /// Bias `[hidden]` (the notebook's `b`).
    pub b: Parameter<T>,
}

impl<T: Scalar> ElmanCell<T> {
    /// A layer with the notebook's initialisation: `Uh` and `Wh` Xavier-uniform (gain 1),
    /// `b` uniform on [0, 1) (drawn in that order from `rng`).
    pub fn new(input_size: usize, hidden_size: usize, rng: &mut Rng) -> Self {
        let square = [hidden_size, hidden_size];
        let input = [input_size, hidden_size];
        let xavier = |shape: &[usize], rng: &mut Rng| {
            if shape.contains(&0) {
                Tensor::zeros(shape)
            } else {
                xavier_uniform(shape, 1.0, rng).expect("a 2-D shape has fans")
            }
        };
        let uh = xavier(&square, rng);
        let wh = xavier(&input, rng);
        let b = uniform(&[hidden_size], 0.0, 1.0, rng);
        Self {
            uh: Parameter::new(uh),
            wh: Parameter::new(wh),
            b: Parameter::new(b),
        }
    }

    /// A layer holding the given weights: `wh` `[input, hidden]`, `uh` `[hidden, hidden]`,
    /// `b` `[hidden]`.
    ///
    /// # Errors
    /// [`NnError::BadInput`] when the shapes do not fit together.
    pub fn from_tensors(wh: Tensor<T>, uh: Tensor<T>, b: Tensor<T>) -> Result<Self> {
        let op = "ElmanCell::from_tensors";
        if wh.rank() != 2 {
            return Err(bad(op, "Wh of shape [input, hidden]", wh.shape()));
        }
        let hidden = wh.shape()[1];
        if uh.shape() != [hidden, hidden] {
            return Err(bad(
                op,
                &format!("Uh of shape [{hidden}, {hidden}]"),
                uh.shape(),
            ));
        }
        if b.shape() != [hidden] {
            return Err(bad(op, &format!("b of shape [{hidden}]"), b.shape()));
        }
        Ok(Self {
            uh: Parameter::new(uh),
            wh: Parameter::new(wh),
            b: Parameter::new(b),
        })
    }

    /// Size of each input vector.
    pub fn input_size(&self) -> usize {
        self.wh.shape()[0]
    }

    /// Size of the hidden state.
    pub fn hidden_size(&self) -> usize {
        self.wh.shape()[1]
    }

    /// One step, `tanh(x·Wh + h·Uh + b)` for `x` `[batch, input]` and `h` `[batch,
    /// hidden]`, composed from differentiable tensor operations (the notebook's
    /// `ElmanRNNUnit.forward`).
    ///
    /// # Errors
    /// [`NnError::BadInput`] when the shapes do not fit the layer.
    pub fn step(&self, x: &Tensor<T>, h: &Tensor<T>) -> Result<Tensor<T>> {
        let (i, hs) = (self.input_size(), self.hidden_size());
        if x.rank() != 2 || x.shape()[1] != i {
            return Err(bad(
                "ElmanCell::step",
                &format!("x of shape [batch, {i}]"),
                x.shape(),
            ));
        }
        if h.shape() != [x.shape()[0], hs] {
            return Err(bad(
                "ElmanCell::step",
                &format!("h of shape [{}, {hs}]", x.shape()[0]),
                h.shape(),
            ));
        }
        let z = x
            .matmul(&self.wh.tensor())?
            .add(&h.matmul(&self.uh.tensor())?)?
            .add(&self.b.tensor())?;
        Ok(z.tanh())
    }

    /// The whole sequence through this layer as one fused operation (see the module
    /// docs): `x` `[batch, time, input]`, `h0` `[batch, hidden]` (zeros when `None`),
    /// giving every hidden state `[batch, time, hidden]`.
    ///
    /// # Errors
    /// [`NnError::BadInput`] when the shapes do not fit the layer.
    pub fn forward_sequence(&self, x: &Tensor<T>, h0: Option<&Tensor<T>>) -> Result<Tensor<T>> {
        let (i, h) = (self.input_size(), self.hidden_size());
        if x.rank() != 3 || x.shape()[2] != i {
            return Err(bad(
                "ElmanCell::forward_sequence",
                &format!("x of shape [batch, time, {i}]"),
                x.shape(),
            ));
        }
        let batch = x.shape()[0];
        if let Some(h0) = h0
            && h0.shape() != [batch, h]
        {
            return Err(bad(
                "ElmanCell::forward_sequence",
                &format!("h0 of shape [{batch}, {h}]"),
                h0.shape(),
            ));
        }
        elman_layer(
            x,
            &self.wh.tensor(),
            &self.uh.tensor(),
            &self.b.tensor(),
            h0,
        )
    }
}

impl<T: Scalar> Module<T> for ElmanCell<T> {
    fn visit(&self, v: &mut dyn Visitor<T>) {
        v.param("Uh", &self.uh);
        v.param("Wh", &self.wh);
        v.param("b", &self.b);
    }
}

fn bad(op: &'static str, expected: &str, got: &[usize]) -> NnError {
    NnError::BadInput {
        op,
        expected: expected.to_string(),
        got: shape_of(got),
    }
}

/// What an [`ElmanRnn`] returns, like `torch.nn.RNN`'s `(output, h_n)`.
#[derive(Debug, Clone)]
pub struct RnnOutput<T: Scalar = f32> {
    /// The last layer's hidden state at every step, `[batch, time, hidden]`.
    pub output: Tensor<T>,
    /// Every layer's hidden state after the last step, `[layers, batch, hidden]` (the
    /// initial state when the sequences are empty).
    pub hidden: Tensor<T>,
}

/// A stack of Elman layers over batch-first sequences, the notebook's `ElmanRNN`: the
/// input `[batch, time, input]` goes through layer 0, whose hidden states are layer 1's
/// inputs, and so on; `h_0 = 0` for every layer unless a state is given.
///
/// Parameter names follow the notebook's `state_dict`: `rnn_units.{l}.Uh`,
/// `rnn_units.{l}.Wh`, `rnn_units.{l}.b`.
///
/// ```
/// use ferrograd_nn::{ElmanRnn, Forward, Module};
/// use ferrograd_tensor::{Rng, Tensor};
/// let rnn = ElmanRnn::<f32>::new(8, 16, 2, &mut Rng::new(0))?;
/// let x = Tensor::randn(&[4, 10, 8], 0.0, 1.0, &mut Rng::new(1)); // 4 sequences of 10 steps
/// let out = rnn.forward(&x)?;
/// assert_eq!(out.output.shape(), &[4, 10, 16]); // the last layer at every step
/// assert_eq!(out.hidden.shape(), &[2, 4, 16]);  // each layer after the last step
/// assert_eq!(rnn.named_parameters()[0].0, "rnn_units.0.Uh");
/// // Gradients through time come from one backward call.
/// let grads = out.output.sum_all().backward()?;
/// assert_eq!(grads.get(&rnn.rnn_units[0].uh).unwrap().shape(), &[16, 16]);
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
///
/// `.clone()` shares the parameters: the clone is tied to this layer (one update
/// changes both). [`Module::deep_clone`] makes an
/// independent copy.
#[derive(Debug, Clone)]
pub struct ElmanRnn<T: Scalar = f32> {
    /// The layers, bottom first (the notebook's `rnn_units`).
    pub rnn_units: Vec<ElmanCell<T>>,
}

impl<T: Scalar> ElmanRnn<T> {
    /// `num_layers` layers, the first taking `input_size` features, each with
    /// `hidden_size` units and the notebook's initialisation ([`ElmanCell::new`]), drawn
    /// layer by layer from `rng`.
    ///
    /// # Errors
    /// [`NnError::InvalidArgument`] for zero layers.
    pub fn new(
        input_size: usize,
        hidden_size: usize,
        num_layers: usize,
        rng: &mut Rng,
    ) -> Result<Self> {
        if num_layers == 0 {
            return Err(NnError::InvalidArgument {
                op: "ElmanRnn::new",
                reason: "an RNN needs at least one layer".into(),
            });
        }
        let rnn_units = (0..num_layers)
            .map(|l| {
                let input = if l == 0 { input_size } else { hidden_size };
                ElmanCell::new(input, hidden_size, rng)
            })
            .collect();
        Ok(Self { rnn_units })
    }

    /// A stack of the given layers, checked to fit together.
    ///
    /// # Errors
    /// [`NnError::InvalidArgument`] for no layers or a layer whose input size is not the
    /// previous layer's hidden size.
    pub fn from_cells(rnn_units: Vec<ElmanCell<T>>) -> Result<Self> {
        if rnn_units.is_empty() {
            return Err(NnError::InvalidArgument {
                op: "ElmanRnn::from_cells",
                reason: "an RNN needs at least one layer".into(),
            });
        }
        for (l, pair) in rnn_units.windows(2).enumerate() {
            if pair[1].input_size() != pair[0].hidden_size() {
                return Err(NnError::InvalidArgument {
                    op: "ElmanRnn::from_cells",
                    reason: format!(
                        "layer {} takes {} inputs but layer {l} gives {}",
                        l + 1,
                        pair[1].input_size(),
                        pair[0].hidden_size()
                    ),
                });
            }
        }
        Ok(Self { rnn_units })
    }

    /// Number of layers.
    pub fn num_layers(&self) -> usize {
        self.rnn_units.len()
    }

    /// Size of the inputs of the first layer (0 with no layers).
    pub fn input_size(&self) -> usize {
        self.rnn_units.first().map_or(0, |c| c.input_size())
    }

    /// Size of the last layer's hidden state (0 with no layers).
    pub fn hidden_size(&self) -> usize {
        self.rnn_units.last().map_or(0, |c| c.hidden_size())
    }

    fn check(&self, op: &'static str, x: &Tensor<T>, h0: Option<&Tensor<T>>) -> Result<()> {
        // `rnn_units` is public: a stack emptied by hand is an error, not a panic.
        if self.rnn_units.is_empty() {
            return Err(NnError::InvalidArgument {
                op,
                reason: "the RNN has no layers (rnn_units is empty)".into(),
            });
        }
        if x.rank() != 3 || x.shape()[2] != self.input_size() {
            return Err(bad(
                op,
                &format!("input of shape [batch, time, {}]", self.input_size()),
                x.shape(),
            ));
        }
        if let Some(h0) = h0 {
            let uniform = self
                .rnn_units
                .iter()
                .all(|c| c.hidden_size() == self.hidden_size());
            let expected = [self.num_layers(), x.shape()[0], self.hidden_size()];
            if !uniform || h0.shape() != expected {
                return Err(bad(
                    op,
                    &format!(
                        "an initial state of shape {} (layers of equal size)",
                        shape_of(&expected)
                    ),
                    h0.shape(),
                ));
            }
        }
        Ok(())
    }

    /// Runs the sequences `x` `[batch, time, input]` from the state `h0` `[layers, batch,
    /// hidden]` (zeros when `None`): the fused path (see the module docs).
    ///
    /// Generation can carry the state: feed one step (`time = 1`) with the previous
    /// call's [`RnnOutput::hidden`].
    ///
    /// # Errors
    /// [`NnError::BadInput`] when the shapes do not fit.
    pub fn forward_with_state(
        &self,
        x: &Tensor<T>,
        h0: Option<&Tensor<T>>,
    ) -> Result<RnnOutput<T>> {
        self.check("ElmanRnn::forward", x, h0)?;
        let mut input = x.clone();
        let mut last = Vec::with_capacity(self.num_layers());
        for (l, cell) in self.rnn_units.iter().enumerate() {
            let state = h0.map(|h| h.select(0, l)).transpose()?;
            let out = cell.forward_sequence(&input, state.as_ref())?;
            last.push(last_step(&out, state.as_ref(), cell.hidden_size())?);
            input = out;
        }
        let refs: Vec<&Tensor<T>> = last.iter().collect();
        Ok(RnnOutput {
            output: input,
            hidden: Tensor::stack(&refs, 0)?,
        })
    }

    /// The same computation as [`ElmanRnn::forward_with_state`], composed step by step
    /// from differentiable tensor operations in the notebook's order (for each step, each
    /// layer): the reference the fused path is checked against.
    ///
    /// # Errors
    /// [`NnError::BadInput`] when the shapes do not fit.
    pub fn forward_composed(&self, x: &Tensor<T>, h0: Option<&Tensor<T>>) -> Result<RnnOutput<T>> {
        self.check("ElmanRnn::forward_composed", x, h0)?;
        let (batch, time) = (x.shape()[0], x.shape()[1]);
        let mut state: Vec<Tensor<T>> = self
            .rnn_units
            .iter()
            .enumerate()
            .map(|(l, c)| match h0 {
                Some(h) => h.select(0, l),
                None => Ok(Tensor::zeros(&[batch, c.hidden_size()])),
            })
            .collect::<std::result::Result<_, _>>()?;
        let mut outputs = Vec::with_capacity(time);
        for t in 0..time {
            let mut input = x.select(1, t)?;
            for (l, cell) in self.rnn_units.iter().enumerate() {
                let h = cell.step(&input, &state[l])?;
                state[l] = h.clone();
                input = h;
            }
            outputs.push(input);
        }
        let output = if outputs.is_empty() {
            Tensor::zeros(&[batch, 0, self.hidden_size()])
        } else {
            let refs: Vec<&Tensor<T>> = outputs.iter().collect();
            Tensor::stack(&refs, 1)?
        };
        let refs: Vec<&Tensor<T>> = state.iter().collect();
        Ok(RnnOutput {
            output,
            hidden: Tensor::stack(&refs, 0)?,
        })
    }
}

/// The hidden state after the last step of `out` `[batch, time, hidden]`, or the initial
/// state for empty sequences.
fn last_step<T: Scalar>(
    out: &Tensor<T>,
    h0: Option<&Tensor<T>>,
    hidden: usize,
) -> Result<Tensor<T>> {
    let time = out.shape()[1];
    if time > 0 {
        return Ok(out.select(1, time - 1)?);
    }
    Ok(match h0 {
        Some(h) => h.clone(),
        None => Tensor::zeros(&[out.shape()[0], hidden]),
    })
}

impl<T: Scalar> Module<T> for ElmanRnn<T> {
    fn visit(&self, v: &mut dyn Visitor<T>) {
        v.modules("rnn_units", &self.rnn_units);
    }
}

impl<T: Scalar> Forward<&Tensor<T>> for ElmanRnn<T> {
    type Output = RnnOutput<T>;
    /// [`ElmanRnn::forward_with_state`] from `h_0 = 0`.
    fn forward(&self, x: &Tensor<T>) -> Result<RnnOutput<T>> {
        self.forward_with_state(x, None)
    }
}

impl<T: Scalar> Forward<(&Tensor<T>, &Tensor<T>)> for ElmanRnn<T> {
    type Output = RnnOutput<T>;
    /// [`ElmanRnn::forward_with_state`] from the state `h0` `[layers, batch, hidden]`.
    fn forward(&self, (x, h0): (&Tensor<T>, &Tensor<T>)) -> Result<RnnOutput<T>> {
        self.forward_with_state(x, Some(h0))
    }
}

/// The chapter-3 notebook's `initialize_weights`: every parameter of `module` with more
/// than one dimension Xavier-uniform (gain 1, PyTorch's fans: `[out, in]` has fan-in
/// `in`), every other one uniform on [0, 1), in [`Module::named_parameters`] order.
///
/// As in the notebook this overwrites everything, an embedding's padding row included
/// (`nn.Embedding` zeroes it at construction; the notebook's initialisation then draws
/// it like every other row).
///
/// ```
/// use ferrograd_nn::{initialize_weights, Embedding, Module};
/// use ferrograd_tensor::Rng;
/// let mut rng = Rng::new(0);
/// let table = Embedding::<f32>::new(100, 8, Some(0), &mut rng);
/// initialize_weights(&table, &mut rng)?;
/// let bound = (6.0f32 / 108.0).sqrt();
/// let w = table.weight.tensor().to_vec();
/// assert!(w.iter().all(|v| v.abs() <= bound));
/// assert!(w[..8].iter().any(|&v| v != 0.0)); // the padding row is drawn too
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
///
/// # Errors
/// A tensor error from [`Parameter::set`] (none for well-formed modules).
pub fn initialize_weights<T: Scalar, M: Module<T> + ?Sized>(
    module: &M,
    rng: &mut Rng,
) -> Result<()> {
    for (_, p) in module.named_parameters() {
        let shape = p.shape();
        let value = if shape.len() > 1 {
            if shape.contains(&0) {
                Tensor::zeros(&shape)
            } else {
                xavier_uniform(&shape, 1.0, rng)?
            }
        } else {
            uniform(&shape, 0.0, 1.0, rng)
        };
        p.set(&value)?;
    }
    Ok(())
}

// ----- the fused layer ------------------------------------------------------------------

/// Sizes of one fused layer.
#[derive(Debug, Clone, Copy)]
struct Dims {
    batch: usize,
    time: usize,
    input: usize,
    hidden: usize,
}

/// `x`: `[batch, time, input]`, `w`: `[input, hidden]`, `u`: `[hidden, hidden]`,
/// `b`: `[hidden]`, `h0`: `[batch, hidden]`; shapes checked by the caller.
fn elman_layer<T: Scalar>(
    x: &Tensor<T>,
    w: &Tensor<T>,
    u: &Tensor<T>,
    b: &Tensor<T>,
    h0: Option<&Tensor<T>>,
) -> Result<Tensor<T>> {
    let dims = Dims {
        batch: x.shape()[0],
        time: x.shape()[1],
        input: x.shape()[2],
        hidden: w.shape()[1],
    };
    let out = {
        let xd = x.contiguous_data();
        let wd = w.contiguous_data();
        let ud = u.contiguous_data();
        let bd = b.contiguous_data();
        let h0d = h0.map(Tensor::contiguous_data);
        forward_kernel(dims, &xd, &wd, &ud, &bd, h0d.as_deref())?
    };
    let shape = [dims.batch, dims.time, dims.hidden];
    let mut inputs = vec![x, w, u, b];
    inputs.extend(h0);
    let op = ElmanBackward {
        dims,
        has_h0: h0.is_some(),
    };
    Ok(Tensor::from_op(out, &shape, &inputs, op)?)
}

fn linalg(e: ferrograd_linalg::LinalgError) -> NnError {
    NnError::InvalidArgument {
        op: "elman_layer",
        reason: e.to_string(),
    }
}

/// The forward sweep: every hidden state, `[batch, time, hidden]`.
fn forward_kernel<T: Scalar>(
    d: Dims,
    x: &[T],
    w: &[T],
    u: &[T],
    b: &[T],
    h0: Option<&[T]>,
) -> Result<Vec<T>> {
    let Dims {
        batch,
        time,
        input,
        hidden,
    } = d;
    let rows = batch * time;
    let mut out = vec![T::ZERO; rows * hidden];
    if rows == 0 || hidden == 0 {
        return Ok(out);
    }
    // Every step's input projection at once: out = X·W.
    gemm(
        MatViewMut::row_major(&mut out, rows, hidden).map_err(linalg)?,
        MatView::row_major(x, rows, input).map_err(linalg)?,
        MatView::row_major(w, input, hidden).map_err(linalg)?,
        T::ONE,
        false,
    )
    .map_err(linalg)?;
    let uv = MatView::row_major(u, hidden, hidden).map_err(linalg)?;
    let mut recurrent = vec![T::ZERO; batch * hidden];
    let step = time * hidden;
    for t in 0..time {
        // recurrent = h_{t−1}·U (h_{−1} = h0, or nothing to add when it is zero).
        let has_recurrent = if t > 0 {
            let prev = MatView::new(&out, (t - 1) * hidden, batch, hidden, step as isize, 1)
                .map_err(linalg)?;
            gemm(
                MatViewMut::row_major(&mut recurrent, batch, hidden).map_err(linalg)?,
                prev,
                uv,
                T::ONE,
                false,
            )
            .map_err(linalg)?;
            true
        } else if let Some(h0) = h0 {
            gemm(
                MatViewMut::row_major(&mut recurrent, batch, hidden).map_err(linalg)?,
                MatView::row_major(h0, batch, hidden).map_err(linalg)?,
                uv,
                T::ONE,
                false,
            )
            .map_err(linalg)?;
            true
        } else {
            false
        };
        for r in 0..batch {
            let at = r * step + t * hidden;
            let row = &mut out[at..at + hidden];
            if has_recurrent {
                tanh_add2(row, &recurrent[r * hidden..(r + 1) * hidden], b);
            } else {
                tanh_add1(row, b);
            }
        }
    }
    Ok(out)
}

/// Coefficients of tanh's Taylor series, x, x³, …, x¹⁷.
const TANH_TAYLOR: [f64; 9] = [
    1.0,
    -1.0 / 3.0,
    2.0 / 15.0,
    -17.0 / 315.0,
    62.0 / 2835.0,
    -1382.0 / 155_925.0,
    21844.0 / 6_081_075.0,
    -929_569.0 / 638_512_875.0,
    6_404_582.0 / 10_854_718_875.0,
];

/// tanh without branches or library calls for `f32`, so loops over it vectorise; the
/// library `tanh` for `f64`.
///
/// `|x| < 0.55`: the Taylor series to x¹⁷ (the first term left out is below 6·10⁻⁹ of the
/// result there); otherwise `sign(x)·(1 − 2/(e^{2|x|} + 1))` with the vectorising
/// [`Scalar::exp_fast`] (2 ulps), where `1 − q` with `q ≤ 0.5` loses no precision. The
/// test `fast_tanh_is_within_a_few_ulps` measures at most 2 ulps of error against `f64`.
#[inline(always)]
pub(crate) fn tanh_fast<T: Scalar>(x: T) -> T {
    if size_of::<T>() != 4 {
        return x.tanh();
    }
    let x2 = x * x;
    let mut p = T::from_f64(TANH_TAYLOR[8]);
    for &c in TANH_TAYLOR[..8].iter().rev() {
        p = p * x2 + T::from_f64(c);
    }
    let small = x * p;
    let a = x.abs();
    let e = (a + a).exp_fast();
    let two = T::ONE + T::ONE;
    let big = T::ONE - two / (e + T::ONE);
    let big = if x < T::ZERO { -big } else { big };
    if a < T::from_f64(0.55) { small } else { big }
}

simd_kernel! {
    /// `row = tanh(row + r + b)`.
    fn tanh_add2<T: Scalar>(row: &mut [T], r: &[T], b: &[T]) {
        for ((o, &r), &b) in row.iter_mut().zip(r).zip(b) {
            *o = tanh_fast(*o + r + b);
        }
    }
}

simd_kernel! {
    /// `row = tanh(row + b)`.
    fn tanh_add1<T: Scalar>(row: &mut [T], b: &[T]) {
        for (o, &b) in row.iter_mut().zip(b) {
            *o = tanh_fast(*o + b);
        }
    }
}

simd_kernel! {
    /// `dz = (g + dh)·(1 − h²)`.
    fn tanh_grad<T: Scalar>(dz: &mut [T], g: &[T], dh: &[T], h: &[T]) {
        for (((z, &g), &dh), &h) in dz.iter_mut().zip(g).zip(dh).zip(h) {
            *z = (g + dh) * (T::ONE - h * h);
        }
    }
}

struct ElmanBackward {
    dims: Dims,
    has_h0: bool,
}

impl<T: Scalar> BackwardOp<T> for ElmanBackward {
    fn name(&self) -> &'static str {
        "elman_layer"
    }

    fn backward(
        &self,
        inputs: &[Tensor<T>],
        output: &Tensor<T>,
        grad: &Tensor<T>,
    ) -> ferrograd_tensor::Result<Vec<Option<Tensor<T>>>> {
        let Dims {
            batch,
            time,
            input,
            hidden,
        } = self.dims;
        let (x, w, u, b) = (&inputs[0], &inputs[1], &inputs[2], &inputs[3]);
        let h0 = self.has_h0.then(|| &inputs[4]);
        let rows = batch * time;
        let step = time * hidden;
        let buffer = |n| vec![T::ZERO; n];
        let to_tensor = |e: NnError| ferrograd_tensor::TensorError::from(e);
        let hs = output.contiguous_data();
        let g = grad.contiguous_data();
        let ud = u.contiguous_data();
        // The reverse sweep: dz_t for every step, and dh carried back to h0.
        let mut dz = buffer(rows * hidden);
        let mut dh = buffer(batch * hidden);
        let need_dh0 = h0.is_some_and(Tensor::requires_grad);
        if rows > 0 && hidden > 0 {
            let ut = MatView::row_major(&ud, hidden, hidden)
                .map_err(linalg)
                .map_err(to_tensor)?
                .transpose();
            for t in (0..time).rev() {
                for r in 0..batch {
                    let at = r * step + t * hidden;
                    let range = at..at + hidden;
                    tanh_grad(
                        &mut dz[range.clone()],
                        &g[range.clone()],
                        &dh[r * hidden..(r + 1) * hidden],
                        &hs[range],
                    );
                }
                if t > 0 || need_dh0 {
                    let dzt = MatView::new(&dz, t * hidden, batch, hidden, step as isize, 1)
                        .map_err(linalg)
                        .map_err(to_tensor)?;
                    gemm(
                        MatViewMut::row_major(&mut dh, batch, hidden)
                            .map_err(linalg)
                            .map_err(to_tensor)?,
                        dzt,
                        ut,
                        T::ONE,
                        false,
                    )
                    .map_err(linalg)
                    .map_err(to_tensor)?;
                }
            }
        }
        let dz_view = || MatView::row_major(&dz, rows, hidden).map_err(linalg);
        let product =
            |lhs: MatView<'_, T>, rhs: MatView<'_, T>, shape: &[usize]| -> Result<Tensor<T>> {
                let mut out = buffer(lhs.rows() * rhs.cols());
                gemm(
                    MatViewMut::row_major(&mut out, lhs.rows(), rhs.cols()).map_err(linalg)?,
                    lhs,
                    rhs,
                    T::ONE,
                    false,
                )
                .map_err(linalg)?;
                Ok(Tensor::from_vec(out, shape)?)
            };
        let wd = w.contiguous_data();
        let gx = if x.requires_grad() {
            // dX = dZ·Wᵀ
            let wt = MatView::row_major(&wd, input, hidden)
                .map_err(linalg)
                .map_err(to_tensor)?;
            Some(
                product(
                    dz_view().map_err(to_tensor)?,
                    wt.transpose(),
                    &[batch, time, input],
                )
                .map_err(to_tensor)?,
            )
        } else {
            None
        };
        let gw = if w.requires_grad() {
            // dW = Xᵀ·dZ
            let xd = x.contiguous_data();
            let xv = MatView::row_major(&xd, rows, input)
                .map_err(linalg)
                .map_err(to_tensor)?;
            Some(
                product(
                    xv.transpose(),
                    dz_view().map_err(to_tensor)?,
                    &[input, hidden],
                )
                .map_err(to_tensor)?,
            )
        } else {
            None
        };
        let gu = if u.requires_grad() {
            // dU = H_prevᵀ·dZ, H_prev = the states shifted one step later (h0 or 0 first).
            let mut prev = buffer(rows * hidden);
            let h0d = h0.map(Tensor::contiguous_data);
            for r in 0..batch {
                let at = r * step;
                if time > 0 {
                    if let Some(h0d) = &h0d {
                        prev[at..at + hidden].copy_from_slice(&h0d[r * hidden..(r + 1) * hidden]);
                    }
                    prev[at + hidden..at + step].copy_from_slice(&hs[at..at + step - hidden]);
                }
            }
            let pv = MatView::row_major(&prev, rows, hidden)
                .map_err(linalg)
                .map_err(to_tensor)?;
            Some(
                product(
                    pv.transpose(),
                    dz_view().map_err(to_tensor)?,
                    &[hidden, hidden],
                )
                .map_err(to_tensor)?,
            )
        } else {
            None
        };
        let gb = if b.requires_grad() {
            let mut sums = vec![T::ZERO; hidden];
            if hidden > 0 {
                for row in dz.chunks_exact(hidden) {
                    add_into(&mut sums, row);
                }
            }
            Some(Tensor::from_vec(sums, &[hidden])?)
        } else {
            None
        };
        let mut grads = vec![gx, gw, gu, gb];
        if self.has_h0 {
            grads.push(
                need_dh0
                    .then(|| Tensor::from_vec(dh, &[batch, hidden]))
                    .transpose()?,
            );
        }
        Ok(grads)
    }
}

simd_kernel! {
    /// `acc += row`.
    fn add_into<T: Scalar>(acc: &mut [T], row: &[T]) {
        for (a, &r) in acc.iter_mut().zip(row) {
            *a += r;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stack_emptied_by_hand_is_an_error() {
        let mut rnn = ElmanRnn::<f32>::new(3, 4, 2, &mut Rng::new(0)).unwrap();
        rnn.rnn_units.clear();
        assert_eq!((rnn.input_size(), rnn.hidden_size()), (0, 0));
        let x = Tensor::zeros(&[1, 2, 3]);
        let err = rnn.forward_with_state(&x, None).unwrap_err().to_string();
        assert!(err.contains("no layers"), "{err}");
    }

    #[test]
    fn fast_tanh_is_within_a_few_ulps() {
        let mut worst = 0.0f64;
        let mut x = -12.0f32;
        while x < 12.0 {
            let exact = (x as f64).tanh();
            let got = tanh_fast(x) as f64;
            let ulp = f32::EPSILON as f64 * exact.abs().max(f32::MIN_POSITIVE as f64);
            worst = worst.max((got - exact).abs() / ulp);
            x += 1.0e-3 * (1.0 + x.abs());
        }
        // Near zero too (relative error where tanh(x) ≈ x).
        for x in [1e-30f32, -3e-8, 1e-4, -0.549_999, 0.55, 0.550_001] {
            let exact = (x as f64).tanh();
            let got = tanh_fast(x) as f64;
            worst = worst.max((got - exact).abs() / (f32::EPSILON as f64 * exact.abs()));
        }
        assert!(worst <= 2.0, "worst error {worst} ulps");
        assert_eq!(tanh_fast(f32::INFINITY), 1.0);
        assert_eq!(tanh_fast(f32::NEG_INFINITY), -1.0);
        assert!(tanh_fast(f32::NAN).is_nan());
        assert_eq!(tanh_fast(0.0f32), 0.0);
    }
}
