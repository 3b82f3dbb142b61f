//! The book's chapter-3 recurrent language model (§3.4–3.6, the `news_RNN_language_model`
//! notebook's `RecurrentLanguageModel`): token ids → [`Embedding`] → a stack of Elman
//! layers ([`ElmanRnn`]) → a [`Linear`] head giving next-token logits at every position.
//!
//! ```
//! use ferrograd_lm::rnn::{RnnConfig, RnnLanguageModel};
//! use ferrograd_nn::{Forward, Module};
//! use ferrograd_tensor::{IdTensor, Rng};
//!
//! let config = RnnConfig::new(1000); // the notebook's sizes: 128-d, 2 layers
//! let model = RnnLanguageModel::<f32>::new(&config, &mut Rng::new(42))?;
//! assert_eq!(model.num_parameters(), 257 * 1000 + 65_792);
//! let logits = model.forward(&IdTensor::from([[5, 17, 2], [9, 0, 0]]))?;
//! assert_eq!(logits.shape(), &[2, 3, 1000]);
//! # Ok::<(), ferrograd_lm::LmError>(())
//! ```

use crate::error::{Result, invalid};
use crate::train::CausalLm;
use crate::train_loss::linear_cross_entropy;
use ferrograd_nn::{ElmanRnn, Embedding, Forward, Linear, Module, Visitor, initialize_weights};
use ferrograd_tensor::{IdTensor, Rng, Scalar, Tensor, no_grad};

/// The sizes of a [`RnnLanguageModel`]; the notebook's `get_hyperparameters` and model
/// arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RnnConfig {
    /// Number of token ids (the tokenizer's vocabulary).
    pub vocab_size: usize,
    /// Size of the embeddings and of every hidden state (the notebook's `emb_dim`, 128).
    pub emb_dim: usize,
    /// Number of stacked Elman layers (the notebook's 2).
    pub num_layers: usize,
    /// The padding id, whose embedding row receives no gradient (`nn.Embedding`'s
    /// `padding_idx`); `None` for none.
    pub pad_index: Option<usize>,
}

impl RnnConfig {
    /// The notebook's sizes (`emb_dim` 128, 2 layers) for a vocabulary of `vocab_size`
    /// ids, without a padding id.
    pub fn new(vocab_size: usize) -> Self {
        Self {
            vocab_size,
            emb_dim: 128,
            num_layers: 2,
            pad_index: None,
        }
    }

    /// The same with `pad_index` as the padding id.
    pub fn with_pad_index(mut self, pad_index: usize) -> Self {
        self.pad_index = Some(pad_index);
        self
    }

    /// Number of parameters of the model: `V·E` (embedding) + `L·(2E² + E)` (the Elman
    /// layers) + `E·V + V` (the head); `257·V + 65,792` with the notebook's sizes.
    pub fn num_parameters(&self) -> usize {
        let (v, e, l) = (self.vocab_size, self.emb_dim, self.num_layers);
        v * e + l * (2 * e * e + e) + e * v + v
    }

    fn validate(&self) -> Result<()> {
        let op = "RnnLanguageModel::new";
        if self.vocab_size == 0 {
            return Err(invalid(
                op,
                "vocab_size",
                0,
                "the vocabulary needs at least one id",
            ));
        }
        if self.emb_dim == 0 {
            return Err(invalid(op, "emb_dim", 0, "must be at least 1"));
        }
        if self.num_layers == 0 {
            return Err(invalid(
                op,
                "num_layers",
                0,
                "an RNN needs at least one layer",
            ));
        }
        if let Some(p) = self.pad_index.filter(|&p| p >= self.vocab_size) {
            return Err(invalid(
                op,
                "pad_index",
                p,
                format!("must be below vocab_size {}", self.vocab_size),
            ));
        }
        Ok(())
    }
}

/// The notebook's `RecurrentLanguageModel`: `Embedding(V, E, padding_idx)` → Elman RNN
/// (`L` layers of `E` units) → `Linear(E, V)`; parameter names as its `state_dict`
/// (`embedding.weight`, `rnn.rnn_units.{l}.{Uh,Wh,b}`, `fc.weight`, `fc.bias`), so a
/// checkpoint written by the notebook loads with
/// [`load_state_dict`](ferrograd_nn::load_state_dict) as it is.
#[derive(Debug, Clone)]
pub struct RnnLanguageModel<T: Scalar = f32> {
    /// Token embeddings `[V, E]`.
    pub embedding: Embedding<T>,
    /// The stacked Elman layers.
    pub rnn: ElmanRnn<T>,
    /// The output head, `[V, E]` weight and `[V]` bias.
    pub fc: Linear<T>,
    config: RnnConfig,
}

impl<T: Scalar> RnnLanguageModel<T> {
    /// A model with the notebook's initialisation ([`initialize_weights`]: Xavier-uniform
    /// for every matrix, the embedding and its padding row included; uniform on [0, 1)
    /// for every vector), drawn from `rng`.
    ///
    /// # Errors
    /// [`LmError::InvalidConfig`](crate::LmError::InvalidConfig) for a zero size or a
    /// padding id outside the vocabulary.
    pub fn new(config: &RnnConfig, rng: &mut Rng) -> Result<Self> {
        config.validate()?;
        let (v, e) = (config.vocab_size, config.emb_dim);
        let model = Self {
            embedding: Embedding::new(v, e, config.pad_index, rng),
            rnn: ElmanRnn::new(e, e, config.num_layers, rng)?,
            fc: Linear::new(e, v, rng),
            config: *config,
        };
        initialize_weights(&model, rng)?;
        Ok(model)
    }

    /// The sizes it was built with.
    pub fn config(&self) -> &RnnConfig {
        &self.config
    }

    fn check_ids(&self, op: &'static str, ids: &IdTensor) -> Result<()> {
        if ids.rank() != 2 {
            return Err(invalid(
                op,
                "ids",
                format!("a tensor of shape {:?}", ids.shape()),
                "token ids must be [batch, time]",
            ));
        }
        Ok(())
    }

    /// The last layer's hidden state at every position, `[batch, time, E]` (what the
    /// head turns into logits).
    ///
    /// # Errors
    /// [`LmError::InvalidConfig`](crate::LmError::InvalidConfig) for ids that are not
    /// `[batch, time]`; an embedding error naming the first id outside the vocabulary.
    pub fn hidden_states(&self, ids: &IdTensor) -> Result<Tensor<T>> {
        self.check_ids("RnnLanguageModel::hidden_states", ids)?;
        let embeddings = self.embedding.forward(ids)?;
        Ok(self.rnn.forward(&embeddings)?.output)
    }

    /// One step of generation: the logits `[batch, V]` after `ids` `[batch, time]`, and
    /// the state `[L, batch, E]` to continue from, starting from `state` (zeros when
    /// `None`). Feeding a sequence in pieces gives the logits of feeding it whole.
    ///
    /// # Errors
    /// As [`RnnLanguageModel::hidden_states`], and for a state of the wrong shape.
    pub fn step(
        &self,
        ids: &IdTensor,
        state: Option<&Tensor<T>>,
    ) -> Result<(Tensor<T>, Tensor<T>)> {
        self.check_ids("RnnLanguageModel::step", ids)?;
        let embeddings = self.embedding.forward(ids)?;
        let out = self.rnn.forward_with_state(&embeddings, state)?;
        let time = ids.shape()[1];
        if time == 0 {
            return Err(invalid(
                "RnnLanguageModel::step",
                "ids",
                "an empty sequence",
                "a step needs at least one token",
            ));
        }
        let last = out.output.select(1, time - 1)?;
        Ok((self.fc.forward(&last)?, out.hidden))
    }
}

impl<T: Scalar> Module<T> for RnnLanguageModel<T> {
    fn visit(&self, v: &mut dyn Visitor<T>) {
        v.module("embedding", &self.embedding);
        v.module("rnn", &self.rnn);
        v.module("fc", &self.fc);
    }
}

impl<T: Scalar> Forward<&IdTensor> for RnnLanguageModel<T> {
    type Output = Tensor<T>;
    /// Next-token logits `[batch, time, V]` for ids `[batch, time]`.
    fn forward(&self, ids: &IdTensor) -> ferrograd_nn::Result<Tensor<T>> {
        let hidden = self.hidden_states(ids).map_err(crate::error::to_nn)?;
        self.fc.forward(&hidden)
    }
}

impl<T: Scalar> CausalLm<T> for RnnLanguageModel<T> {
    fn vocab_size(&self) -> usize {
        self.config.vocab_size
    }

    /// The RNN's hidden states through the output head and the cross-entropy fused
    /// ([`linear_cross_entropy`]): the logits of padded positions are never computed and
    /// the `[rows, V]` logits never stored; the same value and gradients as `fc` followed
    /// by `CrossEntropyLoss`.
    fn loss(&self, inputs: &IdTensor, targets: &IdTensor, ignore_index: i64) -> Result<Tensor<T>> {
        // The same shape, not just as many: `[T, B]` targets for `[B, T]` inputs would
        // pair the wrong positions.
        if targets.shape() != inputs.shape() {
            return Err(invalid(
                "RnnLanguageModel::loss",
                "targets",
                format!("shape {:?}", targets.shape()),
                format!("must be the inputs' shape {:?}", inputs.shape()),
            ));
        }
        let hidden = self.hidden_states(inputs)?;
        let rows = targets.len();
        let e = self.config.emb_dim;
        let bias = self.fc.bias.as_ref().map(|b| b.tensor());
        linear_cross_entropy(
            &hidden.reshape(&[rows, e])?,
            &self.fc.weight.tensor(),
            bias.as_ref(),
            &targets.reshape(&[rows])?,
            ignore_index,
        )
    }

    /// Greedy decoding carrying the RNN's state: the prompt is run once, then each new
    /// token is one step — the same tokens as re-running the whole sequence every step
    /// (as the notebook does), in time linear in the length.
    fn generate_greedy(
        &self,
        prompt: &[u32],
        max_new_tokens: usize,
        eos: Option<u32>,
    ) -> Result<Vec<u32>> {
        crate::train::check_prompt(prompt, self.config.vocab_size)?;
        no_grad(|| {
            let mut out = prompt.to_vec();
            let ids: Vec<i64> = prompt.iter().map(|&t| i64::from(t)).collect();
            let mut input = IdTensor::new(ids, &[1, prompt.len()])?;
            let mut state: Option<Tensor<T>> = None;
            for _ in 0..max_new_tokens {
                let (logits, next_state) = self.step(&input, state.as_ref())?;
                let next = crate::train::argmax_first(&logits.contiguous_data());
                out.push(next);
                if eos == Some(next) {
                    break;
                }
                state = Some(next_state);
                input = IdTensor::new(vec![i64::from(next)], &[1, 1])?;
            }
            Ok(out)
        })
    }
}
