//! Neurons, layers and multilayer perceptrons on scalar values, as in the book's §1.5
//! (Figure 1.1: 2 inputs, a layer of 3 units, 1 output unit), with the sigmoid output and
//! binary cross-entropy loss of §1.7 and plain gradient descent.
//!
//! Parameters live in the models as plain `f64`s, not on a tape: a training step puts
//! them on a tape as leaves ([`Module::bind`]), builds the loss, calls
//! [`Tape::backward`] and moves each parameter against its gradient
//! ([`Module::gradient_step`]). That is the book's PyTorch loop with the zero-grad built
//! in, since every backward pass returns fresh gradients:
//!
//! | PyTorch | here |
//! |---|---|
//! | `optimizer.zero_grad()` | `tape.clear()` (gradients are never accumulated across steps) |
//! | `loss = loss_fn(model(x), y)` | `let p = model.bind(&tape); let loss = model.mean_bce(&p, xs, ys);` |
//! | `loss.backward()` | `let grads = tape.backward(loss)?;` |
//! | `optimizer.step()` | `model.gradient_step(&p, &grads, lr);` |
//!
//! [`Mlp::train_step`] does all four.
//!
//! ```
//! use ferrograd_scalar::nn::{Activation, Mlp, BUY_X, BUY_Y};
//! use ferrograd_scalar::Tape;
//!
//! let mut model = Mlp::figure_1_1(Activation::Relu, 42);
//! let mut tape = Tape::new();
//! let first = model.train_step(&mut tape, &BUY_X, &BUY_Y, 1e-4)?;
//! let mut last = first;
//! for _ in 0..200 {
//!     last = model.train_step(&mut tape, &BUY_X, &BUY_Y, 1e-4)?;
//! }
//! assert!(last < first);
//! # Ok::<(), ferrograd_scalar::ScalarError>(())
//! ```

use std::fmt;

use crate::error::ScalarError;
use crate::grad::Gradients;
use crate::op::sigmoid;
use crate::tape::{Tape, Value};

/// The book's 12-example buy/no-buy dataset (§1.7): `[age, income in thousands]`.
///
/// The data's home is `ferrograd_data::book::BUY_FEATURES`; this crate sits below it and
/// stands alone, so it keeps this copy, which the facade's tests check against it.
pub const BUY_X: [[f64; 2]; 12] = [
    [22.0, 25.0],
    [25.0, 35.0],
    [47.0, 80.0],
    [52.0, 95.0],
    [46.0, 82.0],
    [56.0, 90.0],
    [23.0, 27.0],
    [30.0, 50.0],
    [40.0, 60.0],
    [39.0, 57.0],
    [53.0, 95.0],
    [48.0, 88.0],
];

/// Labels of [`BUY_X`]: 1 = bought, 0 = did not.
pub const BUY_Y: [f64; 12] = [0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0];

/// SplitMix64, a tiny deterministic pseudo-random generator (Steele, Lea and Flood, 2014):
/// the same seed gives the same sequence on every platform. Used for weight
/// initialisation; not for cryptography.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform number in `[0, 1)` with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform number in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next_f64()
    }
}

/// The non-linearity a unit applies to `w·x + b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Activation {
    /// No non-linearity: `z`.
    Identity,
    /// `max(z, 0)`.
    Relu,
    /// `tanh(z)`.
    Tanh,
    /// `1 / (1 + e^-z)`.
    Sigmoid,
}

impl Activation {
    /// Applies the activation on the tape.
    pub fn apply<'t>(self, z: Value<'t>) -> Value<'t> {
        match self {
            Activation::Identity => z,
            Activation::Relu => z.relu(),
            Activation::Tanh => z.tanh(),
            Activation::Sigmoid => z.sigmoid(),
        }
    }

    /// Applies the activation to a plain number (inference, no tape), with the same
    /// formulas as [`apply`](Activation::apply).
    pub fn apply_f64(self, z: f64) -> f64 {
        match self {
            Activation::Identity => z,
            Activation::Relu => {
                if z <= 0.0 {
                    0.0
                } else {
                    z
                }
            }
            Activation::Tanh => z.tanh(),
            Activation::Sigmoid => sigmoid(z),
        }
    }
}

/// Something with trainable `f64` parameters in a fixed order.
pub trait Module: fmt::Debug {
    /// How many parameters.
    fn num_parameters(&self) -> usize;

    /// Calls `f` on each parameter, in the module's parameter order.
    fn for_each_parameter(&self, f: &mut dyn FnMut(f64));

    /// Calls `f` on each parameter mutably, in the same order.
    fn for_each_parameter_mut(&mut self, f: &mut dyn FnMut(&mut f64));

    /// The parameters, in order.
    fn parameters(&self) -> Vec<f64> {
        let mut out = Vec::with_capacity(self.num_parameters());
        self.for_each_parameter(&mut |p| out.push(p));
        out
    }

    /// Puts every parameter on `tape` as a leaf ([`Tape::var`]), in order. The returned
    /// slice is what the module's `forward` takes.
    fn bind<'t>(&self, tape: &'t Tape) -> Vec<Value<'t>> {
        let mut out = Vec::with_capacity(self.num_parameters());
        self.for_each_parameter(&mut |p| out.push(tape.var(p)));
        out
    }

    /// One step of plain gradient descent: `p -= lr * d loss / d p` for each parameter,
    /// where `params` came from [`bind`](Module::bind) and `grads` from the backward pass of
    /// the loss.
    ///
    /// # Panics
    /// If `params` has the wrong length, or `grads` belongs to another tape.
    fn gradient_step(&mut self, params: &[Value<'_>], grads: &Gradients, lr: f64) {
        assert_eq!(
            params.len(),
            self.num_parameters(),
            "gradient_step: {} bound parameters for a module with {}",
            params.len(),
            self.num_parameters()
        );
        let mut it = params.iter();
        self.for_each_parameter_mut(&mut |p| {
            if let Some(v) = it.next() {
                *p -= lr * grads.wrt(v);
            }
        });
    }
}

/// One unit: `activation(w · x + b)`. Parameter order: the weights, then the bias.
#[derive(Debug, Clone, PartialEq)]
pub struct Neuron {
    weights: Vec<f64>,
    bias: f64,
    activation: Activation,
}

impl Neuron {
    /// A unit with `n_inputs` weights and a bias, each drawn uniformly from
    /// `[-1/√n_inputs, 1/√n_inputs)` (PyTorch's default range for `Linear`).
    pub fn new(n_inputs: usize, activation: Activation, rng: &mut SplitMix64) -> Self {
        let k = 1.0 / (n_inputs.max(1) as f64).sqrt();
        let weights = (0..n_inputs).map(|_| rng.uniform(-k, k)).collect();
        let bias = rng.uniform(-k, k);
        Neuron {
            weights,
            bias,
            activation,
        }
    }

    /// A unit with the given weights and bias.
    pub fn from_parts(weights: Vec<f64>, bias: f64, activation: Activation) -> Self {
        Neuron {
            weights,
            bias,
            activation,
        }
    }

    /// The weights.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// The bias.
    pub fn bias(&self) -> f64 {
        self.bias
    }

    /// The activation.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// `w · x + b` on the tape, where `params` is this unit's slice of bound parameters
    /// (weights then bias).
    ///
    /// # Panics
    /// If `params` or `x` has the wrong length.
    pub fn pre_activation<'t>(&self, params: &[Value<'t>], x: &[Value<'t>]) -> Value<'t> {
        let n = self.weights.len();
        assert_eq!(
            params.len(),
            n + 1,
            "Neuron: {} parameters for {n} weights + bias",
            params.len()
        );
        assert_eq!(x.len(), n, "Neuron: {} inputs for {n} weights", x.len());
        let mut z = params[n];
        for (w, xi) in params[..n].iter().zip(x) {
            z += *w * *xi;
        }
        z
    }

    /// `activation(w · x + b)` on the tape; see [`pre_activation`](Neuron::pre_activation).
    ///
    /// # Panics
    /// If `params` or `x` has the wrong length.
    pub fn forward<'t>(&self, params: &[Value<'t>], x: &[Value<'t>]) -> Value<'t> {
        self.activation.apply(self.pre_activation(params, x))
    }

    /// `w · x + b` on plain numbers, in the same order of operations as on the tape.
    ///
    /// # Panics
    /// If `x` has the wrong length.
    pub fn predict_pre_activation(&self, x: &[f64]) -> f64 {
        assert_eq!(
            x.len(),
            self.weights.len(),
            "Neuron: {} inputs for {} weights",
            x.len(),
            self.weights.len()
        );
        let mut z = self.bias;
        for (w, xi) in self.weights.iter().zip(x) {
            z += w * xi;
        }
        z
    }

    /// `activation(w · x + b)` on plain numbers.
    ///
    /// # Panics
    /// If `x` has the wrong length.
    pub fn predict(&self, x: &[f64]) -> f64 {
        self.activation.apply_f64(self.predict_pre_activation(x))
    }
}

impl Module for Neuron {
    fn num_parameters(&self) -> usize {
        self.weights.len() + 1
    }
    fn for_each_parameter(&self, f: &mut dyn FnMut(f64)) {
        self.weights.iter().for_each(|&w| f(w));
        f(self.bias);
    }
    fn for_each_parameter_mut(&mut self, f: &mut dyn FnMut(&mut f64)) {
        self.weights.iter_mut().for_each(&mut *f);
        f(&mut self.bias);
    }
}

/// A dense layer: units that all read the same inputs. Parameter order: unit by unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    neurons: Vec<Neuron>,
}

impl Layer {
    /// `n_outputs` units of `n_inputs` inputs each, initialised as in [`Neuron::new`].
    pub fn new(
        n_inputs: usize,
        n_outputs: usize,
        activation: Activation,
        rng: &mut SplitMix64,
    ) -> Self {
        Layer {
            neurons: (0..n_outputs)
                .map(|_| Neuron::new(n_inputs, activation, rng))
                .collect(),
        }
    }

    /// A layer of the given units.
    pub fn from_neurons(neurons: Vec<Neuron>) -> Self {
        Layer { neurons }
    }

    /// The units.
    pub fn neurons(&self) -> &[Neuron] {
        &self.neurons
    }

    fn each<'t>(
        &self,
        params: &[Value<'t>],
        f: impl Fn(&Neuron, &[Value<'t>]) -> Value<'t>,
    ) -> Vec<Value<'t>> {
        assert_eq!(
            params.len(),
            self.num_parameters(),
            "Layer: {} parameters for a layer with {}",
            params.len(),
            self.num_parameters()
        );
        let mut rest = params;
        self.neurons
            .iter()
            .map(|n| {
                let (mine, tail) = rest.split_at(n.num_parameters());
                rest = tail;
                f(n, mine)
            })
            .collect()
    }

    /// Every unit's output on the tape; `params` is this layer's slice of bound parameters.
    ///
    /// # Panics
    /// If `params` or `x` has the wrong length.
    pub fn forward<'t>(&self, params: &[Value<'t>], x: &[Value<'t>]) -> Vec<Value<'t>> {
        self.each(params, |n, p| n.forward(p, x))
    }

    /// Every unit's `w · x + b` (before the activation) on the tape.
    ///
    /// # Panics
    /// If `params` or `x` has the wrong length.
    pub fn pre_activation<'t>(&self, params: &[Value<'t>], x: &[Value<'t>]) -> Vec<Value<'t>> {
        self.each(params, |n, p| n.pre_activation(p, x))
    }

    /// Every unit's output on plain numbers.
    ///
    /// # Panics
    /// If `x` has the wrong length.
    pub fn predict(&self, x: &[f64]) -> Vec<f64> {
        self.neurons.iter().map(|n| n.predict(x)).collect()
    }
}

impl Module for Layer {
    fn num_parameters(&self) -> usize {
        self.neurons.iter().map(Neuron::num_parameters).sum()
    }
    fn for_each_parameter(&self, f: &mut dyn FnMut(f64)) {
        self.neurons.iter().for_each(|n| n.for_each_parameter(f));
    }
    fn for_each_parameter_mut(&mut self, f: &mut dyn FnMut(&mut f64)) {
        self.neurons
            .iter_mut()
            .for_each(|n| n.for_each_parameter_mut(f));
    }
}

/// A multilayer perceptron: layers applied in turn. Parameter order: layer by layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    layers: Vec<Layer>,
}

impl Mlp {
    /// An MLP with `n_inputs` inputs and layers of `sizes[0]`, `sizes[1]`, … units; every
    /// layer but the last uses `hidden`, the last uses `output`. Weights are drawn from a
    /// [`SplitMix64`] seeded with `seed`, so the same arguments give the same network.
    ///
    /// # Panics
    /// If `sizes` is empty or a layer has 0 units (the network would have no output to
    /// score).
    pub fn new(
        n_inputs: usize,
        sizes: &[usize],
        hidden: Activation,
        output: Activation,
        seed: u64,
    ) -> Self {
        assert!(!sizes.is_empty(), "Mlp::new: at least one layer is needed");
        if let Some(i) = sizes.iter().position(|&n| n == 0) {
            panic!("Mlp::new: layer {i} of {sizes:?} has 0 units; every layer needs at least 1");
        }
        let mut rng = SplitMix64::new(seed);
        let mut fan_in = n_inputs;
        let layers = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                let act = if i + 1 == sizes.len() { output } else { hidden };
                let layer = Layer::new(fan_in, n, act, &mut rng);
                fan_in = n;
                layer
            })
            .collect();
        Mlp { layers }
    }

    /// The network of the book's Figure 1.1: 2 inputs, a hidden layer of 3 units with the
    /// `hidden` activation, and 1 sigmoid output unit.
    pub fn figure_1_1(hidden: Activation, seed: u64) -> Self {
        Mlp::new(2, &[3, 1], hidden, Activation::Sigmoid, seed)
    }

    /// An MLP of the given layers.
    ///
    /// # Panics
    /// If `layers` is empty.
    pub fn from_layers(layers: Vec<Layer>) -> Self {
        assert!(
            !layers.is_empty(),
            "Mlp::from_layers: at least one layer is needed"
        );
        Mlp { layers }
    }

    /// The layers.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    fn run<'t>(
        &self,
        params: &[Value<'t>],
        x: &[Value<'t>],
        last_activated: bool,
    ) -> Vec<Value<'t>> {
        assert_eq!(
            params.len(),
            self.num_parameters(),
            "Mlp: {} parameters for a network with {}",
            params.len(),
            self.num_parameters()
        );
        let mut rest = params;
        let mut h = x.to_vec();
        for (i, layer) in self.layers.iter().enumerate() {
            let (mine, tail) = rest.split_at(layer.num_parameters());
            rest = tail;
            h = if i + 1 == self.layers.len() && !last_activated {
                layer.pre_activation(mine, &h)
            } else {
                layer.forward(mine, &h)
            };
        }
        h
    }

    /// The network's outputs on the tape; `params` comes from [`Module::bind`].
    ///
    /// # Panics
    /// If `params` or `x` has the wrong length.
    pub fn forward<'t>(&self, params: &[Value<'t>], x: &[Value<'t>]) -> Vec<Value<'t>> {
        self.run(params, x, true)
    }

    /// The outputs before the last layer's activation (the logits when that is a sigmoid).
    ///
    /// # Panics
    /// If `params` or `x` has the wrong length.
    pub fn forward_logits<'t>(&self, params: &[Value<'t>], x: &[Value<'t>]) -> Vec<Value<'t>> {
        self.run(params, x, false)
    }

    /// The network's outputs on plain numbers (inference builds no graph).
    ///
    /// # Panics
    /// If `x` has the wrong length.
    pub fn predict(&self, x: &[f64]) -> Vec<f64> {
        let mut h = x.to_vec();
        for layer in &self.layers {
            h = layer.predict(&h);
        }
        h
    }

    /// The mean binary cross-entropy of the first output over the examples `xs` with labels
    /// `ys` in `[0, 1]`, on the tape.
    ///
    /// When the last layer's activation is a sigmoid, the loss is computed from the logit
    /// with [`bce_with_logits`], which equals the book's formula but cannot hit `ln(0)` when
    /// the sigmoid saturates; otherwise the book's [`binary_cross_entropy`] is used on the
    /// output.
    ///
    /// # Panics
    /// If `xs` and `ys` differ in length or are empty, or an example has the wrong length.
    pub fn mean_bce<'t, X: AsRef<[f64]>>(
        &self,
        params: &[Value<'t>],
        xs: &[X],
        ys: &[f64],
    ) -> Value<'t> {
        assert_eq!(
            xs.len(),
            ys.len(),
            "mean_bce: {} examples, {} labels",
            xs.len(),
            ys.len()
        );
        assert!(!xs.is_empty(), "mean_bce: no examples");
        let tape = params
            .first()
            .map(|p| p.tape())
            .expect("mean_bce: a network has parameters");
        let sigmoid_out = self.layers.last().is_some_and(|l| {
            l.neurons
                .iter()
                .all(|n| n.activation == Activation::Sigmoid)
        });
        let terms = xs.iter().zip(ys).map(|(x, &y)| {
            let x = tape.vars(x.as_ref());
            if sigmoid_out {
                bce_with_logits(self.forward_logits(params, &x)[0], y)
            } else {
                binary_cross_entropy(self.forward(params, &x)[0], y)
            }
        });
        let terms: Vec<Value<'t>> = terms.collect();
        tape.sum(terms) / xs.len() as f64
    }

    /// The value of [`mean_bce`](Mlp::mean_bce), evaluated on a temporary tape (for
    /// monitoring; no gradients are computed).
    ///
    /// # Panics
    /// As [`mean_bce`](Mlp::mean_bce).
    pub fn loss<X: AsRef<[f64]>>(&self, xs: &[X], ys: &[f64]) -> f64 {
        let tape = Tape::new();
        let p = self.bind(&tape);
        self.mean_bce(&p, xs, ys).value()
    }

    /// One training step of plain gradient descent on the mean binary cross-entropy:
    /// clears `tape`, binds the parameters, builds the loss, backpropagates and updates
    /// every parameter by `-lr * gradient`. Returns the loss *before* the update.
    ///
    /// # Errors
    /// Whatever [`Tape::backward`] reports (for example an overflow when the learning rate
    /// is so large that training diverges); the parameters are then left unchanged.
    ///
    /// # Panics
    /// As [`mean_bce`](Mlp::mean_bce).
    pub fn train_step<X: AsRef<[f64]>>(
        &mut self,
        tape: &mut Tape,
        xs: &[X],
        ys: &[f64],
        lr: f64,
    ) -> Result<f64, ScalarError> {
        tape.clear();
        let tape: &Tape = tape;
        let params = self.bind(tape);
        let loss = self.mean_bce(&params, xs, ys);
        let grads = tape.backward(loss)?;
        self.gradient_step(&params, &grads, lr);
        Ok(loss.value())
    }
}

impl Module for Mlp {
    fn num_parameters(&self) -> usize {
        self.layers.iter().map(Layer::num_parameters).sum()
    }
    fn for_each_parameter(&self, f: &mut dyn FnMut(f64)) {
        self.layers.iter().for_each(|l| l.for_each_parameter(f));
    }
    fn for_each_parameter_mut(&mut self, f: &mut dyn FnMut(&mut f64)) {
        self.layers
            .iter_mut()
            .for_each(|l| l.for_each_parameter_mut(f));
    }
}

/// `ln(1 + e^t)` on the tape, finite for every finite `t`: above 0 it is computed as
/// `t + ln(1 + e^-t)`, so `e^t` never overflows; for very negative `t` it rounds to 0
/// with the right tiny gradient. The gradient is `sigmoid(t)` either way (½ at 0).
pub fn softplus(t: Value<'_>) -> Value<'_> {
    if t.value() > 0.0 {
        t + ((-t).exp() + 1.0).ln()
    } else {
        (t.exp() + 1.0).ln()
    }
}

/// The book's binary cross-entropy of a predicted probability `p` against a label `y`:
/// `-(y ln p + (1 - y) ln(1 - p))`. A term whose weight (`y` or `1 - y`) is exactly 0 is
/// left out. If `p` reaches exactly 0 or 1 where its term is needed, the `ln` is a domain
/// error that `backward` reports; prefer [`bce_with_logits`] when `p` comes from a sigmoid.
pub fn binary_cross_entropy(p: Value<'_>, y: f64) -> Value<'_> {
    let pos = (y != 0.0).then(|| scale(p.ln(), y));
    let neg = (y != 1.0).then(|| scale((1.0 - p).ln(), 1.0 - y));
    match (pos, neg) {
        (Some(a), Some(b)) => -(a + b),
        (Some(a), None) => -a,
        (None, Some(b)) => -b,
        (None, None) => unreachable!("y cannot be both 0 and 1"),
    }
}

/// The binary cross-entropy of `sigmoid(z)` against `y`, from the logit `z`:
/// `y · softplus(-z) + (1 - y) · softplus(z)`, which equals
/// `binary_cross_entropy(z.sigmoid(), y)` but stays finite when the sigmoid saturates. Its
/// gradient with respect to `z` is `sigmoid(z) - y` (the book's equation 1.11).
pub fn bce_with_logits(z: Value<'_>, y: f64) -> Value<'_> {
    let pos = (y != 0.0).then(|| scale(softplus(-z), y));
    let neg = (y != 1.0).then(|| scale(softplus(z), 1.0 - y));
    match (pos, neg) {
        (Some(a), Some(b)) => a + b,
        (Some(a), None) => a,
        (None, Some(b)) => b,
        (None, None) => unreachable!("y cannot be both 0 and 1"),
    }
}

/// `v * w`, without a node when `w` is 1.
fn scale(v: Value<'_>, w: f64) -> Value<'_> {
    if w == 1.0 { v } else { v * w }
}
