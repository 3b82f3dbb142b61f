//! GPT-2 (§5.1–5.2 of the book): the architecture of Hugging Face's `GPT2LMHeadModel`,
//! parameter for parameter and name for name, so its checkpoints load by name.
//!
//! ```text
//! ids ─▶ wte(ids) + wpe(positions) ─▶ dropout ─▶ 12 × block ─▶ ln_f ─▶ · wteᵀ ─▶ logits
//! block: x + c_proj(attention(c_attn(ln_1(x))))   then   x + c_proj(gelu_new(c_fc(ln_2(x))))
//! ```
//!
//! - learned position embeddings (`wpe`), pre-norm LayerNorm with the config's ε;
//! - Q, K and V from one fused projection (`c_attn`, a [`Conv1d`] with Hugging Face's
//!   `[in, out]` weight), causal multi-head attention scaled by `1/√d_head`, with a padding
//!   mask for batches of unequal rows (left or right padding);
//! - `gelu_new` (GELU's tanh form) in the MLP of `4·n_embd` units;
//! - the output projection is the token embedding itself (`lm_head.weight` *is*
//!   `transformer.wte.weight`: one [`Parameter`] in two places, counted, trained and saved
//!   once).
//!
//! Parameter names are those of `GPT2LMHeadModel.state_dict()` (`transformer.h.0.attn.c_attn.weight`,
//! …), so [`crate::gpt2_load`] maps a checkpoint directory onto the model by name, and
//! every linear layer is a [`Lora`] slot (PEFT's names for adapters).
//!
//! ```
//! use ferrograd_lm::gpt2::{Gpt2Config, Gpt2LmHeadModel};
//! use ferrograd_nn::Module;
//! use ferrograd_tensor::{IdTensor, Rng};
//!
//! let config = Gpt2Config::gpt2_124m();
//! # let config = Gpt2Config { n_layer: 1, ..config }; // keep the doc-test small
//! let model = Gpt2LmHeadModel::<f32>::new(&config, &mut Rng::new(0))?;
//! # assert_eq!(model.num_parameters(), 124_439_808 - 11 * 7_087_872);
//! // With n_layer = 12 this is 124,439,808, Hugging Face's count for GPT-2 small.
//! let logits = model.logits(&IdTensor::from([[464, 2068, 7586]]))?;
//! assert_eq!(logits.shape(), &[1, 3, 50_257]);
//! # Ok::<(), ferrograd_lm::LmError>(())
//! ```

use crate::error::{LmError, Result, invalid};
use ferrograd_nn::{
    Conv1d, CrossEntropyLoss, Dropout, Embedding, Forward, LayerNorm, Lora, LoraHost, LoraSlot,
    Module, Visitor,
};
use ferrograd_tensor::{IdTensor, Parameter, Rng, Scalar, Tensor};

/// The activation of GPT-2's MLP (the config's `activation_function`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `gelu_new` (and `gelu_pytorch_tanh`): GELU's tanh approximation, GPT-2's.
    GeluNew,
    /// `gelu`: the exact GELU `x·Φ(x)`.
    Gelu,
    /// `relu`.
    Relu,
}

impl Activation {
    /// Parses a Hugging Face `activation_function` name.
    ///
    /// # Errors
    /// [`LmError::InvalidConfig`] for a name not listed in [`Activation`].
    pub fn parse(name: &str) -> Result<Self> {
        Ok(match name {
            "gelu_new" | "gelu_pytorch_tanh" => Self::GeluNew,
            "gelu" => Self::Gelu,
            "relu" => Self::Relu,
            other => {
                return Err(invalid(
                    "Gpt2Config",
                    "activation_function",
                    other,
                    "one of gelu_new, gelu_pytorch_tanh, gelu, relu",
                ));
            }
        })
    }

    /// The Hugging Face name.
    pub fn name(self) -> &'static str {
        match self {
            Self::GeluNew => "gelu_new",
            Self::Gelu => "gelu",
            Self::Relu => "relu",
        }
    }

    fn apply<T: Scalar>(self, x: &Tensor<T>) -> Result<Tensor<T>> {
        Ok(match self {
            Self::GeluNew => ferrograd_nn::functional::gelu_tanh(x)?,
            Self::Gelu => x.gelu(),
            Self::Relu => x.relu(),
        })
    }
}

/// GPT-2's hyper-parameters, Hugging Face's `GPT2Config` (the keys that change the
/// computation; [`crate::gpt2_load`] reads and writes `config.json`).
#[derive(Debug, Clone, PartialEq)]
pub struct Gpt2Config {
    /// Vocabulary size (50,257 for GPT-2).
    pub vocab_size: usize,
    /// Longest context: rows of the position table (1,024).
    pub n_positions: usize,
    /// Model width d (768).
    pub n_embd: usize,
    /// Number of blocks (12).
    pub n_layer: usize,
    /// Attention heads per block (12); must divide `n_embd`.
    pub n_head: usize,
    /// MLP width; `None` means `4·n_embd`.
    pub n_inner: Option<usize>,
    /// The MLP's activation.
    pub activation: Activation,
    /// LayerNorm's ε (1e-5).
    pub layer_norm_epsilon: f64,
    /// Dropout after the embeddings.
    pub embd_pdrop: f64,
    /// Dropout on the attention probabilities.
    pub attn_pdrop: f64,
    /// Dropout after each block's two projections.
    pub resid_pdrop: f64,
    /// Standard deviation of the random initialisation (0.02).
    pub initializer_range: f64,
    /// Scale attention scores by `1/√d_head` (true for GPT-2).
    pub scale_attn_weights: bool,
    /// Also scale block `i`'s scores by `1/(i + 1)` (false for GPT-2).
    pub scale_attn_by_inverse_layer_idx: bool,
    /// The output projection is the token embedding (true for GPT-2). When false the
    /// model has its own `lm_head.weight`.
    pub tie_word_embeddings: bool,
    /// Beginning-of-sequence id, if the config names one.
    pub bos_token_id: Option<i64>,
    /// End-of-sequence id(s) (a config may list several).
    pub eos_token_id: Vec<i64>,
    /// Padding id, if the config names one.
    pub pad_token_id: Option<i64>,
}

impl Default for Gpt2Config {
    /// Hugging Face's `GPT2Config()`: GPT-2 small (124M).
    fn default() -> Self {
        Self {
            vocab_size: 50_257,
            n_positions: 1024,
            n_embd: 768,
            n_layer: 12,
            n_head: 12,
            n_inner: None,
            activation: Activation::GeluNew,
            layer_norm_epsilon: 1e-5,
            embd_pdrop: 0.1,
            attn_pdrop: 0.1,
            resid_pdrop: 0.1,
            initializer_range: 0.02,
            scale_attn_weights: true,
            scale_attn_by_inverse_layer_idx: false,
            tie_word_embeddings: true,
            bos_token_id: Some(50_256),
            eos_token_id: vec![50_256],
            pad_token_id: None,
        }
    }
}

impl Gpt2Config {
    /// GPT-2 small: `GPT2Config()`'s defaults (124,439,808 parameters).
    pub fn gpt2_124m() -> Self {
        Self::default()
    }

    /// The same architecture without dropout (for evaluation-like training runs and
    /// benchmarks, as llm.c trains GPT-2).
    pub fn without_dropout(mut self) -> Self {
        self.embd_pdrop = 0.0;
        self.attn_pdrop = 0.0;
        self.resid_pdrop = 0.0;
        self
    }

    /// A small GPT-2 for examples and tests: `vocab_size` tokens, context `n_positions`,
    /// width `n_embd`, `n_layer` blocks of `n_head` heads, no dropout.
    pub fn small(
        vocab_size: usize,
        n_positions: usize,
        n_embd: usize,
        n_layer: usize,
        n_head: usize,
    ) -> Self {
        Self {
            vocab_size,
            n_positions,
            n_embd,
            n_layer,
            n_head,
            bos_token_id: None,
            eos_token_id: Vec::new(),
            ..Self::default()
        }
        .without_dropout()
    }

    /// The MLP width (`n_inner`, or `4·n_embd`; `usize::MAX` when `4·n_embd` overflows,
    /// a width the model constructors refuse as [`LmError::ModelTooLarge`]).
    pub fn inner(&self) -> usize {
        self.n_inner.unwrap_or(self.n_embd.saturating_mul(4))
    }

    /// How many values the body's parameters hold (`wte`, `wpe`, the blocks, `ln_f`;
    /// the tied head adds none), computed without overflow: `None` when the count does
    /// not fit a `usize` (a config no memory could hold).
    ///
    /// ```
    /// use ferrograd_lm::gpt2::Gpt2Config;
    /// let c = Gpt2Config::from_json(r#"{"vocab_size": 1000, "n_positions": 512, "n_embd": 32, "n_layer": 5, "n_head": 4}"#, "inline")?;
    /// assert_eq!(c.num_parameters(), Some(111_968)); // hf-internal-testing/tiny-random-gpt2
    /// let huge = Gpt2Config { n_positions: usize::MAX / 2, ..c };
    /// assert_eq!(huge.num_parameters(), None);
    /// # Ok::<(), ferrograd_lm::LmError>(())
    /// ```
    pub fn num_parameters(&self) -> Option<usize> {
        let e = self.n_embd;
        let inner = match self.n_inner {
            Some(i) => i,
            None => e.checked_mul(4)?,
        };
        let mul = |a: usize, b: usize| a.checked_mul(b);
        // ln_1, ln_2: 2·(2e); c_attn: e·3e + 3e; attn c_proj: e·e + e; c_fc: e·i + i;
        // mlp c_proj: i·e + e.
        let block = [
            mul(4, e)?,
            mul(e, mul(3, e)?)?.checked_add(mul(3, e)?)?,
            mul(e, e)?.checked_add(e)?,
            mul(e, inner)?.checked_add(inner)?,
            mul(inner, e)?.checked_add(e)?,
        ]
        .into_iter()
        .try_fold(0usize, usize::checked_add)?;
        [
            mul(self.vocab_size, e)?,
            mul(self.n_positions, e)?,
            mul(block, self.n_layer)?,
            mul(2, e)?,
        ]
        .into_iter()
        .try_fold(0usize, usize::checked_add)
    }

    /// Size of one head, `n_embd / n_head`.
    pub fn head_dim(&self) -> usize {
        self.n_embd / self.n_head.max(1)
    }

    /// Checks the sizes.
    ///
    /// # Errors
    /// [`LmError::InvalidConfig`] for a zero size, heads that do not divide the width, a
    /// dropout outside `[0, 1)` or a non-positive ε.
    pub fn validate(&self) -> Result<()> {
        let op = "Gpt2Config";
        for (name, v) in [
            ("vocab_size", self.vocab_size),
            ("n_positions", self.n_positions),
            ("n_embd", self.n_embd),
            ("n_layer", self.n_layer),
            ("n_head", self.n_head),
            ("n_inner", self.inner()),
        ] {
            if v == 0 {
                return Err(invalid(op, name, v, "must be at least 1"));
            }
        }
        if !self.n_embd.is_multiple_of(self.n_head) {
            return Err(invalid(
                op,
                "n_head",
                self.n_head,
                format!("must divide n_embd = {}", self.n_embd),
            ));
        }
        for (name, p) in [
            ("embd_pdrop", self.embd_pdrop),
            ("attn_pdrop", self.attn_pdrop),
            ("resid_pdrop", self.resid_pdrop),
        ] {
            if !(0.0..1.0).contains(&p) {
                return Err(invalid(op, name, p, "a probability in [0, 1)"));
            }
        }
        if !(self.layer_norm_epsilon > 0.0 && self.layer_norm_epsilon.is_finite()) {
            return Err(invalid(
                op,
                "layer_norm_epsilon",
                self.layer_norm_epsilon,
                "a positive number",
            ));
        }
        Ok(())
    }
}

/// The fused-QKV causal self-attention of one block (`attn`).
#[derive(Debug)]
pub struct Gpt2Attention<T: Scalar = f32> {
    /// Q, K, V projection `[d, 3d]` (a LoRA slot; PEFT's default target for GPT-2).
    pub c_attn: Lora<Conv1d<T>, T>,
    /// Output projection `[d, d]`.
    pub c_proj: Lora<Conv1d<T>, T>,
    attn_dropout: Dropout,
    resid_dropout: Dropout,
    n_head: usize,
    /// `1/√d_head` (times `1/(layer + 1)` with `scale_attn_by_inverse_layer_idx`).
    pub(crate) scale: f64,
}

impl<T: Scalar> Module<T> for Gpt2Attention<T> {
    fn visit(&self, v: &mut dyn Visitor<T>) {
        v.module("c_attn", &self.c_attn);
        v.module("c_proj", &self.c_proj);
        v.module("attn_dropout", &self.attn_dropout);
        v.module("resid_dropout", &self.resid_dropout);
    }
}

/// The position-wise MLP of one block (`mlp`): `c_proj(act(c_fc(x)))`.
#[derive(Debug)]
pub struct Gpt2Mlp<T: Scalar = f32> {
    /// `[d, inner]`.
    pub c_fc: Lora<Conv1d<T>, T>,
    /// `[inner, d]`.
    pub c_proj: Lora<Conv1d<T>, T>,
    dropout: Dropout,
    activation: Activation,
}

impl<T: Scalar> Module<T> for Gpt2Mlp<T> {
    fn visit(&self, v: &mut dyn Visitor<T>) {
        v.module("c_fc", &self.c_fc);
        v.module("c_proj", &self.c_proj);
        v.module("dropout", &self.dropout);
    }
}

/// One pre-norm block (`h.N`).
#[derive(Debug)]
pub struct Gpt2Block<T: Scalar = f32> {
    /// Norm before attention.
    pub ln_1: LayerNorm<T>,
    /// Self-attention.
    pub attn: Gpt2Attention<T>,
    /// Norm before the MLP.
    pub ln_2: LayerNorm<T>,
    /// The MLP.
    pub mlp: Gpt2Mlp<T>,
}

impl<T: Scalar> Module<T> for Gpt2Block<T> {
    fn visit(&self, v: &mut dyn Visitor<T>) {
        v.module("ln_1", &self.ln_1);
        v.module("attn", &self.attn);
        v.module("ln_2", &self.ln_2);
        v.module("mlp", &self.mlp);
    }
}

/// The transformer body (`transformer`, Hugging Face's `GPT2Model`): embeddings, blocks,
/// final norm; outputs hidden states `[B, T, d]`.
#[derive(Debug)]
pub struct Gpt2Model<T: Scalar = f32> {
    /// Token embedding `[V, d]` (also the output projection when tied).
    pub wte: Embedding<T>,
    /// Position embedding `[n_positions, d]`.
    pub wpe: Embedding<T>,
    drop: Dropout,
    /// The blocks.
    pub h: Vec<Gpt2Block<T>>,
    /// The final norm.
    pub ln_f: LayerNorm<T>,
    config: Gpt2Config,
}

impl<T: Scalar> Module<T> for Gpt2Model<T> {
    fn visit(&self, v: &mut dyn Visitor<T>) {
        v.module("wte", &self.wte);
        v.module("wpe", &self.wpe);
        v.module("drop", &self.drop);
        v.modules("h", &self.h);
        v.module("ln_f", &self.ln_f);
    }
}

/// What a forward pass reads besides the ids: the padding mask and the positions.
///
/// `attention_mask` is `[B, T]` with 1 for real tokens and 0 for padding (Hugging Face's
/// convention); padded keys are never attended to. `position_ids` default to `0..T`; for
/// left-padded rows pass [`position_ids_from_mask`] (what `generate` does).
#[derive(Debug, Clone, Copy, Default)]
pub struct Gpt2Input<'a> {
    /// Token ids `[B, T]`.
    pub input_ids: Option<&'a IdTensor>,
    /// 1 = token, 0 = padding, `[B, T]`.
    pub attention_mask: Option<&'a IdTensor>,
    /// Positions `[B, T]` (or `[T]`), default `0..T`.
    pub position_ids: Option<&'a IdTensor>,
}

impl<'a> Gpt2Input<'a> {
    /// Ids only (no padding, positions `0..T`).
    pub fn ids(input_ids: &'a IdTensor) -> Self {
        Self {
            input_ids: Some(input_ids),
            ..Self::default()
        }
    }

    /// Ids and a padding mask; positions `0..T` (right padding) — use
    /// [`Gpt2Input::with_positions`] for left padding.
    pub fn masked(input_ids: &'a IdTensor, attention_mask: &'a IdTensor) -> Self {
        Self {
            input_ids: Some(input_ids),
            attention_mask: Some(attention_mask),
            position_ids: None,
        }
    }

    /// The same with explicit positions.
    pub fn with_positions(mut self, position_ids: &'a IdTensor) -> Self {
        self.position_ids = Some(position_ids);
        self
    }
}

/// Positions that count only real tokens, `cumsum(mask) − 1` with 0 on padding: what
/// transformers' `generate` passes for left-padded rows, so each row's first real token
/// sits at position 0.
///
/// ```
/// use ferrograd_lm::gpt2::position_ids_from_mask;
/// use ferrograd_tensor::IdTensor;
/// let mask = IdTensor::from([[0, 0, 1, 1], [1, 1, 1, 1]]);
/// assert_eq!(position_ids_from_mask(&mask)?.to_vec(), [0, 0, 0, 1, 0, 1, 2, 3]);
/// # Ok::<(), ferrograd_lm::LmError>(())
/// ```
///
/// # Errors
/// [`LmError::InvalidConfig`] for a mask that is not 2-D.
pub fn position_ids_from_mask(mask: &IdTensor) -> Result<IdTensor> {
    let &[b, t] = mask.shape() else {
        return Err(invalid(
            "position_ids_from_mask",
            "attention_mask",
            format!("{:?}", mask.shape()),
            "a [batch, time] mask",
        ));
    };
    let m = mask.contiguous_data();
    let mut out = vec![0i64; b * t];
    for row in 0..b {
        let mut count = 0i64;
        for col in 0..t {
            if m[row * t + col] != 0 {
                out[row * t + col] = count;
                count += 1;
            }
        }
    }
    Ok(IdTensor::new(out, &[b, t])?)
}

/// The sizes of `config` that decide its memory, for [`LmError::ModelTooLarge`].
fn describe_sizes(config: &Gpt2Config, head_rows: usize) -> String {
    let inner = match config.n_inner {
        Some(i) => i.to_string(),
        None => format!("None (4·n_embd = {})", config.n_embd as u128 * 4),
    };
    let mut text = format!(
        "vocab_size {}, n_positions {}, n_embd {}, n_layer {}, n_inner {inner}",
        config.vocab_size, config.n_positions, config.n_embd, config.n_layer
    );
    if head_rows > 0 {
        text.push_str(&format!(", a head of {head_rows} rows"));
    }
    text
}

/// Refuses, before anything is allocated, a model of `config` (plus `head_rows` rows of
/// width `n_embd` built beside the body: an untied `lm_head`, a classifier's `score`)
/// whose memory cannot be counted or can never be allocated: a parameter count that
/// overflows `usize`, or parameters (`size_of::<T>()` bytes each) and blocks that
/// together need more than `isize::MAX` bytes — the most any Rust allocation can serve,
/// and a lower bound on what the model needs. Each weight is part of that total, so no
/// single weight's size overflows either. A model below the limit may still not fit the
/// memory at hand: each weight's allocation is checked as it is made.
fn check_model_size<T: Scalar>(build: Build<'_>) -> Result<()> {
    let (config, head_rows) = (build.config, build.head_rows);
    let too_large = |reason: String| build.too_large(reason);
    let values = config
        .num_parameters()
        .and_then(|body| head_rows.checked_mul(config.n_embd)?.checked_add(body))
        .ok_or_else(|| {
            too_large(format!(
                "its parameter count overflows usize (more than {} values)",
                usize::MAX
            ))
        })?;
    let elem = size_of::<T>();
    let block = size_of::<Gpt2Block<T>>();
    // In u128 these products cannot overflow (both factors are below 2⁶⁴).
    let bytes = values as u128 * elem as u128 + config.n_layer as u128 * block as u128;
    if bytes > isize::MAX as u128 {
        return Err(too_large(format!(
            "its {values} parameter values need {bytes} bytes as {} ({elem} bytes each, \
             with {block} bytes per block), more than isize::MAX = {} bytes, the most any \
             allocation can hold",
            std::any::type_name::<T>(),
            isize::MAX
        )));
    }
    Ok(())
}

/// The error for a weight `name` of `shape` whose allocation failed (the memory at hand
/// is too small).
fn allocation_failed<T: Scalar>(
    build: Build<'_>,
    name: &str,
    shape: &[usize],
    why: impl std::fmt::Display,
) -> LmError {
    // Saturating: the shape may be the one whose count overflowed.
    let bytes = shape
        .iter()
        .fold(size_of::<T>() as u128, |b, &n| b.saturating_mul(n as u128));
    let reason = format!(
        "cannot allocate {name} {shape:?} ({bytes} bytes as {}): {why}",
        std::any::type_name::<T>()
    );
    build.too_large(reason)
}

/// What a constructor builds: the call (for errors), the config, and the rows of the
/// head built beside the body.
#[derive(Clone, Copy)]
struct Build<'c> {
    op: &'static str,
    config: &'c Gpt2Config,
    head_rows: usize,
}

impl Build<'_> {
    /// [`LmError::ModelTooLarge`] for this build.
    fn too_large(self, reason: String) -> LmError {
        LmError::ModelTooLarge {
            op: self.op,
            config: describe_sizes(self.config, self.head_rows),
            reason,
        }
    }
}

/// Where a new model's weights come from.
enum Init<'r> {
    /// Hugging Face's initialisation: `N(0, std²)` from this generator.
    Normal(&'r mut Rng),
    /// Zeros, in memory left untouched until written (see [`Gpt2LmHeadModel::zeros`]).
    Zeros,
}

impl Init<'_> {
    /// A weight of `shape` named `name`: `N(0, std²)`, or zeros; an allocation the
    /// allocator refuses is [`LmError::ModelTooLarge`], not an abort.
    fn weight<T: Scalar>(
        &mut self,
        build: Build<'_>,
        name: &str,
        shape: &[usize],
        std: f64,
    ) -> Result<Tensor<T>> {
        let failed = |why: &dyn std::fmt::Display| allocation_failed::<T>(build, name, shape, why);
        match self {
            // `normal`'s fallible form: the same draws.
            Init::Normal(rng) => {
                Tensor::try_randn(shape, T::ZERO, T::from_f64(std), rng).map_err(|e| failed(&e))
            }
            Init::Zeros => {
                let n = shape
                    .iter()
                    .try_fold(1usize, |n, &d| n.checked_mul(d))
                    .ok_or_else(|| failed(&"the element count overflows usize"))?;
                // `vec![0; n]` asks the allocator for zeroed memory: fresh pages, which
                // the operating system maps lazily, are not written, but a block the
                // allocator reuses is cleared (the 124M skeleton built after other work
                // raised the resident set by ~0.3 GB, measured with glibc). It aborts
                // when the allocation fails. Asking for the same size fallibly first (and giving
                // it back untouched) turns a size the allocator refuses into an error.
                let mut probe: Vec<T> = Vec::new();
                probe.try_reserve_exact(n).map_err(|e| failed(&e))?;
                drop(std::hint::black_box(probe));
                Ok(Tensor::from_vec(vec![T::ZERO; n], shape)?)
            }
        }
    }

    /// The seed of the dropout layers' generators.
    fn seed(&mut self) -> u64 {
        match self {
            Init::Normal(rng) => rng.next_u64(),
            Init::Zeros => 0,
        }
    }
}

impl<T: Scalar> Gpt2Model<T> {
    /// A randomly initialised body, as Hugging Face initialises GPT-2: every weight
    /// `N(0, initializer_range²)`, the blocks' output projections `N(0, (range/√(2·n_layer))²)`,
    /// biases 0, norms 1 and 0. In training mode (dropout on), as PyTorch modules start.
    ///
    /// # Errors
    /// [`LmError::InvalidConfig`] for an invalid config; [`LmError::ModelTooLarge`]
    /// naming `Gpt2Model::new`, before anything is allocated, for a config whose
    /// parameter count overflows `usize` or whose parameters need more than
    /// `isize::MAX` bytes, and for a weight the allocator refuses.
    pub fn new(config: &Gpt2Config, rng: &mut Rng) -> Result<Self> {
        Self::random("Gpt2Model::new", config, 0, rng)
    }

    /// A random body for the constructor `op` of a model that adds `head_rows` rows of
    /// width `n_embd` beside it (counted in the size check before anything is built).
    pub(crate) fn random(
        op: &'static str,
        config: &Gpt2Config,
        head_rows: usize,
        rng: &mut Rng,
    ) -> Result<Self> {
        let build = Build {
            op,
            config,
            head_rows,
        };
        Self::build(build, &mut Init::Normal(rng))
    }

    /// The body with `init`'s weights (biases 0, norms 1 and 0 either way), after the
    /// config's checks and [`check_model_size`].
    fn build(build: Build<'_>, init: &mut Init<'_>) -> Result<Self> {
        let config = build.config;
        config.validate()?;
        check_model_size::<T>(build)?;
        let (d, std) = (config.n_embd, config.initializer_range);
        let proj_std = std / (2.0 * config.n_layer as f64).sqrt();
        let wte = init.weight(build, "wte.weight", &[config.vocab_size, d], std)?;
        let wte = Embedding::from_tensor(wte, None)?;
        let wpe = init.weight(build, "wpe.weight", &[config.n_positions, d], std)?;
        let wpe = Embedding::from_tensor(wpe, None)?;
        let mut seed = init.seed();
        let mut dropout = |p: f64| -> Result<Dropout> {
            seed = seed.wrapping_add(1);
            Ok(Dropout::new(p, seed)?)
        };
        let drop = dropout(config.embd_pdrop)?;
        let norm = || LayerNorm::with_options(&[d], config.layer_norm_epsilon, true);
        let mut conv = |name: String, n_in: usize, n_out: usize, std: f64| {
            let weight = init.weight(build, &format!("{name}.weight"), &[n_in, n_out], std)?;
            let bias = Tensor::try_zeros(&[n_out])
                .map_err(|e| allocation_failed::<T>(build, &format!("{name}.bias"), &[n_out], e))?;
            Ok::<_, LmError>(Lora::new(Conv1d::from_tensors(weight, Some(bias))?))
        };
        let mut h = Vec::new();
        h.try_reserve_exact(config.n_layer).map_err(|e| {
            let bytes = config.n_layer as u128 * size_of::<Gpt2Block<T>>() as u128;
            build.too_large(format!(
                "cannot allocate the list of {} blocks ({bytes} bytes): {e}",
                config.n_layer
            ))
        })?;
        for layer in 0..config.n_layer {
            let mut scale = if config.scale_attn_weights {
                1.0 / (config.head_dim() as f64).sqrt()
            } else {
                1.0
            };
            if config.scale_attn_by_inverse_layer_idx {
                scale /= (layer + 1) as f64;
            }
            // Every width fits: check_model_size counted these weights without overflow.
            let c_attn = conv(format!("h.{layer}.attn.c_attn"), d, 3 * d, std)?;
            let c_proj = conv(format!("h.{layer}.attn.c_proj"), d, d, proj_std)?;
            let c_fc = conv(format!("h.{layer}.mlp.c_fc"), d, config.inner(), std)?;
            let mlp_proj = conv(format!("h.{layer}.mlp.c_proj"), config.inner(), d, proj_std)?;
            h.push(Gpt2Block {
                ln_1: norm(),
                attn: Gpt2Attention {
                    c_attn,
                    c_proj,
                    attn_dropout: dropout(config.attn_pdrop)?,
                    resid_dropout: dropout(config.resid_pdrop)?,
                    n_head: config.n_head,
                    scale,
                },
                ln_2: norm(),
                mlp: Gpt2Mlp {
                    c_fc,
                    c_proj: mlp_proj,
                    dropout: dropout(config.resid_pdrop)?,
                    activation: config.activation,
                },
            });
        }
        Ok(Self {
            wte,
            wpe,
            drop,
            h,
            ln_f: norm(),
            config: config.clone(),
        })
    }

    /// The config it was built from.
    pub fn config(&self) -> &Gpt2Config {
        &self.config
    }

    /// Input embeddings `wte(ids) + wpe(positions)`, `[B, T, d]`, after the checks every
    /// entry point makes.
    pub(crate) fn embed(&self, input: &Gpt2Input<'_>, past: usize) -> Result<Tensor<T>> {
        let ids = input
            .input_ids
            .ok_or_else(|| invalid("Gpt2Model", "input_ids", "None", "token ids [B, T]"))?;
        let &[b, t] = ids.shape() else {
            return Err(invalid(
                "Gpt2Model",
                "input_ids",
                format!("shape {:?}", ids.shape()),
                "a [batch, time] tensor of ids",
            ));
        };
        if let Some(mask) = input.attention_mask
            && mask.shape() != [b, past + t]
        {
            return Err(invalid(
                "Gpt2Model",
                "attention_mask",
                format!("shape {:?}", mask.shape()),
                format!("[{b}, {}] (batch, past + new tokens)", past + t),
            ));
        }
        let positions = match input.position_ids {
            Some(p) if p.shape() == [b, t] || p.shape() == [t] => p.clone(),
            Some(p) => {
                return Err(invalid(
                    "Gpt2Model",
                    "position_ids",
                    format!("shape {:?}", p.shape()),
                    format!("[{b}, {t}] or [{t}]"),
                ));
            }
            None => IdTensor::arange(past as i64, (past + t) as i64)?,
        };
        if let Some(&max) = positions.contiguous_data().iter().max()
            && max >= self.config.n_positions as i64
        {
            return Err(invalid(
                "Gpt2Model",
                "position",
                max,
                format!(
                    "below n_positions = {} (the longest context)",
                    self.config.n_positions
                ),
            ));
        }
        let tokens = self.wte.lookup(ids)?;
        let x = tokens.add(&self.wpe.lookup(&positions)?)?;
        Ok(Forward::<&Tensor<T>>::forward(&self.drop, &x)?)
    }

    /// Hidden states after `ln_f`, `[B, T, d]`.
    ///
    /// # Errors
    /// [`LmError::InvalidConfig`] for ids that are not `[B, T]`, a mask or positions of
    /// another shape, a position past `n_positions`; an id past the vocabulary.
    pub fn hidden_states(&self, input: &Gpt2Input<'_>) -> Result<Tensor<T>> {
        let (x, _) = self.forward_all(input, false)?;
        Ok(x)
    }

    /// The final hidden states (after `ln_f`) and the embeddings followed by every block's
    /// output (before any final norm): what hooks on Hugging Face's modules see.
    ///
    /// # Errors
    /// As [`Gpt2Model::hidden_states`].
    pub fn forward_with_block_outputs(
        &self,
        input: &Gpt2Input<'_>,
    ) -> Result<(Tensor<T>, Vec<Tensor<T>>)> {
        self.forward_all(input, true)
    }

    fn forward_all(
        &self,
        input: &Gpt2Input<'_>,
        keep: bool,
    ) -> Result<(Tensor<T>, Vec<Tensor<T>>)> {
        let mut x = self.embed(input, 0)?;
        let (b, t) = (x.shape()[0], x.shape()[1]);
        let mask = attention_bias::<T>(input.attention_mask, b, t)?;
        let mut kept = Vec::new();
        if keep {
            kept.push(x.clone());
        }
        for block in &self.h {
            x = block.forward(&x, &mask)?;
            if keep {
                kept.push(x.clone());
            }
        }
        Ok((self.ln_f.forward(&x)?, kept))
    }
}

/// The attention mask as 1.0 where a query must not see a key, `[B or 1, 1, T, T]`:
/// future keys (causal) and, with a padding mask, padded keys.
pub(crate) fn attention_bias<T: Scalar>(
    padding: Option<&IdTensor>,
    b: usize,
    t: usize,
) -> Result<Tensor<T>> {
    let rows = if padding.is_some() { b } else { 1 };
    let mut data = vec![T::ZERO; rows * t * t];
    let pad = padding.map(|m| m.contiguous_data().into_owned());
    for r in 0..rows {
        for i in 0..t {
            for j in 0..t {
                let masked = j > i || pad.as_ref().is_some_and(|m| m[r * t + j] == 0);
                if masked {
                    data[(r * t + i) * t + j] = T::ONE;
                }
            }
        }
    }
    Ok(Tensor::from_vec(data, &[rows, 1, t, t])?)
}

impl<T: Scalar> Gpt2Block<T> {
    /// `x + attn(ln_1(x))`, then `x + mlp(ln_2(x))`; `mask` from [`attention_bias`].
    pub(crate) fn forward(&self, x: &Tensor<T>, mask: &Tensor<T>) -> Result<Tensor<T>> {
        let a = self.attn.forward(&self.ln_1.forward(x)?, mask)?;
        let x = x.add(&a)?;
        let m = self.mlp.forward(&self.ln_2.forward(&x)?)?;
        Ok(x.add(&m)?)
    }
}

impl<T: Scalar> Gpt2Attention<T> {
    fn forward(&self, x: &Tensor<T>, mask: &Tensor<T>) -> Result<Tensor<T>> {
        let (b, t, d) = (x.shape()[0], x.shape()[1], x.shape()[2]);
        let (h, dh) = (self.n_head, d / self.n_head);
        let qkv = self.c_attn.forward(x)?;
        let heads = |i: usize| -> Result<Tensor<T>> {
            Ok(qkv
                .narrow(-1, i * d, d)?
                .reshape(&[b, t, h, dh])?
                .transpose(1, 2)?)
        };
        let (q, k, v) = (heads(0)?, heads(1)?, heads(2)?);
        let scores = q
            .matmul(&k.transpose(-2, -1)?)?
            .mul_scalar(T::from_f64(self.scale));
        // The most negative finite value, as transformers' eager attention: a row whose
        // keys are all masked (a left-padding query) gets a uniform average instead of NaN.
        let probs = scores
            .masked_fill(mask, T::from_f64(f64::from(f32::MIN)))?
            .softmax(-1)?;
        let probs = Forward::<&Tensor<T>>::forward(&self.attn_dropout, &probs)?;
        let out = probs.matmul(&v)?.transpose(1, 2)?.reshape(&[b, t, d])?;
        let out = self.c_proj.forward(&out)?;
        Ok(Forward::<&Tensor<T>>::forward(&self.resid_dropout, &out)?)
    }
}

impl<T: Scalar> Gpt2Mlp<T> {
    fn forward(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        mlp_forward(self, x)
    }
}

/// `dropout(c_proj(act(c_fc(x))))`.
pub(crate) fn mlp_forward<T: Scalar>(mlp: &Gpt2Mlp<T>, x: &Tensor<T>) -> Result<Tensor<T>> {
    let hidden = mlp.activation.apply(&mlp.c_fc.forward(x)?)?;
    let out = mlp.c_proj.forward(&hidden)?;
    Ok(Forward::<&Tensor<T>>::forward(&mlp.dropout, &out)?)
}

/// GPT-2 with its language-model head, Hugging Face's `GPT2LMHeadModel`.
///
/// The head's weight is the token embedding's [`Parameter`] (tied), so
/// `named_parameters()` lists it once, as `transformer.wte.weight`; a checkpoint that
/// holds it as `lm_head.weight` as well loads into the same parameter.
#[derive(Debug)]
pub struct Gpt2LmHeadModel<T: Scalar = f32> {
    /// The body.
    pub transformer: Gpt2Model<T>,
    /// The output projection `[V, d]`: the same parameter as `transformer.wte.weight`
    /// unless the config unties them.
    pub lm_head: Parameter<T>,
}

/// The head as a module, so the structure names it `lm_head.weight`.
#[derive(Debug)]
struct Head<'a, T: Scalar>(&'a Parameter<T>);

impl<T: Scalar> Module<T> for Head<'_, T> {
    fn visit(&self, v: &mut dyn Visitor<T>) {
        v.param("weight", self.0);
    }
}

impl<T: Scalar> Module<T> for Gpt2LmHeadModel<T> {
    fn visit(&self, v: &mut dyn Visitor<T>) {
        v.module("transformer", &self.transformer);
        v.module("lm_head", &Head(&self.lm_head));
    }
}

impl<T: Scalar> Gpt2LmHeadModel<T> {
    /// A randomly initialised model (see [`Gpt2Model::new`]); the head is tied to `wte`
    /// unless the config says otherwise.
    ///
    /// # Errors
    /// [`LmError::InvalidConfig`] for an invalid config; [`LmError::ModelTooLarge`]
    /// naming `Gpt2LmHeadModel::new`, before anything is allocated, for a config whose
    /// parameter count (an untied head included) overflows `usize` or whose parameters
    /// need more than `isize::MAX` bytes, and for a weight the allocator refuses.
    pub fn new(config: &Gpt2Config, rng: &mut Rng) -> Result<Self> {
        Self::build("Gpt2LmHeadModel::new", config, &mut Init::Normal(rng))
    }

    /// A model whose every weight is zero (biases 0, norms 1 and 0; dropout seeds 1, 2,
    /// 3, … in layer order), built without drawing a random number and without touching
    /// the weights' memory until they are written:
    /// the skeleton [`Gpt2LmHeadModel::from_pretrained`] loads a checkpoint into, and a
    /// cheap way to count a configuration's parameters (GPT-2 124M's in milliseconds,
    /// while [`Gpt2LmHeadModel::new`] draws 124 million normal numbers).
    ///
    /// ```
    /// use ferrograd_lm::gpt2::{Gpt2Config, Gpt2LmHeadModel};
    /// use ferrograd_nn::Module;
    ///
    /// let skeleton = Gpt2LmHeadModel::<f32>::zeros(&Gpt2Config::gpt2_124m())?;
    /// assert_eq!(skeleton.num_parameters(), 124_439_808);
    /// # Ok::<(), ferrograd_lm::LmError>(())
    /// ```
    ///
    /// # Errors
    /// As [`Gpt2LmHeadModel::new`], naming `Gpt2LmHeadModel::zeros`. (A size the
    /// allocator accepts is not written here, so a model larger than the memory at hand
    /// may still be built; writing all its weights then exhausts the memory.)
    pub fn zeros(config: &Gpt2Config) -> Result<Self> {
        Self::build("Gpt2LmHeadModel::zeros", config, &mut Init::Zeros)
    }

    fn build(op: &'static str, config: &Gpt2Config, init: &mut Init<'_>) -> Result<Self> {
        // An untied head is one more `[V, d]` table, counted before anything is built.
        let head_rows = if config.tie_word_embeddings {
            0
        } else {
            config.vocab_size
        };
        let build = Build {
            op,
            config,
            head_rows,
        };
        let transformer = Gpt2Model::build(build, init)?;
        let lm_head = if config.tie_word_embeddings {
            transformer.wte.weight.clone()
        } else {
            Parameter::new(init.weight(
                build,
                "lm_head.weight",
                &[config.vocab_size, config.n_embd],
                config.initializer_range,
            )?)
        };
        Ok(Self {
            transformer,
            lm_head,
        })
    }

    /// The config it was built from.
    pub fn config(&self) -> &Gpt2Config {
        self.transformer.config()
    }

    /// Next-token logits `[B, T, V]` for unpadded ids `[B, T]`.
    ///
    /// # Errors
    /// As [`Gpt2Model::hidden_states`].
    pub fn logits(&self, input_ids: &IdTensor) -> Result<Tensor<T>> {
        self.logits_of(&Gpt2Input::ids(input_ids))
    }

    /// Next-token logits `[B, T, V]` with a padding mask and positions.
    ///
    /// # Errors
    /// As [`Gpt2Model::hidden_states`].
    pub fn logits_of(&self, input: &Gpt2Input<'_>) -> Result<Tensor<T>> {
        let hidden = self.transformer.hidden_states(input)?;
        self.project(&hidden)
    }

    /// The logits of hidden states `[.., d]`: `hidden · lm_headᵀ`.
    pub(crate) fn project(&self, hidden: &Tensor<T>) -> Result<Tensor<T>> {
        Ok(hidden.matmul(&self.lm_head.tensor().t()?)?)
    }

    /// The language-model loss with labels, as `GPT2LMHeadModel(…, labels=…).loss`: the
    /// mean cross-entropy of the logit at position t against `labels[t + 1]` over every
    /// label that is not −100, token-weighted over the batch. Labels are usually the ids
    /// with −100 on padding (and, for supervised finetuning, on the prompt).
    ///
    /// # Errors
    /// [`LmError::InvalidConfig`] when `labels` is not `[B, T]` like the logits or T < 2;
    /// a label past the vocabulary.
    pub fn loss(&self, logits: &Tensor<T>, labels: &IdTensor) -> Result<Tensor<T>> {
        causal_lm_loss(logits, labels)
    }
}

/// The causal-LM loss of [`Gpt2LmHeadModel::loss`] for any logits `[B, T, V]`: the logit
/// at t is scored against `labels[t + 1]`; −100 is ignored. The shift is done on the
/// labels (the last position gets −100), so the logits are read in place.
///
/// # Errors
/// [`LmError::InvalidConfig`] for mismatched shapes or sequences of fewer than 2 tokens
/// (nothing to predict); a label past the vocabulary.
pub fn causal_lm_loss<T: Scalar>(logits: &Tensor<T>, labels: &IdTensor) -> Result<Tensor<T>> {
    let &[b, t, v] = logits.shape() else {
        return Err(invalid(
            "causal_lm_loss",
            "logits",
            format!("shape {:?}", logits.shape()),
            "[batch, time, vocabulary]",
        ));
    };
    if labels.shape() != [b, t] {
        return Err(invalid(
            "causal_lm_loss",
            "labels",
            format!("shape {:?}", labels.shape()),
            format!("[{b}, {t}] like the logits"),
        ));
    }
    if t < 2 {
        // The shift leaves no target (HF's loss is NaN here): an error instead.
        return Err(invalid(
            "causal_lm_loss",
            "sequence length",
            t,
            "at least 2 tokens (the first predicts the second)",
        ));
    }
    let l = labels.contiguous_data();
    let mut shifted = vec![-100i64; b * t];
    for row in 0..b {
        shifted[row * t..row * t + t.saturating_sub(1)]
            .copy_from_slice(&l[row * t + 1..(row + 1) * t]);
    }
    let targets = IdTensor::new(shifted, &[b * t])?;
    Ok(CrossEntropyLoss::default().forward(&logits.reshape(&[b * t, v])?, &targets)?)
}

impl<'a, T: Scalar> Forward<Gpt2Input<'a>> for Gpt2LmHeadModel<T> {
    type Output = Tensor<T>;
    /// Logits `[B, T, V]`.
    fn forward(&self, input: Gpt2Input<'a>) -> ferrograd_nn::Result<Tensor<T>> {
        self.logits_of(&input).map_err(into_nn)
    }
}

impl<T: Scalar> Forward<&IdTensor> for Gpt2LmHeadModel<T> {
    type Output = Tensor<T>;
    /// Logits `[B, T, V]` of unpadded ids.
    fn forward(&self, ids: &IdTensor) -> ferrograd_nn::Result<Tensor<T>> {
        self.forward(Gpt2Input::ids(ids))
    }
}

/// An lm error as an nn error (for [`Forward`], whose error type is nn's).
pub(crate) fn into_nn(e: LmError) -> ferrograd_nn::NnError {
    match e {
        LmError::Nn(inner) => inner,
        LmError::Tensor(inner) => ferrograd_nn::NnError::Tensor(inner),
        other => ferrograd_nn::NnError::InvalidArgument {
            op: "Gpt2",
            reason: other.to_string(),
        },
    }
}

/// A block's four projections that can take a LoRA adapter, by their names in the block.
const PROJECTIONS: [&str; 4] = ["attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"];

impl<T: Scalar> Gpt2Block<T> {
    /// The projections, in [`PROJECTIONS`] order.
    fn projections(&self) -> [&Lora<Conv1d<T>, T>; 4] {
        [
            &self.attn.c_attn,
            &self.attn.c_proj,
            &self.mlp.c_fc,
            &self.mlp.c_proj,
        ]
    }

    /// The projections, in [`PROJECTIONS`] order, to change.
    fn projections_mut(&mut self) -> [&mut Lora<Conv1d<T>, T>; 4] {
        [
            &mut self.attn.c_attn,
            &mut self.attn.c_proj,
            &mut self.mlp.c_fc,
            &mut self.mlp.c_proj,
        ]
    }
}

impl<T: Scalar> Gpt2Model<T> {
    /// The scaling of every attached adapter, named as [`Gpt2Model::slots`] names them.
    pub(crate) fn scalings(&self, prefix: &str) -> Vec<(String, f64)> {
        let mut out = Vec::new();
        for (i, block) in self.h.iter().enumerate() {
            for (name, layer) in PROJECTIONS.iter().zip(block.projections()) {
                if let Some(adapter) = layer.adapter() {
                    out.push((format!("{prefix}h.{i}.{name}"), adapter.scaling()));
                }
            }
        }
        out
    }

    /// Every projection as a LoRA slot, with its full name under `prefix`.
    pub(crate) fn slots<'s>(&'s mut self, prefix: &str) -> Vec<(String, &'s mut dyn LoraSlot<T>)> {
        let mut out: Vec<(String, &'s mut dyn LoraSlot<T>)> = Vec::new();
        for (i, block) in self.h.iter_mut().enumerate() {
            for (name, layer) in PROJECTIONS.iter().zip(block.projections_mut()) {
                out.push((format!("{prefix}h.{i}.{name}"), layer));
            }
        }
        out
    }
}

impl<T: Scalar> LoraHost<T> for Gpt2LmHeadModel<T> {
    fn lora_slots(&mut self) -> Vec<(String, &mut dyn LoraSlot<T>)> {
        self.transformer.slots("transformer.")
    }

    fn default_lora_targets(&self) -> Vec<String> {
        vec!["c_attn".into()]
    }

    fn lora_fan_in_fan_out(&self) -> bool {
        true
    }

    fn lora_scalings(&self) -> Vec<(String, f64)> {
        self.transformer.scalings("transformer.")
    }
}

impl<T: Scalar> Gpt2LmHeadModel<T> {
    /// PEFT's `get_peft_model`: freezes every parameter, then attaches fresh trainable
    /// adapters to the projections that `config` targets (`c_attn` when it names none).
    /// Returns the names of the wrapped layers.
    ///
    /// ```
    /// use ferrograd_lm::gpt2::{Gpt2Config, Gpt2LmHeadModel};
    /// use ferrograd_nn::{LoraConfig, Module};
    /// use ferrograd_tensor::Rng;
    /// let mut model = Gpt2LmHeadModel::<f32>::new(&Gpt2Config::small(100, 16, 32, 2, 4), &mut Rng::new(0))?;
    /// let wrapped = model.add_lora(&LoraConfig::new(4, 8.0), &mut Rng::new(1))?;
    /// assert_eq!(wrapped, ["transformer.h.0.attn.c_attn", "transformer.h.1.attn.c_attn"]);
    /// assert_eq!(model.num_trainable_parameters(), 2 * 4 * (32 + 96));
    /// # Ok::<(), ferrograd_lm::LmError>(())
    /// ```
    ///
    /// # Errors
    /// [`LmError::Nn`] for invalid settings or targets that match no layer.
    pub fn add_lora(
        &mut self,
        config: &ferrograd_nn::LoraConfig,
        rng: &mut Rng,
    ) -> Result<Vec<String>> {
        self.freeze();
        Ok(ferrograd_nn::apply_lora(self, config, rng)?)
    }

    /// Folds every attached adapter into its base weight (PEFT's `merge_adapter`).
    ///
    /// # Errors
    /// A tensor error.
    pub fn merge_lora(&mut self) -> Result<()> {
        for (_, slot) in self.lora_slots() {
            slot.merge()?;
        }
        Ok(())
    }

    /// Takes every merged adapter back out of its base weight (PEFT's `unmerge_adapter`).
    ///
    /// # Errors
    /// A tensor error.
    pub fn unmerge_lora(&mut self) -> Result<()> {
        for (_, slot) in self.lora_slots() {
            slot.unmerge()?;
        }
        Ok(())
    }

    /// Merges every adapter and removes it (PEFT's `merge_and_unload`): a plain GPT-2 with
    /// the updated weights, ready to be saved for transformers. The base weights stay
    /// frozen; call `unfreeze()` to train them.
    ///
    /// # Errors
    /// A tensor error.
    pub fn merge_and_unload(&mut self) -> Result<()> {
        for (_, slot) in self.lora_slots() {
            slot.merge_and_remove()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrograd_nn::Module;

    #[test]
    fn a_sequence_too_short_to_predict_is_an_error() {
        for t in [0, 1] {
            let logits = Tensor::<f32>::zeros(&[2, t, 5]);
            let labels = IdTensor::new(vec![1; 2 * t], &[2, t]).unwrap();
            let err = causal_lm_loss(&logits, &labels).unwrap_err();
            assert!(matches!(err, LmError::InvalidConfig { .. }), "{err}");
            assert!(err.to_string().contains("at least 2 tokens"), "{err}");
        }
        let logits = Tensor::<f32>::zeros(&[1, 2, 5]);
        let labels = IdTensor::new(vec![1, 3], &[1, 2]).unwrap();
        let loss = causal_lm_loss(&logits, &labels).unwrap().item().unwrap();
        assert!(
            (f64::from(loss) - 5f64.ln()).abs() < 1e-6,
            "uniform over 5: ln 5"
        );
    }

    #[test]
    fn the_zero_skeleton_has_the_random_models_parameters_all_zero() {
        for tie in [true, false] {
            let config = Gpt2Config {
                tie_word_embeddings: tie,
                ..Gpt2Config::small(50, 16, 8, 2, 2)
            };
            let random = Gpt2LmHeadModel::<f32>::new(&config, &mut Rng::new(3)).unwrap();
            let zeros = Gpt2LmHeadModel::<f32>::zeros(&config).unwrap();
            let shapes = |m: &Gpt2LmHeadModel<f32>| -> Vec<(String, Vec<usize>)> {
                m.named_parameters()
                    .into_iter()
                    .map(|(n, p)| (n, p.shape()))
                    .collect()
            };
            assert_eq!(shapes(&zeros), shapes(&random));
            assert_eq!(zeros.num_parameters(), random.num_parameters());
            for (name, p) in zeros.named_parameters() {
                let values = p.tensor().to_vec();
                // LayerNorm weights start at 1 in both; everything else is zero.
                let expected = if name.ends_with("ln_1.weight")
                    || name.ends_with("ln_2.weight")
                    || name.ends_with("ln_f.weight")
                {
                    1.0
                } else {
                    0.0
                };
                assert!(values.iter().all(|&v| v == expected), "{name}");
            }
            // The random model draws its weights: not all zero.
            let wte = random.transformer.wte.weight.tensor().to_vec();
            assert!(wte.iter().any(|&v| v != 0.0));
        }
    }
}
