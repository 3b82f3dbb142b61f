//! CSV loading: a small parser of our own (RFC 4180 quoting) and loaders that pick
//! numeric feature columns and a target column by name.
//!
//! Every error names the file and the line (1-based, counting every physical line, the
//! header included), and for a bad cell the column (1-based field number and header
//! name). Loading reads and checks the whole file before building anything, so nothing
//! loads half-way.
//!
//! The dialect:
//! - fields are separated by a delimiter (default `,`); records end at `\n` or `\r\n`;
//! - a field that starts with `"` is quoted: it may hold delimiters, newlines and `""`
//!   (one literal quote), and must be followed by a delimiter or the end of the record;
//!   a `"` inside an unquoted field is an ordinary character;
//! - the first non-blank record is the header; names are trimmed of surrounding
//!   whitespace; blank lines (empty or only whitespace) are skipped everywhere;
//! - a UTF-8 byte-order mark at the start is ignored;
//! - every record must have as many fields as the header.
//!
//! Numbers are parsed at the element type: an `f32` column reads each cell as the
//! nearest `f32` (correctly rounded, as `str::parse::<f32>`), so a cell such as `1e39`,
//! finite in `f64` but beyond `f32::MAX`, is an error rather than an infinity. A cell
//! is accepted exactly when its value rounds to a finite number of the element type;
//! `nan`, `inf` and values that round to infinity are [`DataError::NotNumeric`].
//!
//! Text comes from a file ([`CsvTable::read`]), any reader ([`CsvTable::from_reader`]),
//! bytes ([`CsvTable::from_bytes`]) or a string ([`CsvTable::parse`]).

use crate::dataset::TensorDataset;
use crate::error::{DataError, Result, invalid};
use ferrograd_tensor::{IdTensor, Scalar, Tensor};
use std::io::Read;
use std::path::Path;

/// One data record of a CSV file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvRow {
    /// The line the record starts on.
    pub line: usize,
    /// The fields, unquoted (surrounding whitespace kept).
    pub fields: Vec<String>,
}

/// A parsed CSV file: its header and its records, all of the header's width.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvTable {
    /// The file's name, as used in error messages.
    pub file: String,
    /// The line of the header.
    pub header_line: usize,
    /// The column names, trimmed.
    pub header: Vec<String>,
    /// The data records.
    pub rows: Vec<CsvRow>,
}

struct Cursor<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: usize,
    col: usize,
}

impl Cursor<'_> {
    fn peek(&mut self) -> Option<char> {
        self.chars.peek().copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.line += 1;
            self.col = 0;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    /// True (and consumes it) at a record end: `\n`, or `\r\n`.
    fn at_record_end(&mut self) -> bool {
        match self.peek() {
            Some('\n') => {
                self.bump();
                true
            }
            Some('\r') => {
                let mut ahead = self.chars.clone();
                ahead.next();
                if ahead.peek() == Some(&'\n') {
                    self.bump();
                    self.bump();
                    true
                } else {
                    false
                }
            }
            _ => false,
        }
    }
}

impl CsvTable {
    /// Reads and parses a CSV file.
    ///
    /// # Errors
    /// [`DataError::Io`] when the file cannot be read, [`DataError::Utf8`] naming the
    /// line of the first invalid byte, and the errors of [`CsvTable::parse`].
    pub fn read(path: impl AsRef<Path>, delimiter: char) -> Result<Self> {
        let path = path.as_ref();
        let file = path.display().to_string();
        let text = read_utf8("CsvTable::read", path)?;
        Self::parse(&text, &file, delimiter)
    }

    /// Reads CSV text from any reader (a file, a socket, `&[u8]`…) to its end and parses
    /// it; `file` names it in error messages.
    ///
    /// ```
    /// use ferrograd_data::csv::CsvTable;
    /// let t = CsvTable::from_reader(&b"x,y\n1,2\n"[..], "upload.csv", ',')?;
    /// assert_eq!(t.rows[0].fields, vec!["1", "2"]);
    /// # Ok::<(), ferrograd_data::DataError>(())
    /// ```
    ///
    /// # Errors
    /// [`DataError::Io`] when reading fails, [`DataError::Utf8`] naming the line of the
    /// first invalid byte, and the errors of [`CsvTable::parse`].
    pub fn from_reader(mut reader: impl Read, file: &str, delimiter: char) -> Result<Self> {
        let mut bytes = Vec::new();
        reader
            .read_to_end(&mut bytes)
            .map_err(|source| DataError::Io {
                op: "CsvTable::from_reader",
                file: file.to_string(),
                source,
            })?;
        Self::parse(&utf8(bytes, file)?, file, delimiter)
    }

    /// Parses CSV bytes held in memory; `file` names them in error messages.
    ///
    /// ```
    /// use ferrograd_data::{DataError, csv::CsvTable};
    /// let err = CsvTable::from_bytes(b"x\n1\n\xff\n", "upload.csv", ',').unwrap_err();
    /// assert!(matches!(err, DataError::Utf8 { line: 3, .. }), "{err}");
    /// ```
    ///
    /// # Errors
    /// [`DataError::Utf8`] naming the line of the first invalid byte, and the errors of
    /// [`CsvTable::parse`].
    pub fn from_bytes(bytes: &[u8], file: &str, delimiter: char) -> Result<Self> {
        let text = std::str::from_utf8(bytes).map_err(|e| utf8_error(bytes, &e, file))?;
        Self::parse(text, file, delimiter)
    }

    /// Parses CSV text; `file` names it in error messages.
    ///
    /// ```
    /// use ferrograd_data::csv::CsvTable;
    /// let t = CsvTable::parse("name,note\n\"Smith, J\",\"said \"\"hi\"\"\"\n", "people.csv", ',')?;
    /// assert_eq!(t.header, vec!["name", "note"]);
    /// assert_eq!(t.rows[0].fields, vec!["Smith, J", "said \"hi\""]);
    /// assert_eq!(t.rows[0].line, 2);
    /// # Ok::<(), ferrograd_data::DataError>(())
    /// ```
    ///
    /// # Errors
    /// [`DataError::InvalidArgument`] for a delimiter that is `"`, `\r` or `\n`;
    /// [`DataError::EmptyFile`] when there is no header; [`DataError::CsvSyntax`] for an
    /// unterminated quoted field or text after a closing quote;
    /// [`DataError::RowLength`] for a record whose width differs from the header's.
    pub fn parse(text: &str, file: &str, delimiter: char) -> Result<Self> {
        if matches!(delimiter, '"' | '\r' | '\n') {
            return Err(invalid(
                "CsvTable::parse",
                format!("{delimiter:?} cannot be a delimiter"),
            ));
        }
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut cur = Cursor {
            chars: text.chars().peekable(),
            line: 1,
            col: 0,
        };
        let mut header: Option<(usize, Vec<String>)> = None;
        let mut rows = Vec::new();
        while cur.peek().is_some() {
            let line = cur.line;
            let (fields, blank) = parse_record(&mut cur, file, delimiter)?;
            if blank {
                continue;
            }
            match &header {
                None => {
                    header = Some((
                        line,
                        fields.into_iter().map(|f| f.trim().to_string()).collect(),
                    ));
                }
                Some((_, names)) => {
                    if fields.len() != names.len() {
                        return Err(DataError::RowLength {
                            file: file.to_string(),
                            line,
                            expected: names.len(),
                            found: fields.len(),
                        });
                    }
                    rows.push(CsvRow { line, fields });
                }
            }
        }
        let (header_line, header) = header.ok_or_else(|| DataError::EmptyFile {
            file: file.to_string(),
        })?;
        Ok(Self {
            file: file.to_string(),
            header_line,
            header,
            rows,
        })
    }

    /// The 0-based position of the column named `name`.
    ///
    /// # Errors
    /// [`DataError::MissingColumn`] when the header lacks it,
    /// [`DataError::DuplicateColumn`] when it names it more than once.
    pub fn column(&self, name: &str) -> Result<usize> {
        let mut found = self.header.iter().enumerate().filter(|(_, h)| *h == name);
        let Some((i, _)) = found.next() else {
            return Err(DataError::MissingColumn {
                file: self.file.clone(),
                line: self.header_line,
                name: name.to_string(),
            });
        };
        if found.next().is_some() {
            return Err(DataError::DuplicateColumn {
                file: self.file.clone(),
                line: self.header_line,
                name: name.to_string(),
            });
        }
        Ok(i)
    }

    /// The cells of column `col` (0-based) parsed as finite numbers of `T` (see the
    /// [module docs](self) for what a cell may hold).
    ///
    /// ```
    /// use ferrograd_data::csv::CsvTable;
    /// let t = CsvTable::parse("x\n1e39\n", "big.csv", ',')?;
    /// assert_eq!(t.numeric_column::<f64>(0)?, vec![1e39]);
    /// let err = t.numeric_column::<f32>(0).unwrap_err(); // beyond f32::MAX
    /// assert_eq!(err.to_string(), "big.csv:2: column 1 (\"x\"): \"1e39\" is not a finite number");
    /// # Ok::<(), ferrograd_data::DataError>(())
    /// ```
    ///
    /// # Errors
    /// [`DataError::InvalidArgument`] when the table has no column `col`;
    /// [`DataError::NotNumeric`] naming the line and column of the first bad cell.
    pub fn numeric_column<T: Scalar>(&self, col: usize) -> Result<Vec<T>> {
        if col >= self.header.len() {
            return Err(invalid(
                "CsvTable::numeric_column",
                format!(
                    "{}: column {col} is out of range for a table of {} columns",
                    self.file,
                    self.header.len()
                ),
            ));
        }
        self.rows
            .iter()
            .map(|row| self.number_at(row, col))
            .collect()
    }

    /// The cell of `row` in column `col`; a row built by hand (the fields are public)
    /// may be shorter than the header, which is the error [`CsvTable::parse`] reports.
    fn cell<'r>(&self, row: &'r CsvRow, col: usize) -> Result<&'r String> {
        row.fields.get(col).ok_or_else(|| DataError::RowLength {
            file: self.file.clone(),
            line: row.line,
            expected: self.header.len(),
            found: row.fields.len(),
        })
    }

    fn number_at<T: Scalar>(&self, row: &CsvRow, col: usize) -> Result<T> {
        let cell = self.cell(row, col)?;
        parse_number::<T>(cell).ok_or_else(|| DataError::NotNumeric {
            file: self.file.clone(),
            line: row.line,
            column: col + 1,
            name: self.header.get(col).cloned().unwrap_or_default(),
            value: cell.clone(),
        })
    }
}

/// Parses one record; returns its fields and whether it is a blank line.
fn parse_record(cur: &mut Cursor<'_>, file: &str, delimiter: char) -> Result<(Vec<String>, bool)> {
    let mut fields = Vec::new();
    let mut any_quoted = false;
    loop {
        let mut field = String::new();
        if cur.peek() == Some('"') {
            any_quoted = true;
            cur.bump();
            let (open_line, open_col) = (cur.line, cur.col);
            loop {
                match cur.bump() {
                    None => {
                        return Err(DataError::CsvSyntax {
                            file: file.to_string(),
                            line: open_line,
                            position: open_col,
                            reason: "quoted field is never closed".into(),
                        });
                    }
                    Some('"') if cur.peek() == Some('"') => {
                        cur.bump();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                }
            }
            match cur.peek() {
                None => {}
                Some(c) if c == delimiter || c == '\n' => {}
                Some('\r')
                    if {
                        let mut ahead = cur.chars.clone();
                        ahead.next();
                        ahead.peek() == Some(&'\n')
                    } => {}
                Some(c) => {
                    return Err(DataError::CsvSyntax {
                        file: file.to_string(),
                        line: cur.line,
                        position: cur.col + 1,
                        reason: format!(
                            "unexpected {c:?} after the closing quote of a field (a field \
                             that starts with a quote must end with one)"
                        ),
                    });
                }
            }
        } else {
            while let Some(c) = cur.peek() {
                if c == delimiter || c == '\n' {
                    break;
                }
                if c == '\r' {
                    let mut ahead = cur.chars.clone();
                    ahead.next();
                    if ahead.peek() == Some(&'\n') {
                        break;
                    }
                }
                field.push(c);
                cur.bump();
            }
        }
        fields.push(field);
        match cur.peek() {
            Some(c) if c == delimiter => {
                cur.bump();
            }
            _ => {
                // End of record: a newline (consumed here) or the end of the text.
                cur.at_record_end();
                break;
            }
        }
    }
    let blank = !any_quoted && fields.len() == 1 && fields[0].trim().is_empty();
    Ok((fields, blank))
}

/// A cell (surrounding whitespace ignored) as a finite number of `T`, or `None`.
///
/// The text is parsed at `T`'s own precision, so it is rounded once, and the finite check
/// runs on the rounded value: `1e39` is finite as `f64` but rounds to infinity as `f32`.
pub(crate) fn parse_number<T: Scalar>(cell: &str) -> Option<T> {
    let text = cell.trim();
    let value = if size_of::<T>() == size_of::<f32>() {
        // Exact: every f32 is an f64, and from_f64 gives the same f32 back.
        f64::from(text.parse::<f32>().ok()?)
    } else {
        text.parse::<f64>().ok()?
    };
    value.is_finite().then(|| T::from_f64(value))
}

/// Reads a whole file as UTF-8, naming the line of the first invalid byte.
pub(crate) fn read_utf8(op: &'static str, path: &Path) -> Result<String> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| DataError::Io {
        op,
        file: file.clone(),
        source,
    })?;
    utf8(bytes, &file)
}

fn utf8(bytes: Vec<u8>, file: &str) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| utf8_error(e.as_bytes(), &e.utf8_error(), file))
}

fn utf8_error(bytes: &[u8], error: &std::str::Utf8Error, file: &str) -> DataError {
    let good = &bytes[..error.valid_up_to()];
    let line = 1 + good.iter().filter(|&&b| b == b'\n').count();
    DataError::Utf8 {
        file: file.to_string(),
        line,
    }
}

/// Which columns of a CSV file to load and how: numeric feature columns and a target
/// column, chosen by header name.
///
/// ```
/// use ferrograd_data::{Dataset, csv::CsvOptions};
/// let text = "age,income,bought\n22,25,no\n47,80,yes\n";
/// let ds = CsvOptions::new(&["age", "income"], "bought")
///     .labels(&["no", "yes"])
///     .parse_classification::<f32>(text, "buyers.csv")?;
/// assert_eq!(ds.len(), 2);
/// assert_eq!(ds.inputs().to_vec(), vec![22.0, 25.0, 47.0, 80.0]);
/// assert_eq!(ds.targets().to_vec(), [0, 1]);
/// # Ok::<(), ferrograd_data::DataError>(())
/// ```
#[derive(Debug, Clone)]
pub struct CsvOptions {
    features: Vec<String>,
    target: String,
    labels: Option<Vec<String>>,
    delimiter: char,
}

impl CsvOptions {
    /// Loads the columns named in `features` (in that order) as inputs and `target` as
    /// the target, from comma-separated files.
    pub fn new<S: AsRef<str>>(features: &[S], target: &str) -> Self {
        Self {
            features: features.iter().map(|s| s.as_ref().to_string()).collect(),
            target: target.to_string(),
            labels: None,
            delimiter: ',',
        }
    }

    /// Uses another field delimiter (e.g. `';'` or `'\t'`).
    #[must_use]
    pub fn delimiter(mut self, delimiter: char) -> Self {
        self.delimiter = delimiter;
        self
    }

    /// For classification: the class names, in class-index order (`names[i]` is class
    /// `i`). Without a mapping the target cells must be class indices `0, 1, 2, …`.
    #[must_use]
    pub fn labels<S: AsRef<str>>(mut self, names: &[S]) -> Self {
        self.labels = Some(names.iter().map(|s| s.as_ref().to_string()).collect());
        self
    }

    fn check(&self, op: &'static str) -> Result<()> {
        if self.features.is_empty() {
            return Err(invalid(op, "no feature columns chosen"));
        }
        if self.features.contains(&self.target) {
            return Err(invalid(
                op,
                format!("target column {:?} is also a feature column", self.target),
            ));
        }
        if let Some(labels) = &self.labels {
            for (i, name) in labels.iter().enumerate() {
                if labels[..i].contains(name) {
                    return Err(invalid(op, format!("label {name:?} is mapped twice")));
                }
            }
        }
        Ok(())
    }

    /// Reads the feature columns and the target column row by row (so the first bad
    /// cell in file order is the one reported): inputs `[n, features]` and one target
    /// per row, produced by `target` from the row and the target's column.
    fn read_rows<T: Scalar, Y>(
        &self,
        table: &CsvTable,
        target: impl Fn(&CsvRow, usize) -> Result<Y>,
    ) -> Result<(Tensor<T>, Vec<Y>)> {
        let cols = self
            .features
            .iter()
            .map(|name| table.column(name))
            .collect::<Result<Vec<_>>>()?;
        let target_col = table.column(&self.target)?;
        if table.rows.is_empty() {
            return Err(DataError::NoRows {
                file: table.file.clone(),
                line: table.header_line,
            });
        }
        // Cells are checked in field order, so the first bad cell of a row is reported.
        let mut order = cols.clone();
        order.push(target_col);
        order.sort_unstable();
        order.dedup();
        let mut scratch = vec![T::ZERO; table.header.len()];
        let mut x = Vec::with_capacity(table.rows.len() * cols.len());
        let mut y = Vec::with_capacity(table.rows.len());
        for row in &table.rows {
            for &c in &order {
                if c == target_col {
                    y.push(target(row, c)?);
                } else {
                    scratch[c] = table.number_at::<T>(row, c)?;
                }
            }
            x.extend(cols.iter().map(|&c| scratch[c]));
        }
        Ok((Tensor::from_vec(x, &[table.rows.len(), cols.len()])?, y))
    }

    /// A regression dataset from a parsed table: inputs `[n, features]`, targets
    /// `[n, 1]`.
    ///
    /// # Errors
    /// [`DataError::InvalidArgument`] for bad options (no features, the target among
    /// the features, a label mapping given); [`DataError::MissingColumn`],
    /// [`DataError::DuplicateColumn`], [`DataError::NoRows`],
    /// [`DataError::NotNumeric`] (the first bad cell in file order).
    pub fn regression_from_table<T: Scalar>(
        &self,
        table: &CsvTable,
    ) -> Result<TensorDataset<Tensor<T>, Tensor<T>>> {
        const OP: &str = "CsvOptions::regression";
        self.check(OP)?;
        if self.labels.is_some() {
            return Err(invalid(
                OP,
                "a label mapping applies to classification only",
            ));
        }
        let (x, y) = self.read_rows::<T, T>(table, |row, c| table.number_at::<T>(row, c))?;
        let n = y.len();
        TensorDataset::new(x, Tensor::from_vec(y, &[n, 1])?)
    }

    /// A classification dataset from a parsed table: inputs `[n, features]`, class
    /// indices `[n]`.
    ///
    /// # Errors
    /// As [`CsvOptions::regression_from_table`] (a label mapping is allowed), and
    /// [`DataError::BadLabel`] for a target cell that is not one of the mapped labels
    /// (or, without a mapping, not a non-negative whole number).
    pub fn classification_from_table<T: Scalar>(
        &self,
        table: &CsvTable,
    ) -> Result<TensorDataset<Tensor<T>, IdTensor>> {
        self.check("CsvOptions::classification")?;
        let (x, classes) = self.read_rows::<T, usize>(table, |row, c| {
            let cell = table.cell(row, c)?;
            let value = cell.trim();
            let class = match &self.labels {
                Some(labels) => labels
                    .iter()
                    .position(|l| l == value)
                    .ok_or_else(|| format!("is not one of the labels {labels:?}")),
                None => match value.parse::<usize>() {
                    Err(_) => Err("is not a class index (a whole number >= 0)".to_string()),
                    // Class indices are stored as i64 ids.
                    Ok(v) if i64::try_from(v).is_err() => Err(format!(
                        "is larger than the largest class index ({})",
                        i64::MAX
                    )),
                    Ok(v) => Ok(v),
                },
            };
            class.map_err(|reason| DataError::BadLabel {
                file: table.file.clone(),
                line: row.line,
                column: c + 1,
                name: table.header[c].clone(),
                value: cell.clone(),
                reason,
            })
        })?;
        TensorDataset::new(x, IdTensor::from_indices(&classes, &[classes.len()])?)
    }

    /// Loads a regression dataset from a file (see
    /// [`CsvOptions::regression_from_table`]).
    ///
    /// # Errors
    /// Those of [`CsvTable::read`] and [`CsvOptions::regression_from_table`].
    pub fn load_regression<T: Scalar>(
        &self,
        path: impl AsRef<Path>,
    ) -> Result<TensorDataset<Tensor<T>, Tensor<T>>> {
        self.check("CsvOptions::load_regression")?;
        self.regression_from_table(&CsvTable::read(path, self.delimiter)?)
    }

    /// Loads a classification dataset from a file (see
    /// [`CsvOptions::classification_from_table`]).
    ///
    /// # Errors
    /// Those of [`CsvTable::read`] and [`CsvOptions::classification_from_table`].
    pub fn load_classification<T: Scalar>(
        &self,
        path: impl AsRef<Path>,
    ) -> Result<TensorDataset<Tensor<T>, IdTensor>> {
        self.check("CsvOptions::load_classification")?;
        self.classification_from_table(&CsvTable::read(path, self.delimiter)?)
    }

    /// Loads a regression dataset from any reader (see [`CsvTable::from_reader`] and
    /// [`CsvOptions::regression_from_table`]); `file` names it in errors.
    ///
    /// ```
    /// use ferrograd_data::{Dataset, csv::CsvOptions};
    /// let csv: &[u8] = b"area,price\n50,100\n80,160\n";
    /// let ds = CsvOptions::new(&["area"], "price").read_regression::<f64>(csv, "houses.csv")?;
    /// assert_eq!(ds.targets().to_vec(), vec![100.0, 160.0]);
    /// # Ok::<(), ferrograd_data::DataError>(())
    /// ```
    ///
    /// # Errors
    /// Those of [`CsvTable::from_reader`] and [`CsvOptions::regression_from_table`].
    pub fn read_regression<T: Scalar>(
        &self,
        reader: impl Read,
        file: &str,
    ) -> Result<TensorDataset<Tensor<T>, Tensor<T>>> {
        self.check("CsvOptions::read_regression")?;
        self.regression_from_table(&CsvTable::from_reader(reader, file, self.delimiter)?)
    }

    /// Loads a classification dataset from any reader (see [`CsvTable::from_reader`]
    /// and [`CsvOptions::classification_from_table`]); `file` names it in errors.
    ///
    /// # Errors
    /// Those of [`CsvTable::from_reader`] and
    /// [`CsvOptions::classification_from_table`].
    pub fn read_classification<T: Scalar>(
        &self,
        reader: impl Read,
        file: &str,
    ) -> Result<TensorDataset<Tensor<T>, IdTensor>> {
        self.check("CsvOptions::read_classification")?;
        self.classification_from_table(&CsvTable::from_reader(reader, file, self.delimiter)?)
    }

    /// A regression dataset from CSV text; `file` names it in errors.
    ///
    /// # Errors
    /// Those of [`CsvTable::parse`] and [`CsvOptions::regression_from_table`].
    pub fn parse_regression<T: Scalar>(
        &self,
        text: &str,
        file: &str,
    ) -> Result<TensorDataset<Tensor<T>, Tensor<T>>> {
        self.regression_from_table(&CsvTable::parse(text, file, self.delimiter)?)
    }

    /// A classification dataset from CSV text; `file` names it in errors.
    ///
    /// # Errors
    /// Those of [`CsvTable::parse`] and [`CsvOptions::classification_from_table`].
    pub fn parse_classification<T: Scalar>(
        &self,
        text: &str,
        file: &str,
    ) -> Result<TensorDataset<Tensor<T>, IdTensor>> {
        self.classification_from_table(&CsvTable::parse(text, file, self.delimiter)?)
    }
}
