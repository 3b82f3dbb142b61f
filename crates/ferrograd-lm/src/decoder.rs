//! The book's decoder-only Transformer language model (§4.1–4.9, its
//! `news_decoder_language_model` notebook): token embedding, pre-norm decoder blocks
//! (RMSNorm, causal multi-head self-attention with RoPE, RMSNorm, position-wise MLP,
//! residuals), and an output matrix `[d, V]` without bias and without a final norm.
//!
//! Parameter names are the notebook's `state_dict()` keys (`embedding.weight`,
//! `layers.{l}.attn.heads.{h}.W_Q`, …, `output`), so its checkpoints load by name and ours
//! load into it. Initialisation is the notebook's: embedding `N(0, 0.02)` with the padding
//! row zeroed, Xavier-uniform for every matrix, zero biases, RMSNorm scales at one.
//!
//! ```
//! use ferrograd_lm::{DecoderConfig, DecoderLanguageModel};
//! use ferrograd_nn::Module;
//! use ferrograd_tensor::{IdTensor, Rng};
//!
//! // The book's model (d = 128, 8 heads, 2 blocks) over a vocabulary of 1,000 tokens:
//! let model = DecoderLanguageModel::<f32>::new(&DecoderConfig::book(1000, Some(0)), &mut Rng::new(0))?;
//! assert_eq!(model.num_parameters(), 256 * 1000 + 395_008);
//! let ids = IdTensor::new(vec![5, 17, 42, 7], &[1, 4])?;
//! assert_eq!(model.forward_ids(&ids)?.shape(), &[1, 4, 1000]); // logits for every position
//! # Ok::<(), ferrograd_lm::LmError>(())
//! ```

use crate::error::{LmError, Result, invalid};
use crate::generate::CachedLm;
use crate::train::CausalLm;
use crate::train_loss::matmul_cross_entropy;
use ferrograd_nn::init::{normal, xavier_uniform};
use ferrograd_nn::{DecoderBlock, Embedding, Forward, KvCache, Module, Rope, RopeStyle, Visitor};
use ferrograd_tensor::{IdTensor, Parameter, Rng, Scalar, Tensor, no_grad};

/// Sizes and settings of a [`DecoderLanguageModel`].
#[derive(Debug, Clone, PartialEq)]
pub struct DecoderConfig {
    /// Tokens in the vocabulary, `V`.
    pub vocab_size: usize,
    /// Width of embeddings and blocks, `d` (the book: 128).
    pub emb_dim: usize,
    /// Attention heads per block (the book: 8, so `d_h = 16`).
    pub num_heads: usize,
    /// Decoder blocks (the book: 2).
    pub num_blocks: usize,
    /// MLP hidden size (the book: `4d`).
    pub mlp_hidden: usize,
    /// Padding token: its embedding starts at zero and gets no gradient, and targets equal
    /// to it are left out of the loss.
    pub pad_idx: Option<usize>,
    /// The context: the longest sequence (prompt and generated tokens) the model takes.
    /// RoPE itself has no limit; this bounds prompts and KV caches.
    pub max_positions: usize,
    /// RMSNorm's ε, inside the square root (the notebook's 1e-8).
    pub rms_eps: f64,
    /// RoPE's base θ (10 000).
    pub rope_base: f64,
    /// RoPE's pairing: the book's interleaved pairs, or the half-split one.
    pub rope_style: RopeStyle,
}

impl DecoderConfig {
    /// The notebook's model over `vocab_size` tokens: d = 128, 8 heads, 2 blocks, MLP 512,
    /// RMSNorm ε = 1e-8, interleaved RoPE with base 10 000; up to 1,024 positions.
    pub fn book(vocab_size: usize, pad_idx: Option<usize>) -> Self {
        Self {
            vocab_size,
            emb_dim: 128,
            num_heads: 8,
            num_blocks: 2,
            mlp_hidden: 512,
            pad_idx,
            max_positions: 1024,
            rms_eps: 1e-8,
            rope_base: 10_000.0,
            rope_style: RopeStyle::Interleaved,
        }
    }

    /// Checks every size.
    ///
    /// # Errors
    /// [`LmError::InvalidConfig`] for a zero size, zero heads, a width not divisible by the
    /// number of heads or giving an odd head size, a padding id past the vocabulary, a
    /// non-positive ε, or a RoPE base that is not a finite number above 1.
    pub fn validate(&self) -> Result<()> {
        const OP: &str = "DecoderConfig";
        for (name, value) in [
            ("vocab_size", self.vocab_size),
            ("emb_dim", self.emb_dim),
            ("num_blocks", self.num_blocks),
            ("mlp_hidden", self.mlp_hidden),
            ("max_positions", self.max_positions),
        ] {
            if value == 0 {
                return Err(invalid(OP, name, value, "must be at least 1"));
            }
        }
        if self.num_heads == 0 {
            return Err(invalid(
                OP,
                "num_heads",
                0,
                "a model needs at least one head",
            ));
        }
        if !self.emb_dim.is_multiple_of(self.num_heads) {
            return Err(invalid(
                OP,
                "num_heads",
                self.num_heads,
                format!("must divide emb_dim = {}", self.emb_dim),
            ));
        }
        if !(self.emb_dim / self.num_heads).is_multiple_of(2) {
            return Err(invalid(
                OP,
                "num_heads",
                self.num_heads,
                format!(
                    "emb_dim / num_heads = {} must be even (RoPE rotates pairs)",
                    self.emb_dim / self.num_heads
                ),
            ));
        }
        if let Some(p) = self.pad_idx.filter(|&p| p >= self.vocab_size) {
            return Err(invalid(
                OP,
                "pad_idx",
                p,
                format!("must be below vocab_size = {}", self.vocab_size),
            ));
        }
        if !(self.rms_eps > 0.0 && self.rms_eps.is_finite()) {
            return Err(invalid(OP, "rms_eps", self.rms_eps, "must be positive"));
        }
        // θ_i = base^(−2i/d) must fall from 1 towards 0 (RoPE's frequencies).
        if !(self.rope_base > 1.0 && self.rope_base.is_finite()) {
            return Err(invalid(
                OP,
                "rope_base",
                self.rope_base,
                "must be a finite number above 1",
            ));
        }
        Ok(())
    }

    /// Parameters of the model: `2·d·V` (embedding and output) plus per block
    /// `2d + 3d² + d² + 2·d·hidden + hidden + d` (the book's `256·V + 395,008`).
    pub fn num_parameters(&self) -> usize {
        let (d, h) = (self.emb_dim, self.mlp_hidden);
        2 * d * self.vocab_size + self.num_blocks * (2 * d + 4 * d * d + 2 * d * h + h + d)
    }
}

/// The book's decoder-only Transformer language model (the notebook's
/// `DecoderLanguageModel`); see the [module docs](self).
#[derive(Debug)]
pub struct DecoderLanguageModel<T: Scalar = f32> {
    /// Token embedding `[V, d]`.
    pub embedding: Embedding<T>,
    /// The decoder blocks.
    pub layers: Vec<DecoderBlock<T>>,
    /// Output matrix `[d, V]`: logits are `x · output`.
    pub output: Parameter<T>,
    config: DecoderConfig,
}

impl<T: Scalar> DecoderLanguageModel<T> {
    /// A model with the notebook's initialisation from `rng`.
    ///
    /// # Errors
    /// [`LmError::InvalidConfig`] as [`DecoderConfig::validate`].
    pub fn new(config: &DecoderConfig, rng: &mut Rng) -> Result<Self> {
        config.validate()?;
        let (v, d) = (config.vocab_size, config.emb_dim);
        let mut table = normal::<T>(&[v, d], 0.0, 0.02, rng).to_vec();
        if let Some(p) = config.pad_idx {
            table[p * d..(p + 1) * d].fill(T::ZERO);
        }
        let embedding = Embedding::from_tensor(Tensor::from_vec(table, &[v, d])?, config.pad_idx)?;
        let rope = Rope::new(d / config.num_heads)?
            .with_base(config.rope_base)?
            .with_style(config.rope_style);
        let layers = (0..config.num_blocks)
            .map(|_| {
                let mut block =
                    DecoderBlock::with_hidden(d, config.num_heads, config.mlp_hidden, rng)?;
                block.attn = block.attn.with_rope(Some(rope))?;
                block.norm1 = ferrograd_nn::BookRmsNorm::with_eps(d, config.rms_eps);
                block.norm2 = ferrograd_nn::BookRmsNorm::with_eps(d, config.rms_eps);
                Ok(block)
            })
            .collect::<Result<_>>()?;
        let output = Parameter::new(xavier_uniform(&[d, v], 1.0, rng)?);
        Ok(Self {
            embedding,
            layers,
            output,
            config: config.clone(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &DecoderConfig {
        &self.config
    }

    /// The final hidden states `[B, T, d]` of `ids [B, T]`, with an optional key padding
    /// mask (`[B, T_k]`, non-zero = real token) and KV cache (the ids then follow the
    /// cached positions).
    ///
    /// # Errors
    /// [`LmError::InvalidConfig`] for ids that are not `[B, T]`, more positions than
    /// `max_positions`; errors of the layers (ids outside the vocabulary, a full cache, a
    /// mask of the wrong shape).
    pub fn hidden_states(
        &self,
        ids: &IdTensor,
        key_padding_mask: Option<&IdTensor>,
        mut cache: Option<&mut KvCache<T>>,
    ) -> Result<Tensor<T>> {
        let (batch, time) = match *ids.shape() {
            [b, t] => (b, t),
            _ => {
                return Err(invalid(
                    "DecoderLanguageModel::forward",
                    "ids",
                    format!("{:?}", ids.shape()),
                    "token ids must have shape [batch, time]",
                ));
            }
        };
        let _ = batch;
        let start = cache.as_ref().map_or(0, |c| c.len());
        if start + time > self.config.max_positions {
            return Err(LmError::ContextExceeded {
                op: "DecoderLanguageModel::forward",
                positions: start + time,
                max_positions: self.config.max_positions,
            });
        }
        if let Some(c) = cache.as_deref() {
            if c.num_layers() != self.layers.len() {
                return Err(invalid(
                    "DecoderLanguageModel::forward",
                    "cache",
                    format!("{} layers", c.num_layers()),
                    format!("the model has {} blocks", self.layers.len()),
                ));
            }
            c.check_room(time)?;
        }
        let mut x = self.embedding.lookup(ids)?;
        for (l, block) in self.layers.iter().enumerate() {
            let layer_cache = match cache.as_deref_mut() {
                Some(c) => c.layer_mut(l),
                None => None,
            };
            x = block.forward_with(&x, key_padding_mask, layer_cache)?;
        }
        Ok(x)
    }

    /// Logits `[B, T, V]` for every position of `ids [B, T]` (positions `0..T`, causal).
    ///
    /// # Errors
    /// As [`DecoderLanguageModel::hidden_states`].
    pub fn forward_ids(&self, ids: &IdTensor) -> Result<Tensor<T>> {
        let x = self.hidden_states(ids, None, None)?;
        Ok(x.matmul(&self.output.tensor())?)
    }

    /// The notebook's training loss: cross-entropy of the logits of `inputs [B, T]`
    /// against `targets [B, T]`, averaged over the targets that are not padding.
    ///
    /// The output product and the loss are fused ([`matmul_cross_entropy`]): the
    /// `[B·T, V]` logits and their gradient are never stored, and the logits of padded
    /// positions are never computed; the value and gradients are those of
    /// [`DecoderLanguageModel::forward_ids`] followed by `CrossEntropyLoss`.
    ///
    /// # Errors
    /// As [`DecoderLanguageModel::hidden_states`]; targets outside the vocabulary.
    pub fn loss(&self, inputs: &IdTensor, targets: &IdTensor) -> Result<Tensor<T>> {
        let ignore = self.config.pad_idx.map_or(-100, |p| p as i64);
        self.fused_loss(inputs, targets, ignore)
    }

    /// Hidden states, then the fused output product and cross-entropy ignoring
    /// `ignore_index`.
    fn fused_loss(
        &self,
        inputs: &IdTensor,
        targets: &IdTensor,
        ignore_index: i64,
    ) -> Result<Tensor<T>> {
        // The same shape, not just as many: `[T, B]` targets for `[B, T]` inputs would
        // pair the wrong positions.
        if targets.shape() != inputs.shape() {
            return Err(invalid(
                "DecoderLanguageModel::loss",
                "targets",
                format!("shape {:?}", targets.shape()),
                format!("must be the inputs' shape {:?}", inputs.shape()),
            ));
        }
        let hidden = self.hidden_states(inputs, None, None)?;
        let rows = targets.len();
        let d = self.config.emb_dim;
        matmul_cross_entropy(
            &hidden.reshape(&[rows, d])?,
            &self.output.tensor(),
            None,
            &targets.reshape(&[rows])?,
            ignore_index,
        )
    }

    /// A KV cache for `batch` sequences of up to `capacity` positions.
    ///
    /// # Errors
    /// [`LmError::ContextExceeded`] for a capacity past `max_positions`.
    pub fn new_kv_cache(&self, batch: usize, capacity: usize) -> Result<KvCache<T>> {
        if capacity > self.config.max_positions {
            return Err(LmError::ContextExceeded {
                op: "DecoderLanguageModel::new_kv_cache",
                positions: capacity,
                max_positions: self.config.max_positions,
            });
        }
        let c = &self.config;
        Ok(KvCache::new(
            c.num_blocks,
            batch,
            c.num_heads,
            capacity,
            c.emb_dim / c.num_heads,
        )?)
    }

    /// The attention weights `[B, H, T, T]` of every head of block `block` on `ids`
    /// (for the attention-map figure).
    ///
    /// # Errors
    /// As [`DecoderLanguageModel::hidden_states`]; a block index out of range.
    pub fn attention_weights(&self, ids: &IdTensor, block: usize) -> Result<Tensor<T>> {
        if block >= self.layers.len() {
            return Err(invalid(
                "DecoderLanguageModel::attention_weights",
                "block",
                block,
                format!("the model has {} blocks", self.layers.len()),
            ));
        }
        no_grad(|| {
            let mut x = self.embedding.lookup(ids)?;
            for b in &self.layers[..block] {
                x = b.forward(&x)?;
            }
            let normed = self.layers[block].norm1.forward(&x)?;
            Ok(self.layers[block].attn.attention_weights(&normed)?)
        })
    }
}

impl<T: Scalar> Module<T> for DecoderLanguageModel<T> {
    fn visit(&self, v: &mut dyn Visitor<T>) {
        // PyTorch's order: the model's own parameter first, then its children.
        v.param("output", &self.output);
        v.module("embedding", &self.embedding);
        v.modules("layers", &self.layers);
    }
}

impl<T: Scalar> Forward<&IdTensor> for DecoderLanguageModel<T> {
    type Output = Tensor<T>;
    /// Logits `[B, T, V]` ([`DecoderLanguageModel::forward_ids`]).
    fn forward(&self, ids: &IdTensor) -> ferrograd_nn::Result<Tensor<T>> {
        self.forward_ids(ids).map_err(|e| match e {
            LmError::Nn(inner) => inner,
            LmError::Tensor(inner) => inner.into(),
            other => ferrograd_nn::NnError::InvalidArgument {
                op: "DecoderLanguageModel::forward",
                reason: other.to_string(),
            },
        })
    }
}

impl<T: Scalar> CausalLm<T> for DecoderLanguageModel<T> {
    fn vocab_size(&self) -> usize {
        self.config.vocab_size
    }

    fn max_context(&self) -> Option<usize> {
        Some(self.config.max_positions)
    }

    /// Cross-entropy of the next-token predictions, the output product fused with the loss
    /// ([`matmul_cross_entropy`]: the `[B·T, V]` logits are never stored); the same value
    /// and gradients as the logits followed by `CrossEntropyLoss`.
    fn loss(&self, inputs: &IdTensor, targets: &IdTensor, ignore_index: i64) -> Result<Tensor<T>> {
        self.fused_loss(inputs, targets, ignore_index)
    }

    /// Greedy decoding with the KV cache (the notebook's `generate_text`, same tokens):
    /// the prompt in one pass, then one token at a time. A prompt longer than the context
    /// keeps its last `max_positions` tokens, and generation stops when the next token
    /// would need a position past the context: as in [`crate::generate()`], the last new
    /// token is never fed back, so a full context still gives one more token.
    fn generate_greedy(
        &self,
        prompt: &[u32],
        max_new_tokens: usize,
        eos: Option<u32>,
    ) -> Result<Vec<u32>> {
        crate::train::check_prompt(prompt, self.config.vocab_size)?;
        let context = self.config.max_positions;
        let kept = &prompt[prompt.len().saturating_sub(context)..];
        let ids: Vec<i64> = kept.iter().map(|&t| i64::from(t)).collect();
        // Positions 0..context hold the prompt and every new token but the last.
        let room = context + 1 - ids.len();
        let mut options = crate::GenerateOptions::new(max_new_tokens.min(room));
        if let Some(e) = eos {
            options = options.with_stop_tokens(&[i64::from(e)]);
        }
        let out = crate::generate(self, &ids, &mut crate::Greedy, &options)?;
        let mut all = prompt.to_vec();
        all.extend(out.tokens.iter().map(|&t| t as u32));
        Ok(all)
    }
}

impl<T: Scalar> CachedLm for DecoderLanguageModel<T> {
    type Cache = KvCache<T>;

    fn vocab_size(&self) -> usize {
        self.config.vocab_size
    }

    fn max_positions(&self) -> usize {
        self.config.max_positions
    }

    fn new_cache(&self, capacity: usize) -> Result<KvCache<T>> {
        self.new_kv_cache(1, capacity)
    }

    fn last_logits(&self, ids: &[i64], cache: Option<&mut KvCache<T>>) -> Result<Vec<f64>> {
        no_grad(|| {
            let t = ids.len();
            if t == 0 {
                return Err(LmError::Empty {
                    op: "DecoderLanguageModel::last_logits",
                    what: "the id sequence",
                });
            }
            let ids = IdTensor::new(ids.to_vec(), &[1, t])?;
            let x = self.hidden_states(&ids, None, cache)?;
            // Only the last position's logits are needed: one row of the output product.
            let last = x.narrow(1, t - 1, 1)?;
            let logits = last.matmul(&self.output.tensor())?;
            Ok(logits
                .contiguous_data()
                .iter()
                .map(|v| v.to_f64())
                .collect())
        })
    }
}
