//! The settings shared by the model, data and training sections (their own file so that
//! `data` and `training` both use them without importing each other).

use serde::Serialize;

use crate::lm_run::RunSettings;

/// Settings of the model, data and training sections: the RNN's sizes and the run's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    /// Embedding and hidden size.
    pub emb_dim: usize,
    /// Elman layers.
    pub num_layers: usize,
    /// The tokenizer, batches, optimiser, evaluation, checkpoints and export.
    #[serde(flatten)]
    pub run: RunSettings,
}

impl Default for Settings {
    /// Small and quick: E = 64, 2 layers, and [`RunSettings::default`] (a 2,000-id BPE
    /// trained on the corpus, batches of 64, one epoch).
    fn default() -> Self {
        Self {
            emb_dim: 64,
            num_layers: 2,
            run: RunSettings::default(),
        }
    }
}

impl Settings {
    /// The notebook's sizes: E = 128, 2 layers, and [`RunSettings::full`] (GPT-2's
    /// tokenizer, batches of 128, 30 tokens a line, AdamW lr 1e-3, one epoch, 50 new
    /// tokens per prompt).
    pub fn full() -> Self {
        Self {
            emb_dim: 128,
            num_layers: 2,
            run: RunSettings::full(),
        }
    }
}
