//! The book's §2.1 document classifier: bag-of-words vectors (vocabulary from
//! [`ferrograd_tokenize::BagOfWords`]) into `Linear(V, 50) → ReLU → Linear(50, classes)`,
//! trained with cross-entropy and SGD — on the book's ten documents, or on any labelled
//! text file (one `text<TAB>label` per line) with a train/test split, accuracy and a
//! confusion matrix.
//!
//! ```
//! use ferrograd_lm::bow::{BOOK_DOCS, BOOK_LABELS, BOOK_NEW_DOCS, BowClassifier, BowConfig};
//!
//! // The book's settings (hidden 50, lr 0.001, 3000 full-batch steps); initial weights from
//! // seed 2. So short a training leaves the answer for new sentences dependent on the
//! // initial weights, in PyTorch too (see `tests/bow_replay.rs`).
//! let config = BowConfig { seed: 2, ..BowConfig::default() };
//! let (model, losses) = BowClassifier::train(&BOOK_DOCS, &BOOK_LABELS, &config, &mut |_, _| {})?;
//! assert_eq!(model.vocabulary().len(), 26);
//! assert!(losses.last() < losses.first());
//! assert_eq!(model.predict(&BOOK_NEW_DOCS)?, ["Music", "Science"]);
//! # Ok::<(), ferrograd_lm::LmError>(())
//! ```

use std::path::Path;

use ferrograd_nn::{CrossEntropyLoss, Forward, Linear, Module, Relu, Sequential};
use ferrograd_optim::{Optimizer, Sgd, SgdConfig};
use ferrograd_tensor::{IdTensor, Rng, Tensor, no_grad};
use ferrograd_tokenize::BagOfWords;

use crate::error::{LmError, Result, invalid};

/// The book's ten documents (§2.1).
pub const BOOK_DOCS: [&str; 10] = [
    "Movies are fun for everyone.",
    "Watching movies is great fun.",
    "Enjoy a great movie today.",
    "Research is interesting and important.",
    "Learning math is very important.",
    "Science discovery is interesting.",
    "Rock is great to listen to.",
    "Listen to music for fun.",
    "Music is fun for everyone.",
    "Listen to folk music!",
];

/// Their classes.
pub const BOOK_LABELS: [&str; 10] = [
    "Cinema", "Cinema", "Cinema", "Science", "Science", "Science", "Music", "Music", "Music",
    "Music",
];

/// The book's two new documents; it classifies them as Music and Science.
pub const BOOK_NEW_DOCS: [&str; 2] = ["Listening to rock is fun.", "I hate science."];

/// Training settings; the defaults are the book's.
#[derive(Debug, Clone, PartialEq)]
pub struct BowConfig {
    /// Hidden units (50).
    pub hidden: usize,
    /// SGD learning rate (0.001).
    pub lr: f64,
    /// Optimisation steps (3000).
    pub steps: usize,
    /// Documents per step; `None` is the whole training set each step (the book's).
    pub batch_size: Option<usize>,
    /// Seed of the initial weights and of the batch order (0; PyTorch's
    /// `nn.Linear` initialisation, drawn from ferrograd's generator).
    pub seed: u64,
}

impl Default for BowConfig {
    fn default() -> Self {
        Self {
            hidden: 50,
            lr: 0.001,
            steps: 3000,
            batch_size: None,
            seed: 0,
        }
    }
}

/// A trained bag-of-words classifier.
#[derive(Debug)]
pub struct BowClassifier {
    bow: BagOfWords,
    classes: Vec<String>,
    model: Sequential<f32>,
}

/// Accuracy and confusion matrix of a classifier on labelled documents.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// The classes, in the classifier's order.
    pub classes: Vec<String>,
    /// `confusion[true][predicted]`: how many documents of class `true` were predicted as
    /// `predicted`.
    pub confusion: Vec<Vec<usize>>,
    /// Correct predictions over all documents.
    pub accuracy: f64,
    /// Documents evaluated.
    pub total: usize,
}

impl BowClassifier {
    /// Trains on `docs` and their `labels`; the classes are the labels in first-seen order.
    /// `on_step(step, loss)` is called after each step. Returns the classifier and the loss
    /// before each step.
    ///
    /// # Errors
    /// [`LmError::Empty`] for no documents or a vocabulary without words;
    /// [`LmError::InvalidConfig`] for mismatched lengths or bad settings;
    /// [`LmError::NonFiniteLoss`] when training diverges (a learning rate far too large).
    pub fn train<S: AsRef<str>, L: AsRef<str>>(
        docs: &[S],
        labels: &[L],
        config: &BowConfig,
        on_step: &mut dyn FnMut(usize, f64),
    ) -> Result<(Self, Vec<f64>)> {
        let mut classes: Vec<String> = Vec::new();
        for l in labels {
            if !classes.iter().any(|c| c == l.as_ref()) {
                classes.push(l.as_ref().to_string());
            }
        }
        Self::train_with_classes(docs, labels, &classes, config, on_step)
    }

    /// [`BowClassifier::train`] with the classes given (so that a class missing from a
    /// training split still has its output).
    ///
    /// # Errors
    /// As [`BowClassifier::train`], and [`LmError::InvalidConfig`] for a label not in
    /// `classes`.
    pub fn train_with_classes<S: AsRef<str>, L: AsRef<str>>(
        docs: &[S],
        labels: &[L],
        classes: &[String],
        config: &BowConfig,
        on_step: &mut dyn FnMut(usize, f64),
    ) -> Result<(Self, Vec<f64>)> {
        Self::train_from(docs, labels, classes, config, None, on_step)
    }

    /// [`BowClassifier::train_with_classes`] starting from given weights
    /// `[W₁ (hidden × V), b₁, W₂ (classes × hidden), b₂]`, PyTorch's `state_dict` order
    /// (to replay a PyTorch run).
    ///
    /// # Errors
    /// As [`BowClassifier::train_with_classes`], and [`LmError::InvalidConfig`] for weights
    /// of the wrong shapes.
    pub fn train_from<S: AsRef<str>, L: AsRef<str>>(
        docs: &[S],
        labels: &[L],
        classes: &[String],
        config: &BowConfig,
        init: Option<&[Tensor<f32>; 4]>,
        on_step: &mut dyn FnMut(usize, f64),
    ) -> Result<(Self, Vec<f64>)> {
        const OP: &str = "BowClassifier::train";
        if docs.is_empty() {
            return Err(LmError::Empty {
                op: OP,
                what: "the training documents",
            });
        }
        if docs.len() != labels.len() {
            return Err(invalid(
                OP,
                "labels",
                labels.len(),
                format!("one label per document ({} documents)", docs.len()),
            ));
        }
        if config.hidden == 0 || config.steps == 0 || config.batch_size == Some(0) {
            return Err(invalid(
                OP,
                "config",
                format!("{config:?}"),
                "hidden units, steps and batch size must be at least 1",
            ));
        }
        if !(config.lr.is_finite() && config.lr > 0.0) {
            return Err(invalid(OP, "lr", config.lr, "must be a positive number"));
        }
        let bow = BagOfWords::fit(docs);
        if bow.vocabulary().is_empty() {
            return Err(LmError::Empty {
                op: OP,
                what: "the vocabulary (the documents have no words)",
            });
        }
        let targets = class_ids(OP, labels, classes)?;
        let mut rng = Rng::new(config.seed);
        let v = bow.vocabulary().len();
        // model = Sequential(Linear(V, 50), ReLU(), Linear(50, classes))
        let (first, second) = match init {
            Some([w1, b1, w2, b2]) => {
                let shapes = [
                    (w1.shape(), [config.hidden, v]),
                    (w2.shape(), [classes.len(), config.hidden]),
                ];
                if let Some((got, want)) = shapes.iter().find(|(g, w)| *g != w) {
                    return Err(invalid(
                        OP,
                        "initial weight",
                        format!("{got:?}"),
                        format!("must have shape {want:?}"),
                    ));
                }
                (
                    Linear::from_tensors(w1.clone(), Some(b1.clone()))?,
                    Linear::from_tensors(w2.clone(), Some(b2.clone()))?,
                )
            }
            None => (
                Linear::new(v, config.hidden, &mut rng),
                Linear::new(config.hidden, classes.len(), &mut rng),
            ),
        };
        let model = Sequential::new().push(first).push(Relu).push(second);
        let classifier = Self {
            bow,
            classes: classes.to_vec(),
            model,
        };
        let vectors: Vec<Vec<u32>> = docs
            .iter()
            .map(|d| classifier.bow.binary(d.as_ref()))
            .collect();
        let criterion = CrossEntropyLoss::new();
        let mut optimizer = Sgd::new(classifier.model.parameters(), SgdConfig::new(config.lr))?;
        let batch = config.batch_size.unwrap_or(docs.len()).min(docs.len());
        let mut order: Vec<usize> = (0..docs.len()).collect();
        let mut cursor = docs.len();
        let mut losses = Vec::with_capacity(config.steps);
        for step in 0..config.steps {
            let rows: Vec<usize> = if batch == docs.len() {
                order.clone()
            } else {
                if cursor + batch > docs.len() {
                    rng.shuffle(&mut order);
                    cursor = 0;
                }
                cursor += batch;
                order[cursor - batch..cursor].to_vec()
            };
            let x = dense(&vectors, &rows, v)?;
            let y = IdTensor::new(
                rows.iter().map(|&r| targets[r] as i64).collect(),
                &[rows.len()],
            )?;
            // optimizer.zero_grad(); loss = criterion(model(x), y); loss.backward(); step()
            let loss = criterion.forward(&classifier.model.forward(&x)?, &y)?;
            let value = f64::from(loss.item()?);
            if !value.is_finite() {
                // Diverged (a learning rate far too large): stop, rather than return a
                // model of NaNs that predicts class 0 for everything.
                return Err(LmError::NonFiniteLoss {
                    step: step as u64 + 1,
                    loss: value,
                });
            }
            losses.push(value);
            // The graph is freed before the step, so the parameters update in place.
            optimizer.step(&loss.backward_free()?)?;
            on_step(step, value);
        }
        Ok((classifier, losses))
    }

    /// The vocabulary (sorted), from [`BagOfWords`].
    pub fn vocabulary(&self) -> &[String] {
        self.bow.vocabulary()
    }

    /// The classes, in output order.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// The model's scores (logits) for each document, `[docs, classes]` row-major.
    ///
    /// # Errors
    /// A tensor or layer error (not expected for documents of any text).
    pub fn logits<S: AsRef<str>>(&self, docs: &[S]) -> Result<Vec<Vec<f32>>> {
        if docs.is_empty() {
            return Ok(Vec::new());
        }
        let vectors: Vec<Vec<u32>> = docs.iter().map(|d| self.bow.binary(d.as_ref())).collect();
        let rows: Vec<usize> = (0..docs.len()).collect();
        let x = dense(&vectors, &rows, self.vocabulary().len())?;
        let out = no_grad(|| self.model.forward(&x))?;
        let k = self.classes.len();
        Ok(out.to_vec().chunks(k).map(<[f32]>::to_vec).collect())
    }

    /// The predicted class of each document (the highest score; the first class on
    /// ties). Words outside the vocabulary are ignored, so a document of unknown words
    /// gets the class the biases favour.
    ///
    /// # Errors
    /// As [`BowClassifier::logits`].
    pub fn predict<S: AsRef<str>>(&self, docs: &[S]) -> Result<Vec<&str>> {
        Ok(self
            .logits(docs)?
            .iter()
            .map(|row| {
                let best = row
                    .iter()
                    .enumerate()
                    .fold(0, |b, (i, &s)| if s > row[b] { i } else { b });
                self.classes[best].as_str()
            })
            .collect())
    }

    /// Accuracy and confusion matrix on labelled documents.
    ///
    /// # Errors
    /// [`LmError::InvalidConfig`] for a label that is not one of the classes, or
    /// mismatched lengths.
    pub fn evaluate<S: AsRef<str>, L: AsRef<str>>(
        &self,
        docs: &[S],
        labels: &[L],
    ) -> Result<Evaluation> {
        const OP: &str = "BowClassifier::evaluate";
        if docs.len() != labels.len() {
            return Err(invalid(
                OP,
                "labels",
                labels.len(),
                format!("one label per document ({} documents)", docs.len()),
            ));
        }
        let truth = class_ids(OP, labels, &self.classes)?;
        let predicted = self.predict(docs)?;
        let k = self.classes.len();
        let mut confusion = vec![vec![0usize; k]; k];
        let mut correct = 0;
        for (&t, p) in truth.iter().zip(&predicted) {
            let p = self.classes.iter().position(|c| c == p).unwrap_or(0);
            confusion[t][p] += 1;
            correct += usize::from(t == p);
        }
        Ok(Evaluation {
            classes: self.classes.clone(),
            confusion,
            accuracy: if docs.is_empty() {
                0.0
            } else {
                correct as f64 / docs.len() as f64
            },
            total: docs.len(),
        })
    }
}

fn class_ids<L: AsRef<str>>(
    op: &'static str,
    labels: &[L],
    classes: &[String],
) -> Result<Vec<usize>> {
    labels
        .iter()
        .enumerate()
        .map(|(i, l)| {
            classes.iter().position(|c| c == l.as_ref()).ok_or_else(|| {
                invalid(
                    op,
                    "label",
                    format!("{:?} (document {i})", l.as_ref()),
                    format!("must be one of the classes {classes:?}"),
                )
            })
        })
        .collect()
}

/// The rows `rows` of the binary vectors as a dense `[rows, v]` tensor.
fn dense(vectors: &[Vec<u32>], rows: &[usize], v: usize) -> Result<Tensor<f32>> {
    let mut data = Vec::with_capacity(rows.len() * v);
    for &r in rows {
        data.extend(vectors[r].iter().map(|&x| x as f32));
    }
    Ok(Tensor::from_vec(data, &[rows.len(), v])?)
}

/// Reads a labelled text file: one document per line, `text<TAB>label` (the label after
/// the last tab); blank lines are skipped.
///
/// # Errors
/// [`LmError::Io`] when the file cannot be read; [`LmError::Parse`] naming the line for a
/// line without a tab or with an empty label; [`LmError::EmptyFile`] naming the file for
/// no documents.
pub fn read_labelled_file(path: impl AsRef<Path>) -> Result<Vec<(String, String)>> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| LmError::Io {
        op: "read_labelled_file",
        path: path.to_path_buf(),
        source,
    })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let parse = |reason: &str| LmError::Parse {
            path: path.to_path_buf(),
            line: i + 1,
            reason: reason.to_string(),
        };
        let (doc, label) = line
            .rsplit_once('\t')
            .ok_or_else(|| parse("no tab between the text and the label"))?;
        let label = label.trim();
        if label.is_empty() {
            return Err(parse("empty label"));
        }
        out.push((doc.to_string(), label.to_string()));
    }
    if out.is_empty() {
        return Err(LmError::EmptyFile {
            op: "read_labelled_file",
            path: path.to_path_buf(),
            reason: "no labelled lines (one `text<TAB>label` per line)",
        });
    }
    Ok(out)
}

/// Shuffles `items` with `seed` and splits off the last `⌊len · test_fraction⌋` for
/// testing: `(train, test)`.
///
/// # Errors
/// [`LmError::InvalidConfig`] for a fraction outside `[0, 1)`.
pub fn shuffled_split<T: Clone>(
    items: &[T],
    test_fraction: f64,
    seed: u64,
) -> Result<(Vec<T>, Vec<T>)> {
    if !(0.0..1.0).contains(&test_fraction) {
        return Err(invalid(
            "shuffled_split",
            "test_fraction",
            test_fraction,
            "must be within [0, 1)",
        ));
    }
    let mut order: Vec<usize> = (0..items.len()).collect();
    Rng::new(seed).shuffle(&mut order);
    let test = (items.len() as f64 * test_fraction) as usize;
    let (train, test) = order.split_at(items.len() - test);
    Ok((
        train.iter().map(|&i| items[i].clone()).collect(),
        test.iter().map(|&i| items[i].clone()).collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_book_classifier_learns_its_documents() {
        let (model, losses) = BowClassifier::train(
            &BOOK_DOCS,
            &BOOK_LABELS,
            &BowConfig::default(),
            &mut |_, _| {},
        )
        .unwrap();
        assert_eq!(losses.len(), 3000);
        // Cross-entropy of three classes at random starts near ln 3 ≈ 1.0986.
        assert!((losses[0] - 3f64.ln()).abs() < 0.2, "{}", losses[0]);
        assert!(losses[2999] < losses[0]);
        let e = model.evaluate(&BOOK_DOCS, &BOOK_LABELS).unwrap();
        assert_eq!(e.accuracy, 1.0);
        assert_eq!(e.confusion, [[3, 0, 0], [0, 3, 0], [0, 0, 4]]);
    }

    #[test]
    fn bad_input_is_an_error() {
        let none: [&str; 0] = [];
        let config = BowConfig::default();
        assert!(matches!(
            BowClassifier::train(&none, &none, &config, &mut |_, _| {}),
            Err(LmError::Empty { .. })
        ));
        assert!(BowClassifier::train(&["a"], &["x", "y"], &config, &mut |_, _| {}).is_err());
        assert!(matches!(
            BowClassifier::train(&["...", "!"], &["x", "y"], &config, &mut |_, _| {}),
            Err(LmError::Empty { .. })
        ));
        let bad = BowConfig {
            lr: f64::NAN,
            ..BowConfig::default()
        };
        assert!(BowClassifier::train(&["a b"], &["x"], &bad, &mut |_, _| {}).is_err());
        // A learning rate that makes the loss overflow: an error at the step it happened,
        // not a model of NaNs.
        let huge = BowConfig {
            lr: 1e30,
            steps: 50,
            ..BowConfig::default()
        };
        let diverged = BowClassifier::train(&["a b", "c d"], &["x", "y"], &huge, &mut |_, _| {});
        assert!(
            matches!(diverged, Err(LmError::NonFiniteLoss { step, .. }) if step > 1),
            "{diverged:?}"
        );
        let small = BowConfig {
            steps: 5,
            ..BowConfig::default()
        };
        let (m, _) =
            BowClassifier::train(&["a b", "c"], &["x", "y"], &small, &mut |_, _| {}).unwrap();
        assert!(matches!(
            m.evaluate(&["a"], &["z"]),
            Err(LmError::InvalidConfig { .. })
        ));
        assert_eq!(m.predict(&["zzz unknown"]).unwrap().len(), 1);
    }

    #[test]
    fn labelled_files_and_splits() {
        let dir = std::env::temp_dir().join(format!("ferrograd-lm-bow-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("data.tsv");
        std::fs::write(&path, "good film\tpos\n\nbad\tfilm\tneg\n").unwrap();
        let rows = read_labelled_file(&path).unwrap();
        assert_eq!(rows[1], ("bad\tfilm".to_string(), "neg".to_string()));
        std::fs::write(&path, "ok\tpos\nno tab here\n").unwrap();
        assert!(matches!(
            read_labelled_file(&path),
            Err(LmError::Parse { line: 2, .. })
        ));
        std::fs::write(&path, "text\t \n").unwrap();
        assert!(matches!(
            read_labelled_file(&path),
            Err(LmError::Parse { line: 1, .. })
        ));
        std::fs::write(&path, "\n").unwrap();
        let empty = read_labelled_file(&path).unwrap_err();
        assert!(matches!(empty, LmError::EmptyFile { .. }));
        assert!(empty.to_string().contains("data.tsv"), "{empty}");
        let (train, test) = shuffled_split(&(0..10).collect::<Vec<_>>(), 0.3, 1).unwrap();
        assert_eq!((train.len(), test.len()), (7, 3));
        let mut all: Vec<i32> = train.iter().chain(&test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        assert!(shuffled_split(&[1], 1.0, 0).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
