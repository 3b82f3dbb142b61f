//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong in `ferrograd-lm`.
#[derive(Debug, thiserror::Error)]
pub enum LmError {
    /// A model was asked to learn from, or to score, no tokens at all.
    #[error("{op}: {what} is empty (no tokens)")]
    Empty {
        /// The call that received it.
        op: &'static str,
        /// What was empty (the training corpus, the evaluation text, …).
        what: &'static str,
    },
    /// A setting outside its valid range.
    #[error("{op}: invalid {name} = {value}: {reason}")]
    InvalidConfig {
        /// The call that received it.
        op: &'static str,
        /// The setting.
        name: &'static str,
        /// Its value, as written.
        value: String,
        /// What a valid value looks like.
        reason: String,
    },
    /// A probability outside (0, 1] or not finite where a log-likelihood needs one.
    #[error("{op}: probability #{index} is {value}; a log-likelihood needs 0 < p <= 1")]
    BadProbability {
        /// The call that received it.
        op: &'static str,
        /// Its position in the sequence.
        index: usize,
        /// The value.
        value: f64,
    },
    /// A word the vectors do not know.
    #[error("{op}: unknown word {word:?}")]
    UnknownWord {
        /// The call that received it.
        op: &'static str,
        /// The word.
        word: String,
    },
    /// Reading or writing a file failed.
    #[error("{op}: {path}: {source}")]
    Io {
        /// The call that failed.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A file that holds nothing the reader can use (every line empty, say).
    #[error("{op}: {path}: {reason}")]
    EmptyFile {
        /// The call that read it.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// What it lacks.
        reason: &'static str,
    },
    /// A file whose contents are not what the reader expects.
    #[error("{path}:{line}: {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The 1-based line.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A sequence longer than the model's context.
    #[error("{op}: {positions} positions exceed the model's context of {max_positions}")]
    ContextExceeded {
        /// The call.
        op: &'static str,
        /// Positions asked for (prompt, cached and new tokens).
        positions: usize,
        /// The model's context.
        max_positions: usize,
    },
    /// Logits from which no next token can be chosen.
    #[error("{op}: {reason}")]
    BadLogits {
        /// The call.
        op: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A tensor operation failed (the tensor-stack word2vec step, the classifier).
    #[error(transparent)]
    Tensor(#[from] ferrograd_tensor::TensorError),
    /// A layer or loss failed.
    #[error(transparent)]
    Nn(#[from] ferrograd_nn::NnError),
    /// An optimizer failed.
    #[error(transparent)]
    Optim(#[from] ferrograd_optim::OptimError),
    /// Reading or batching data failed.
    #[error(transparent)]
    Data(#[from] ferrograd_data::DataError),
    /// A training checkpoint that cannot be used: damaged, incomplete, or written for
    /// another model, element type or run; nothing was changed.
    #[error("checkpoint {}: {reason}", path.display())]
    TrainCheckpoint {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Training produced a loss that is NaN or infinite; the parameters were not updated.
    #[error(
        "training step {step}: the loss is {loss} (diverged); the parameters were not updated — lower the learning rate or clip gradients"
    )]
    NonFiniteLoss {
        /// The step that would have been made.
        step: u64,
        /// The loss.
        loss: f64,
    },
    /// A checkpoint, config or adapter that does not fit the model: every problem found,
    /// and nothing was loaded.
    #[error("{path}: {} problem(s): {}", problems.len(), problems.join("; "))]
    Checkpoint {
        /// The file or directory.
        path: String,
        /// Each problem, one line each.
        problems: Vec<String>,
    },
    /// A tokenizer failed (a malformed file, an id it does not know).
    #[error(transparent)]
    Tokenize(#[from] ferrograd_tokenize::TokenizeError),
    /// A model configuration no memory can hold: its parameter count overflows `usize`,
    /// its size in bytes exceeds `isize::MAX` (more than any Rust allocation can
    /// serve), or the allocator refused one of its weights. Nothing was built.
    #[error("{op}: the model is too large ({config}): {reason}")]
    ModelTooLarge {
        /// The constructor that refused it.
        op: &'static str,
        /// The sizes that make it large (`vocab_size 50257, n_positions …`).
        config: String,
        /// The parameter count and its bytes, or the weight whose allocation failed.
        reason: String,
    },
}

/// `Result` with [`LmError`].
pub type Result<T> = std::result::Result<T, LmError>;

pub(crate) fn invalid(
    op: &'static str,
    name: &'static str,
    value: impl std::fmt::Display,
    reason: impl Into<String>,
) -> LmError {
    LmError::InvalidConfig {
        op,
        name,
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// An lm error as an nn error, for `Forward` implementations (whose result type is nn's):
/// a wrapped nn error comes back as it was, others become
/// [`ferrograd_nn::NnError::InvalidArgument`] with the full message.
pub(crate) fn to_nn(e: LmError) -> ferrograd_nn::NnError {
    match e {
        LmError::Nn(inner) => inner,
        LmError::Tensor(inner) => ferrograd_nn::NnError::Tensor(inner),
        other => ferrograd_nn::NnError::InvalidArgument {
            op: "ferrograd-lm",
            reason: other.to_string(),
        },
    }
}
