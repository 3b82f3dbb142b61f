//! The crate's one error type.

use ferrograd_tensor::{Shape, TensorError};

/// Everything that can go wrong in `ferrograd-data`.
///
/// Variants about a dataset or a loader name the operation; variants about a file name
/// the file and, where there is one, the line (1-based, counting every physical line of
/// the file, the header included) and the column (1-based field number and the header's
/// name for it).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// An error from the tensor layer.
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// An argument that makes no sense (a batch size of 0, fractions that do not add up…).
    #[error("{op}: {reason}")]
    InvalidArgument {
        /// The operation, e.g. `"DataLoader::new"`.
        op: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// An example index at or past the end of a dataset.
    #[error("{op}: index {index} is out of range for a dataset of {len} examples")]
    IndexOutOfRange {
        /// The operation.
        op: &'static str,
        /// The offending index.
        index: usize,
        /// Number of examples in the dataset.
        len: usize,
    },
    /// Inputs and targets (or two parts that must agree) with different numbers of rows.
    #[error("{op}: {inputs} input rows but {targets} target rows")]
    LengthMismatch {
        /// The operation.
        op: &'static str,
        /// Rows of the inputs.
        inputs: usize,
        /// Rows of the targets.
        targets: usize,
    },
    /// A tensor whose shape does not fit (e.g. a scaler fitted on 2 columns given 3).
    #[error("{op}: expected shape {expected}, got {found}")]
    ShapeMismatch {
        /// The operation.
        op: &'static str,
        /// The shape expected (`0` stands for "any size" on an axis that is not checked).
        expected: Shape,
        /// The shape found.
        found: Shape,
    },
    /// A tensor of the wrong rank, e.g. a 1-D tensor given to a scaler that fits a
    /// matrix of examples.
    #[error("{op}: expected a tensor of rank {rank} ({layout}), got shape {found}")]
    WrongRank {
        /// The operation, e.g. `"StandardScaler::fit"`.
        op: &'static str,
        /// The rank expected.
        rank: usize,
        /// What the axes mean, e.g. `"[examples, features]"`.
        layout: &'static str,
        /// The shape found.
        found: Shape,
    },
    /// A NaN or infinity where finite numbers are needed (e.g. fitting a scaler).
    #[error("{op}: row {row}, column {column} is {value}, not a finite number")]
    NonFinite {
        /// The operation.
        op: &'static str,
        /// The row (0-based).
        row: usize,
        /// The column (0-based).
        column: usize,
        /// The value found.
        value: f64,
    },
    /// An operation that needs at least one example got none.
    #[error("{op}: the data has no examples")]
    Empty {
        /// The operation.
        op: &'static str,
    },
    /// Reading a file failed.
    #[error("{op}: {file}: {source}")]
    Io {
        /// The operation.
        op: &'static str,
        /// The file.
        file: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file that is not valid UTF-8.
    #[error("{file}:{line}: the file is not valid UTF-8")]
    Utf8 {
        /// The file.
        file: String,
        /// The line holding the first invalid byte.
        line: usize,
    },
    /// A CSV file with no header line (nothing but blank lines, or nothing at all).
    #[error("{file}: the file is empty (no header line)")]
    EmptyFile {
        /// The file.
        file: String,
    },
    /// A CSV file with a header but no data rows.
    #[error("{file}: no data rows after the header on line {line}")]
    NoRows {
        /// The file.
        file: String,
        /// The header's line.
        line: usize,
    },
    /// A requested column that the header does not have.
    #[error("{file}:{line}: the header has no column named {name:?}")]
    MissingColumn {
        /// The file.
        file: String,
        /// The header's line.
        line: usize,
        /// The column asked for.
        name: String,
    },
    /// A requested column whose name appears more than once in the header.
    #[error("{file}:{line}: the header names column {name:?} more than once")]
    DuplicateColumn {
        /// The file.
        file: String,
        /// The header's line.
        line: usize,
        /// The ambiguous name.
        name: String,
    },
    /// A row with more or fewer fields than the header.
    #[error("{file}:{line}: the row has {found} fields but the header has {expected}")]
    RowLength {
        /// The file.
        file: String,
        /// The line the row starts on.
        line: usize,
        /// Fields in the header.
        expected: usize,
        /// Fields in the row.
        found: usize,
    },
    /// Malformed CSV: an unterminated quoted field, or text after a closing quote.
    #[error("{file}:{line}: character {position}: {reason}")]
    CsvSyntax {
        /// The file.
        file: String,
        /// The line of the problem.
        line: usize,
        /// 1-based character position within that line.
        position: usize,
        /// What is wrong.
        reason: String,
    },
    /// A cell of a numeric column that is not a finite number (empty cells included).
    #[error("{file}:{line}: column {column} ({name:?}): {value:?} is not a finite number")]
    NotNumeric {
        /// The file.
        file: String,
        /// The line the row starts on.
        line: usize,
        /// 1-based field number.
        column: usize,
        /// The column's header name.
        name: String,
        /// The cell's text.
        value: String,
    },
    /// A cell of the class column that is not a known label or class index.
    #[error("{file}:{line}: column {column} ({name:?}): {value:?} {reason}")]
    BadLabel {
        /// The file.
        file: String,
        /// The line the row starts on.
        line: usize,
        /// 1-based field number.
        column: usize,
        /// The column's header name.
        name: String,
        /// The cell's text.
        value: String,
        /// Why it is not a class.
        reason: String,
    },
}

/// Result alias used throughout the crate.
pub type Result<T, E = DataError> = std::result::Result<T, E>;

pub(crate) fn invalid(op: &'static str, reason: impl Into<String>) -> DataError {
    DataError::InvalidArgument {
        op,
        reason: reason.into(),
    }
}
