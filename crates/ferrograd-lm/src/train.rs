//! A training program for any causal language model (chapter 3's RNN, chapter 4's
//! decoder): AdamW, mini-batches from a [`BatchSource`], evaluation on a held-out split
//! (token-weighted loss and perplexity), greedy generation from prompts, progress through
//! a callback, and checkpoints (model, optimizer, data position, step) written atomically
//! from which a run resumes exactly as if it had never stopped.
//!
//! A model joins by implementing [`CausalLm`]: a [`Module`] whose forward maps token ids
//! `[batch, time]` to next-token logits `[batch, time, V]`, plus its vocabulary size. The
//! loss and greedy decoding have default implementations that a model may replace by
//! faster ones (a fused output head, a recurrent state, a KV cache).
//!
//! ```
//! use ferrograd_data::text::{LineBatches, Padding, TokenizedLines};
//! use ferrograd_lm::rnn::{RnnConfig, RnnLanguageModel};
//! use ferrograd_lm::train::{Control, Event, TrainConfig, Trainer};
//! use ferrograd_tensor::Rng;
//!
//! // A toy corpus of id sequences (normally: TokenizedLines::from_file with a tokenizer).
//! let examples: Vec<Vec<u32>> = (0..64).map(|i| (0..8).map(|t| (i + t) % 20 + 1).collect()).collect();
//! let corpus = TokenizedLines::from_examples(&examples, "toy")?;
//! let (train, valid) = corpus.split_by_lines(0.9)?;
//! let mut batches = LineBatches::new(train, 16, Padding::new(0))?.shuffle(0);
//! let valid = LineBatches::new(valid, 16, Padding::new(0))?.all()?;
//!
//! let model = RnnLanguageModel::<f32>::new(&RnnConfig { emb_dim: 16, ..RnnConfig::new(21) }, &mut Rng::new(0))?;
//! let config = TrainConfig { lr: 1e-2, epochs: 3, eval_every: Some(4), ..TrainConfig::default() };
//! let mut trainer = Trainer::new(&model, config)?;
//! let mut evals = Vec::new();
//! let summary = trainer.run(&mut batches, &valid, None, &mut |event: &Event| {
//!     if let Event::Eval(e) = event {
//!         evals.push(e.perplexity);
//!     }
//!     Control::Continue
//! })?;
//! assert_eq!(summary.steps, 12); // 3 epochs of 4 batches
//! assert!(evals.last().unwrap() < &evals[0]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::error::{LmError, Result, invalid};
use crate::train_checkpoint::{self as ckpt, KeyValues, Reader};
use ferrograd_data::text::{BatchSource, DataPosition, LmBatch, TextEncoder};
use ferrograd_nn::{CrossEntropyLoss, Forward, LoadOptions, Module, StateDict, load_state_dict};
use ferrograd_optim::{AdamW, AdamWConfig, Optimizer, clip_grad_norm};
use ferrograd_tensor::{IdTensor, Scalar, Tensor, no_grad};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A causal (next-token) language model the training program can train, evaluate and
/// sample from.
///
/// Required: [`Module`] (its parameters), `Forward<&IdTensor>` giving logits
/// `[batch, time, V]` for ids `[batch, time]`, and [`CausalLm::vocab_size`].
pub trait CausalLm<T: Scalar = f32>:
    Module<T> + for<'a> Forward<&'a IdTensor, Output = Tensor<T>>
{
    /// Number of token ids (the logits' last axis).
    fn vocab_size(&self) -> usize;

    /// The longest input the model takes (a Transformer's context), `None` for any
    /// length. Greedy generation keeps the last `max_context` tokens.
    fn max_context(&self) -> Option<usize> {
        None
    }

    /// The mean cross-entropy of the next-token predictions for `inputs` `[batch, time]`
    /// against `targets` `[batch, time]`, targets equal to `ignore_index` left out (a
    /// scalar tensor with a gradient). The default runs [`Forward`] and
    /// [`CrossEntropyLoss`] on the flattened `[batch·time, V]` logits; a model may fuse
    /// its output head with the loss.
    ///
    /// # Errors
    /// [`LmError::InvalidConfig`] when `targets` is not `inputs`' shape; ids outside the
    /// vocabulary.
    fn loss(&self, inputs: &IdTensor, targets: &IdTensor, ignore_index: i64) -> Result<Tensor<T>> {
        if targets.shape() != inputs.shape() {
            return Err(invalid(
                "CausalLm::loss",
                "targets",
                format!("shape {:?}", targets.shape()),
                format!("must be the inputs' shape {:?}", inputs.shape()),
            ));
        }
        let logits = self.forward(inputs)?;
        let v = self.vocab_size();
        let rows = targets.len();
        if logits.numel() != rows * v {
            return Err(invalid(
                "CausalLm::loss",
                "logits",
                format!("shape {:?}", logits.shape()),
                format!("one row of {v} per input {:?}", inputs.shape()),
            ));
        }
        let loss = CrossEntropyLoss::new()
            .with_ignore_index(ignore_index)
            .forward(&logits.reshape(&[rows, v])?, &targets.reshape(&[rows])?)?;
        Ok(loss)
    }

    /// Greedy decoding as the notebook's `generate_text`: appends the most likely next
    /// token (ties to the lowest id, as `torch.argmax`) up to `max_new_tokens` times,
    /// stopping after `eos`; returns prompt and continuation. The default re-runs the
    /// whole sequence (its last [`CausalLm::max_context`] tokens) for every token.
    ///
    /// # Errors
    /// An empty prompt, ids outside the vocabulary.
    fn generate_greedy(
        &self,
        prompt: &[u32],
        max_new_tokens: usize,
        eos: Option<u32>,
    ) -> Result<Vec<u32>> {
        check_prompt(prompt, self.vocab_size())?;
        no_grad(|| {
            let mut out = prompt.to_vec();
            for _ in 0..max_new_tokens {
                let start = self
                    .max_context()
                    .map_or(0, |c| out.len().saturating_sub(c.max(1)));
                let window: Vec<i64> = out[start..].iter().map(|&t| i64::from(t)).collect();
                let len = window.len();
                let logits = self.forward(&IdTensor::new(window, &[1, len])?)?;
                let v = self.vocab_size();
                let data = logits.contiguous_data();
                let next = argmax_first(&data[(len - 1) * v..len * v]);
                out.push(next);
                if eos == Some(next) {
                    break;
                }
            }
            Ok(out)
        })
    }
}

/// The index of the largest value, the first one among ties (as `torch.argmax`); NaN is
/// taken as the largest, as PyTorch does.
pub fn argmax_first<T: Scalar>(values: &[T]) -> u32 {
    let mut best = 0usize;
    for (i, &v) in values.iter().enumerate() {
        let b = values[best];
        if !b.is_nan() && (v.is_nan() || v > b) {
            best = i;
        }
    }
    best as u32
}

/// Checks a generation prompt: not empty, every id in the vocabulary.
///
/// # Errors
/// [`LmError::InvalidConfig`] naming the problem.
pub fn check_prompt(prompt: &[u32], vocab_size: usize) -> Result<()> {
    if prompt.is_empty() {
        return Err(invalid(
            "generate_greedy",
            "prompt",
            "[]",
            "a prompt needs at least one token",
        ));
    }
    if let Some(&bad) = prompt.iter().find(|&&t| t as usize >= vocab_size) {
        return Err(invalid(
            "generate_greedy",
            "prompt",
            bad,
            format!("token ids must be below the vocabulary size {vocab_size}"),
        ));
    }
    Ok(())
}

/// Settings of a training run; the defaults are the chapter-3 notebook's (AdamW with
/// PyTorch's defaults and lr 1e-3, one epoch, evaluation on up to 1,000 held-out
/// sentences).
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// AdamW learning rate.
    pub lr: f64,
    /// AdamW decoupled weight decay (PyTorch's default 0.01, applied to every parameter,
    /// as the notebook does).
    pub weight_decay: f64,
    /// AdamW (β₁, β₂).
    pub betas: (f64, f64),
    /// AdamW ε.
    pub eps: f64,
    /// Passes over the training data.
    pub epochs: u64,
    /// Stop after this many steps in total (across resumes), if set.
    pub max_steps: Option<u64>,
    /// Evaluate (and sample) every this many steps, if set; a run also evaluates at its
    /// end (that evaluation is in the trainer's history and the run's summary but not in
    /// the checkpoint, so a run resumed from it records the evaluations an uninterrupted
    /// run records).
    pub eval_every: Option<u64>,
    /// Evaluate on at most this many held-out sentences (whole batches, stopping after
    /// the batch that reaches it, as the notebook's `max_sentences`); `None` for all.
    pub eval_max_sentences: Option<usize>,
    /// Write a checkpoint every this many steps (and at the end), if a path is set.
    pub checkpoint_every: Option<u64>,
    /// Where checkpoints go (one file, replaced atomically each time). Its folder must
    /// exist when the trainer is made: [`Trainer::new`] refuses a path it could never
    /// write, rather than failing at the first checkpoint.
    pub checkpoint_path: Option<PathBuf>,
    /// Targets with this value are not scored (the batches' target padding).
    pub ignore_index: i64,
    /// Clip the global gradient norm to this value before each update, if set (not in
    /// the notebook).
    pub clip_grad_norm: Option<f64>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            weight_decay: 0.01,
            betas: (0.9, 0.999),
            eps: 1e-8,
            epochs: 1,
            max_steps: None,
            eval_every: None,
            eval_max_sentences: Some(1000),
            checkpoint_every: None,
            checkpoint_path: None,
            ignore_index: -100,
            clip_grad_norm: None,
        }
    }
}

impl TrainConfig {
    /// Checks the settings as [`Trainer::new`] does (so a program can refuse them before
    /// it writes anything).
    ///
    /// # Errors
    /// [`LmError::InvalidConfig`] for an interval of 0 steps, checkpoints without a path, a
    /// checkpoint path whose folder does not exist (or that is a folder), a non-positive
    /// clipping norm, or 0 evaluation sentences.
    pub fn validate(&self) -> Result<()> {
        let op = "Trainer::new";
        for (name, every) in [
            ("eval_every", self.eval_every),
            ("checkpoint_every", self.checkpoint_every),
        ] {
            if every == Some(0) {
                return Err(invalid(op, name, 0, "must be at least 1 step"));
            }
        }
        if self.checkpoint_every.is_some() && self.checkpoint_path.is_none() {
            return Err(invalid(
                op,
                "checkpoint_every",
                self.checkpoint_every.unwrap_or(0),
                "needs a checkpoint_path",
            ));
        }
        if let Some(path) = &self.checkpoint_path {
            // Found now, not after hours of training when the first checkpoint is written.
            let folder = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            if path.is_dir() {
                return Err(invalid(
                    op,
                    "checkpoint_path",
                    path.display(),
                    "is a folder, not a file",
                ));
            }
            if !folder.is_dir() {
                return Err(invalid(
                    op,
                    "checkpoint_path",
                    path.display(),
                    format!("its folder {} does not exist", folder.display()),
                ));
            }
        }
        if let Some(c) = self.clip_grad_norm.filter(|c| !(c.is_finite() && *c > 0.0)) {
            return Err(invalid(
                op,
                "clip_grad_norm",
                c,
                "must be a positive number",
            ));
        }
        if self.eval_max_sentences == Some(0) {
            return Err(invalid(op, "eval_max_sentences", 0, "must be at least 1"));
        }
        Ok(())
    }
}

/// Prompts to continue greedily at every evaluation (the notebook's `contexts`).
#[derive(Debug, Clone, Copy)]
pub struct Sampling<'a> {
    /// The tokenizer.
    pub encoder: &'a dyn TextEncoder,
    /// The prompts.
    pub prompts: &'a [String],
    /// New tokens per prompt (the notebook's 50); prompts are also cut to this many
    /// tokens, as the notebook's `max_length` truncation does.
    pub max_new_tokens: usize,
    /// Stop at this token (the tokenizer's end-of-text), if set.
    pub eos: Option<u32>,
}

impl Sampling<'_> {
    /// Greedy continuations of every prompt: `(prompt, prompt + continuation)`.
    ///
    /// # Errors
    /// A prompt that tokenises to nothing, generation or decoding errors.
    pub fn generate<T: Scalar, M: CausalLm<T> + ?Sized>(
        &self,
        model: &M,
    ) -> Result<Vec<(String, String)>> {
        self.prompts
            .iter()
            .map(|p| {
                let mut ids = self.encoder.encode(p);
                ids.truncate(self.max_new_tokens.max(1));
                if ids.is_empty() {
                    return Err(invalid(
                        "Sampling::generate",
                        "prompt",
                        format!("{p:?}"),
                        "the prompt has no tokens",
                    ));
                }
                let out = model.generate_greedy(&ids, self.max_new_tokens, self.eos)?;
                Ok((p.clone(), self.encoder.decode(&out)?))
            })
            .collect()
    }
}

/// The loss of one training step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepRecord {
    /// The step's number (1 for the first update).
    pub step: u64,
    /// The batch's mean loss over its scored targets, before the update.
    pub loss: f64,
    /// Scored targets in the batch.
    pub tokens: usize,
}

/// One evaluation on the held-out batches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EvalRecord {
    /// Steps done when it ran.
    pub step: u64,
    /// The loss per scored token over the evaluated batches (each batch's mean weighted
    /// by its token count, as the notebook computes it).
    pub loss: f64,
    /// `exp(loss)`.
    pub perplexity: f64,
    /// Scored tokens evaluated.
    pub tokens: usize,
    /// Sentences evaluated.
    pub sentences: usize,
}

/// What a run did so far: every step's loss and every evaluation (kept in checkpoints,
/// so a resumed run's history is whole).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrainHistory {
    /// Every step.
    pub steps: Vec<StepRecord>,
    /// Every evaluation.
    pub evals: Vec<EvalRecord>,
}

/// What the training loop reports to its callback.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// An update was made.
    Step {
        /// Its record.
        record: StepRecord,
        /// The epoch it belongs to.
        epoch: u64,
        /// Wall time of the step (batch, forward, backward, update), seconds.
        seconds: f64,
    },
    /// An evaluation finished.
    Eval(&'a EvalRecord),
    /// A prompt was continued.
    Sample {
        /// Steps done.
        step: u64,
        /// The prompt.
        prompt: &'a str,
        /// Prompt and continuation.
        text: &'a str,
    },
    /// A checkpoint was written.
    Checkpoint {
        /// Steps done.
        step: u64,
        /// The file.
        path: &'a Path,
    },
    /// An epoch ended.
    EpochEnd {
        /// The epoch that ended (from 0).
        epoch: u64,
        /// Steps done.
        step: u64,
        /// Loss per scored token over the epoch's steps in this run (`None` when this run
        /// made none, e.g. resumed at the epoch's end).
        loss: Option<f64>,
    },
}

/// The callback's answer: go on, or stop after this event (a checkpoint is still
/// written if configured).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Control {
    /// Keep training.
    Continue,
    /// Stop the run.
    Stop,
}

/// What [`Trainer::run`] returns.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// Steps done in total (including those before a resume).
    pub steps: u64,
    /// Steps done by this call.
    pub steps_this_run: u64,
    /// Scored tokens trained on by this call.
    pub tokens_this_run: usize,
    /// Wall time of this call's steps (excluding evaluation and checkpoints), seconds.
    pub train_seconds: f64,
    /// The last evaluation, if any.
    pub last_eval: Option<EvalRecord>,
    /// The samples of the last evaluation.
    pub samples: Vec<(String, String)>,
    /// True when the callback stopped the run.
    pub stopped: bool,
}

impl RunSummary {
    /// Training throughput of this call: scored tokens per second of step time.
    pub fn tokens_per_second(&self) -> f64 {
        self.tokens_this_run as f64 / self.train_seconds.max(f64::MIN_POSITIVE)
    }
}

/// The training program: AdamW over a model's trainable parameters, a step counter, the
/// run's history, checkpoints.
#[derive(Debug)]
pub struct Trainer<'m, T: Scalar, M: CausalLm<T> + ?Sized> {
    model: &'m M,
    optimizer: AdamW<T>,
    config: TrainConfig,
    step: u64,
    history: TrainHistory,
    /// The indices in `history.evals` of end-of-run evaluations (made because a run
    /// stopped, not by `eval_every`): kept in the history, left out of checkpoints.
    end_of_run_evals: Vec<usize>,
}

impl<'m, T: Scalar, M: CausalLm<T> + ?Sized> Trainer<'m, T, M> {
    /// A trainer for `model` (its trainable parameters) with `config`.
    ///
    /// # Errors
    /// [`LmError::InvalidConfig`] for inconsistent settings or a checkpoint path whose
    /// folder does not exist (or that is a folder), an optimizer error for invalid
    /// hyper-parameters or a model without trainable parameters.
    pub fn new(model: &'m M, config: TrainConfig) -> Result<Self> {
        config.validate()?;
        let adamw = AdamWConfig {
            lr: config.lr,
            betas: config.betas,
            eps: config.eps,
            weight_decay: config.weight_decay,
            ..AdamWConfig::default()
        };
        let optimizer = AdamW::new(model.trainable_parameters(), adamw)?;
        Ok(Self {
            model,
            optimizer,
            config,
            step: 0,
            history: TrainHistory::default(),
            end_of_run_evals: Vec::new(),
        })
    }

    /// The model.
    pub fn model(&self) -> &M {
        self.model
    }

    /// Steps done.
    pub fn steps(&self) -> u64 {
        self.step
    }

    /// The settings.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// Every step and evaluation so far.
    pub fn history(&self) -> &TrainHistory {
        &self.history
    }

    /// The optimizer (its state, learning rate).
    pub fn optimizer(&mut self) -> &mut AdamW<T> {
        &mut self.optimizer
    }

    /// One update on `batch`: forward, loss, backward, (clipping), AdamW. Returns the
    /// loss before the update.
    ///
    /// # Errors
    /// A batch without scored targets; a non-finite loss ([`LmError::NonFiniteLoss`],
    /// parameters left unchanged); model errors (ids outside the vocabulary).
    pub fn step(&mut self, batch: &LmBatch) -> Result<StepRecord> {
        let tokens = count_targets(&batch.targets, self.config.ignore_index);
        if tokens == 0 {
            return Err(invalid(
                "Trainer::step",
                "batch",
                format!("targets of shape {:?}", batch.targets.shape()),
                "no target is scored (all are the ignore_index)",
            ));
        }
        let (loss, mut grads) = {
            let loss = self
                .model
                .loss(&batch.inputs, &batch.targets, self.config.ignore_index)?;
            let value = loss.item()?.to_f64();
            if !value.is_finite() {
                return Err(LmError::NonFiniteLoss {
                    step: self.step + 1,
                    loss: value,
                });
            }
            (value, loss.backward_free()?)
        };
        if let Some(max) = self.config.clip_grad_norm {
            clip_grad_norm(&mut grads, max)?;
        }
        self.optimizer.step(&grads)?;
        self.step += 1;
        let record = StepRecord {
            step: self.step,
            loss,
            tokens,
        };
        self.history.steps.push(record);
        Ok(record)
    }

    /// The model's loss per scored token on `batches` (no gradients), stopping after the
    /// batch that reaches `config.eval_max_sentences` sentences.
    ///
    /// # Errors
    /// [`LmError::Empty`] when the batches hold no scored target; model errors.
    pub fn evaluate(&self, batches: &[LmBatch]) -> Result<EvalRecord> {
        evaluate(
            self.model,
            batches,
            self.config.ignore_index,
            self.config.eval_max_sentences,
            self.step,
        )
    }

    /// Trains on `train` until `config.epochs` passes or `config.max_steps` steps,
    /// evaluating on `valid` (and continuing `sampling`'s prompts) every
    /// `config.eval_every` steps and at the end, writing checkpoints as configured, and
    /// telling `on_event` about each step, evaluation, sample, checkpoint and epoch.
    ///
    /// # Errors
    /// Data errors, a training set without batches, a non-finite loss, model and
    /// checkpoint errors. Steps done before an error stay done (and checkpointed, if the
    /// configured interval was reached).
    pub fn run(
        &mut self,
        train: &mut dyn BatchSource,
        valid: &[LmBatch],
        sampling: Option<&Sampling<'_>>,
        on_event: &mut dyn FnMut(&Event<'_>) -> Control,
    ) -> Result<RunSummary> {
        let mut summary = RunSummary {
            steps: self.step,
            steps_this_run: 0,
            tokens_this_run: 0,
            train_seconds: 0.0,
            last_eval: None,
            samples: Vec::new(),
            stopped: false,
        };
        if let Some(s) = sampling {
            // Refuse prompts that cannot be continued before spending time on training.
            for p in s.prompts {
                if s.encoder.encode(p).is_empty() {
                    return Err(invalid(
                        "Trainer::run",
                        "prompt",
                        format!("{p:?}"),
                        "the prompt has no tokens",
                    ));
                }
            }
        }
        let mut epoch_loss = 0.0f64;
        let mut epoch_tokens = 0usize;
        let mut empty_epochs = 0u32;
        let mut evaluated_at = None;
        let mut checkpointed_at = None;
        loop {
            if self.config.max_steps.is_some_and(|m| self.step >= m)
                || train.epoch() >= self.config.epochs
            {
                break;
            }
            let epoch = train.epoch();
            let start = Instant::now();
            let Some(batch) = train.next_batch()? else {
                // Two epoch ends in a row with no batch between: there is no data.
                empty_epochs += 1;
                if empty_epochs > 1 {
                    return Err(LmError::Empty {
                        op: "Trainer::run",
                        what: "the training data",
                    });
                }
                let loss = (epoch_tokens > 0).then(|| epoch_loss / epoch_tokens as f64);
                let control = on_event(&Event::EpochEnd {
                    epoch,
                    step: self.step,
                    loss,
                });
                epoch_loss = 0.0;
                epoch_tokens = 0;
                if control == Control::Stop {
                    summary.stopped = true;
                    break;
                }
                continue;
            };
            empty_epochs = 0;
            let record = self.step(&batch)?;
            let seconds = start.elapsed().as_secs_f64();
            epoch_loss += record.loss * record.tokens as f64;
            epoch_tokens += record.tokens;
            summary.steps_this_run += 1;
            summary.tokens_this_run += record.tokens;
            summary.train_seconds += seconds;
            let mut control = on_event(&Event::Step {
                record,
                epoch,
                seconds,
            });
            if self
                .config
                .eval_every
                .is_some_and(|e| self.step.is_multiple_of(e))
                && !valid.is_empty()
            {
                control = self
                    .eval_and_sample(valid, sampling, &mut summary, on_event)?
                    .max(control);
                evaluated_at = Some(self.step);
            }
            if self
                .config
                .checkpoint_every
                .is_some_and(|e| self.step.is_multiple_of(e))
            {
                control = self.checkpoint_now(train, on_event)?.max(control);
                checkpointed_at = Some(self.step);
            }
            if control == Control::Stop {
                summary.stopped = true;
                break;
            }
        }
        if evaluated_at != Some(self.step) && !valid.is_empty() && self.step > 0 {
            self.eval_and_sample(valid, sampling, &mut summary, on_event)?;
            // An uninterrupted longer run would not have made this evaluation: the
            // checkpoint written next leaves it out, so a resumed run's history equals an
            // uninterrupted one's.
            self.end_of_run_evals.push(self.history.evals.len() - 1);
        }
        if self.config.checkpoint_path.is_some() && checkpointed_at != Some(self.step) {
            self.checkpoint_now(train, on_event)?;
        }
        summary.steps = self.step;
        Ok(summary)
    }

    fn eval_and_sample(
        &mut self,
        valid: &[LmBatch],
        sampling: Option<&Sampling<'_>>,
        summary: &mut RunSummary,
        on_event: &mut dyn FnMut(&Event<'_>) -> Control,
    ) -> Result<Control> {
        let record = self.evaluate(valid)?;
        self.history.evals.push(record);
        summary.last_eval = Some(record);
        let mut control = on_event(&Event::Eval(&record));
        if let Some(s) = sampling {
            summary.samples = s.generate(self.model)?;
            for (prompt, text) in &summary.samples {
                control = on_event(&Event::Sample {
                    step: self.step,
                    prompt,
                    text,
                })
                .max(control);
            }
        }
        Ok(control)
    }

    fn checkpoint_now(
        &self,
        train: &dyn BatchSource,
        on_event: &mut dyn FnMut(&Event<'_>) -> Control,
    ) -> Result<Control> {
        let Some(path) = self.config.checkpoint_path.as_deref() else {
            return Ok(Control::Continue);
        };
        self.save_checkpoint(path, &train.position())?;
        Ok(on_event(&Event::Checkpoint {
            step: self.step,
            path,
        }))
    }

    /// Writes a checkpoint to `path` atomically: the model's parameters, the optimizer's
    /// state, the step, the history (without end-of-run evaluations, which an
    /// uninterrupted run would not have made) and `data` (where the training data is).
    ///
    /// # Errors
    /// [`LmError::Io`] when the file cannot be written.
    pub fn save_checkpoint(&self, path: impl AsRef<Path>, data: &DataPosition) -> Result<()> {
        let path = path.as_ref();
        let params = self.model.named_parameters();
        let tensors: Vec<(String, Tensor<T>)> = params
            .iter()
            .map(|(n, p)| (n.clone(), p.tensor()))
            .collect();
        let refs: Vec<(&str, &Tensor<T>)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
        let model = ferrograd_tensor::io::save_safetensors_bytes(&refs)?;
        let optimizer = ferrograd_optim::save_state_bytes(&self.optimizer.state_dict())?;
        let mut trainer = KeyValues::default();
        trainer.str("dtype", T::DTYPE);
        trainer.u64("step", self.step);
        trainer.u64("ignore_index", self.config.ignore_index as u64);
        let mut history = KeyValues::default();
        history.u64("steps", self.history.steps.len() as u64);
        for s in &self.history.steps {
            history.line(&format!(
                "{} {:016x} {}",
                s.step,
                s.loss.to_bits(),
                s.tokens
            ));
        }
        // End-of-run evaluations are not saved: see `end_of_run_evals`.
        let evals: Vec<&EvalRecord> = self
            .history
            .evals
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.end_of_run_evals.contains(i))
            .map(|(_, e)| e)
            .collect();
        history.u64("evals", evals.len() as u64);
        for e in evals {
            history.line(&format!(
                "{} {:016x} {:016x} {} {}",
                e.step,
                e.loss.to_bits(),
                e.perplexity.to_bits(),
                e.tokens,
                e.sentences
            ));
        }
        let mut position = KeyValues::default();
        position.u64("epoch", data.epoch);
        position.u64("cursor", data.cursor);
        position.u64("line", data.line);
        position.u64("rng", data.rng);
        position.u64("fingerprint", data.fingerprint);
        position.u64("pending", data.pending.len() as u64);
        for p in &data.pending {
            let ids: Vec<String> = p.iter().map(u32::to_string).collect();
            position.line(&ids.join(" "));
        }
        let bytes = ckpt::encode(&[
            ("trainer", trainer.into_bytes()),
            ("model", model),
            ("optimizer", optimizer),
            ("history", history.into_bytes()),
            ("data", position.into_bytes()),
        ]);
        ckpt::write_atomically(path, &bytes, "save_checkpoint")
    }

    /// Restores a checkpoint written by [`Trainer::save_checkpoint`] (or by
    /// [`Trainer::run`]): the model's parameters, the optimizer's state, the step and the
    /// history, and moves `train` to the saved data position, so that [`Trainer::run`]
    /// continues exactly as the interrupted run would have.
    ///
    /// Everything is checked before anything changes: a file that is damaged
    /// ([`LmError::TrainCheckpoint`]), written for another model (a strict load's list of
    /// missing, unexpected and mis-shaped tensors), another element type, another
    /// optimizer state or other data (the data's fingerprint) is an error and leaves the
    /// model, the optimizer and `train` as they were.
    ///
    /// # Errors
    /// As above; [`LmError::Io`] when the file cannot be read.
    pub fn resume(&mut self, path: impl AsRef<Path>, train: &mut dyn BatchSource) -> Result<()> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| LmError::Io {
            op: "Trainer::resume",
            path: path.to_path_buf(),
            source,
        })?;
        let sections = ckpt::decode(&bytes, path)?;
        let section = |name: &'static str| -> Result<&[u8]> {
            sections
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, d)| d.as_slice())
                .ok_or_else(|| LmError::TrainCheckpoint {
                    path: path.to_path_buf(),
                    reason: format!("it has no `{name}` section"),
                })
        };
        let mismatch = |reason: String| LmError::TrainCheckpoint {
            path: path.to_path_buf(),
            reason,
        };
        // The trainer's counters.
        let mut r = Reader::new(section("trainer")?, path, "trainer")?;
        let dtype = r.value("dtype")?;
        if dtype != T::DTYPE {
            return Err(mismatch(format!(
                "it holds {dtype} parameters but the model is {}",
                T::DTYPE
            )));
        }
        let step = r.u64("step")?;
        let ignore = r.u64("ignore_index")? as i64;
        if ignore != self.config.ignore_index {
            return Err(mismatch(format!(
                "it was trained with ignore_index {ignore}, this run uses {}",
                self.config.ignore_index
            )));
        }
        // History.
        let mut r = Reader::new(section("history")?, path, "history")?;
        let mut history = TrainHistory::default();
        for _ in 0..r.u64("steps")? {
            let line = r.line("a step record")?;
            let f: Vec<&str> = line.split(' ').collect();
            let parsed = (f.len() == 3)
                .then(|| {
                    Some(StepRecord {
                        step: f[0].parse().ok()?,
                        loss: f64::from_bits(u64::from_str_radix(f[1], 16).ok()?),
                        tokens: f[2].parse().ok()?,
                    })
                })
                .flatten();
            history
                .steps
                .push(parsed.ok_or_else(|| mismatch(format!("bad step record {line:?}")))?);
        }
        for _ in 0..r.u64("evals")? {
            let line = r.line("an evaluation record")?;
            let f: Vec<&str> = line.split(' ').collect();
            let parsed = (f.len() == 5)
                .then(|| {
                    Some(EvalRecord {
                        step: f[0].parse().ok()?,
                        loss: f64::from_bits(u64::from_str_radix(f[1], 16).ok()?),
                        perplexity: f64::from_bits(u64::from_str_radix(f[2], 16).ok()?),
                        tokens: f[3].parse().ok()?,
                        sentences: f[4].parse().ok()?,
                    })
                })
                .flatten();
            history
                .evals
                .push(parsed.ok_or_else(|| mismatch(format!("bad evaluation record {line:?}")))?);
        }
        // Data position.
        let mut r = Reader::new(section("data")?, path, "data")?;
        let mut position = DataPosition {
            epoch: r.u64("epoch")?,
            cursor: r.u64("cursor")?,
            line: r.u64("line")?,
            rng: r.u64("rng")?,
            fingerprint: r.u64("fingerprint")?,
            pending: Vec::new(),
        };
        for _ in 0..r.u64("pending")? {
            let ids = r.numbers("a buffered example")?;
            position.pending.push(
                ids.into_iter()
                    .map(|i| u32::try_from(i).map_err(|_| mismatch(format!("id {i} is too large"))))
                    .collect::<Result<_>>()?,
            );
        }
        // Model and optimizer, decoded and checked against the model before any change.
        let source = path.display().to_string();
        let dict = StateDict::<T>::from_bytes(section("model")?, &format!("{source} (model)"))?;
        let optimizer_state = ferrograd_optim::load_state_bytes::<T>(
            section("optimizer")?,
            &format!("{source} (optimizer)"),
        )?;
        // The data position first (refused for other data, nothing changed), then the
        // model (all or nothing), then the optimizer; a failure after the model was
        // loaded puts the previous values back.
        let previous_position = train.position();
        train.restore(&position)?;
        let snapshot = StateDict::from_module(self.model);
        if let Err(e) = load_state_dict(self.model, &dict, &LoadOptions::strict()) {
            train.restore(&previous_position)?;
            return Err(e.into());
        }
        if let Err(e) = self.optimizer.load_state_dict(&optimizer_state) {
            load_state_dict(self.model, &snapshot, &LoadOptions::strict())?;
            train.restore(&previous_position)?;
            return Err(e.into());
        }
        self.step = step;
        self.history = history;
        self.end_of_run_evals.clear();
        Ok(())
    }
}

/// Number of targets different from `ignore_index`.
pub fn count_targets(targets: &IdTensor, ignore_index: i64) -> usize {
    targets
        .contiguous_data()
        .iter()
        .filter(|&&t| t != ignore_index)
        .count()
}

/// The loss per scored token of `model` on `batches` (no gradients), as the notebook's
/// `compute_loss_and_perplexity`: each batch's mean loss times its number of scored
/// targets, summed, over the total; stops after the batch that brings the sentence count
/// to `max_sentences`. `step` is recorded in the result.
///
/// # Errors
/// [`LmError::Empty`] when no target is scored; model errors.
pub fn evaluate<T: Scalar, M: CausalLm<T> + ?Sized>(
    model: &M,
    batches: &[LmBatch],
    ignore_index: i64,
    max_sentences: Option<usize>,
    step: u64,
) -> Result<EvalRecord> {
    no_grad(|| {
        let mut total = 0.0f64;
        let mut tokens = 0usize;
        let mut sentences = 0usize;
        for batch in batches {
            let n = count_targets(&batch.targets, ignore_index);
            if n > 0 {
                let loss = model.loss(&batch.inputs, &batch.targets, ignore_index)?;
                total += loss.item()?.to_f64() * n as f64;
                tokens += n;
            }
            sentences += batch.len();
            if max_sentences.is_some_and(|m| sentences >= m) {
                break;
            }
        }
        if tokens == 0 {
            return Err(LmError::Empty {
                op: "evaluate",
                what: "the held-out data",
            });
        }
        let loss = total / tokens as f64;
        Ok(EvalRecord {
            step,
            loss,
            perplexity: loss.exp(),
            tokens,
            sentences,
        })
    })
}
