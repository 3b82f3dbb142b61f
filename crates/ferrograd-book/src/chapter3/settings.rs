//! The settings shared by the data and training sections (their own file so that
//! `data` and `training` both use them without importing each other).

use std::path::PathBuf;

use serde::Serialize;

use super::TokenizerChoice;

/// Settings of the data and training sections.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    /// The tokenizer.
    pub tokenizer: TokenizerChoice,
    /// Embedding and hidden size.
    pub emb_dim: usize,
    /// Elman layers.
    pub num_layers: usize,
    /// Examples per batch.
    pub batch_size: usize,
    /// Tokens kept per line (the notebook's context size, 30).
    pub max_length: usize,
    /// AdamW learning rate.
    pub lr: f64,
    /// Passes over the training lines.
    pub epochs: u64,
    /// Stop after this many steps, if set.
    pub max_steps: Option<u64>,
    /// Evaluate and sample every this many steps (and at the end).
    pub eval_every: Option<u64>,
    /// Periodic evaluations use at most this many held-out sentences (the notebook's
    /// 1,000); the final one uses all of them.
    pub eval_max_sentences: usize,
    /// Seed of the initial weights and of the batch order.
    pub seed: u64,
    /// The part of the lines (from the start) that is trained on.
    pub train_fraction: f64,
    /// Prompts continued greedily at each evaluation.
    pub prompts: Vec<String>,
    /// New tokens per prompt.
    pub max_new_tokens: usize,
    /// Checkpoint file, if any (written every `checkpoint_every` steps and at the end).
    pub checkpoint: Option<PathBuf>,
    /// Steps between checkpoints.
    pub checkpoint_every: Option<u64>,
    /// Continue from `checkpoint` when it exists.
    pub resume: bool,
    /// Write what the run trains on (ids, batch order, initial weights) into this folder
    /// for `scripts/reference/rnn_compare.py`.
    pub export: Option<PathBuf>,
}

impl Default for Settings {
    /// Small and quick: a 2,000-id BPE trained on the corpus, E = 64, batches of 64, one
    /// epoch.
    fn default() -> Self {
        Self {
            tokenizer: TokenizerChoice::Trained(2000),
            emb_dim: 64,
            num_layers: 2,
            batch_size: 64,
            max_length: 30,
            lr: 3e-3,
            epochs: 1,
            max_steps: None,
            eval_every: Some(100),
            eval_max_sentences: 1000,
            seed: 42,
            train_fraction: 0.9,
            prompts: ["ROMEO:", "The king", "What is"].map(String::from).to_vec(),
            max_new_tokens: 20,
            checkpoint: None,
            checkpoint_every: None,
            resume: false,
            export: None,
        }
    }
}

impl Settings {
    /// The notebook's sizes: GPT-2's tokenizer, E = 128, 2 layers, batches of 128, 30
    /// tokens a line, AdamW lr 1e-3, one epoch, 50 new tokens per prompt.
    pub fn full() -> Self {
        Self {
            tokenizer: TokenizerChoice::Gpt2,
            emb_dim: 128,
            batch_size: 128,
            lr: 1e-3,
            eval_every: Some(100),
            max_new_tokens: 50,
            ..Self::default()
        }
    }
}
