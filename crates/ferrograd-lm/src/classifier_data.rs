//! The emotion classification data of §5.3 (text → one of six emotions): the `text;label`
//! files of the dair-ai "emotion" dataset, and a small synthetic look-alike for tests and
//! offline runs.
//!
//! The real data is for research and education only (dair-ai's licence): ferrograd never
//! ships it. [`EmotionData::load`] reads it from wherever the user keeps it (this
//! machine: `/work/shared/data/emotion/`); [`EmotionData::synthetic`] makes sentences of
//! the same shape ("i feel so … because …", six labels in the real data's proportions,
//! some without a cue word and some with a misleading one), so every example and test runs
//! without it.
//!
//! ```
//! use ferrograd_lm::classifier_data::EmotionData;
//! let data = EmotionData::synthetic(600, 200, 7);
//! assert_eq!(data.labels, ["anger", "fear", "joy", "love", "sadness", "surprise"]);
//! assert_eq!((data.train.len(), data.test.len()), (600, 200));
//! assert!(data.train[0].text.starts_with("i") || data.train[0].text.starts_with("im"));
//! ```

use crate::error::{LmError, Result};
use ferrograd_tensor::Rng;
use std::path::{Path, PathBuf};

/// One labelled text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// The text (lower case, no punctuation, as the dataset has it).
    pub text: String,
    /// Index into [`EmotionData::labels`].
    pub label: usize,
}

/// Train and test examples and the sorted label names.
#[derive(Debug, Clone, PartialEq)]
pub struct EmotionData {
    /// Label names, sorted (the book's `sorted(set(labels))`), so label ids are stable.
    pub labels: Vec<String>,
    /// Training examples.
    pub train: Vec<Example>,
    /// Test examples.
    pub test: Vec<Example>,
    /// Where it came from (a directory, or "synthetic").
    pub source: String,
}

/// Reads one `text;label` file: a header line `text;label_name`, then one row per line,
/// split on the **last** `;` (texts may contain `;`). Empty lines are skipped.
///
/// # Errors
/// [`LmError::Io`] when unreadable; [`LmError::Parse`] naming the file and line for a
/// missing header, a row without `;`, or an empty text or label; [`LmError::EmptyFile`]
/// for a file with no row.
pub fn read_labelled_file(path: &Path) -> Result<Vec<(String, String)>> {
    Ok(read_rows(path)?
        .into_iter()
        .map(|row| (row.text, row.label))
        .collect())
}

/// One row of a labelled file and the line it is on.
struct Row {
    line: usize,
    text: String,
    label: String,
}

/// [`read_labelled_file`], keeping each row's line number (for later errors).
fn read_rows(path: &Path) -> Result<Vec<Row>> {
    let text = std::fs::read_to_string(path).map_err(|source| LmError::Io {
        op: "read_labelled_file",
        path: path.to_path_buf(),
        source,
    })?;
    let parse = |line: usize, reason: String| LmError::Parse {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, header)) if header.trim_end() == "text;label_name" => {}
        Some((_, header)) => {
            return Err(parse(
                1,
                format!("expected the header `text;label_name`, found {header:?}"),
            ));
        }
        None => return Err(parse(1, "the file is empty".into())),
    }
    let mut rows = Vec::new();
    for (i, line) in lines {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        let Some((text, label)) = line.rsplit_once(';') else {
            return Err(parse(i + 1, "no `;` between text and label".into()));
        };
        if text.trim().is_empty() || label.trim().is_empty() {
            return Err(parse(i + 1, "empty text or label".into()));
        }
        rows.push(Row {
            line: i + 1,
            text: text.to_string(),
            label: label.trim().to_string(),
        });
    }
    if rows.is_empty() {
        return Err(LmError::EmptyFile {
            op: "read_labelled_file",
            path: path.to_path_buf(),
            reason: "a header and no `text;label` row",
        });
    }
    Ok(rows)
}

impl EmotionData {
    /// The real split from `dir`: `train.txt` and `val.txt` together as the training set
    /// (18,000 rows, the size the book trains on), `test.txt` (2,000) as the test set.
    ///
    /// # Errors
    /// As [`read_labelled_file`]; [`LmError::Parse`] for a test label never seen in
    /// training.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let files = ["train.txt", "val.txt", "test.txt"].map(|f| dir.join(f));
        let (train, val, test) = (
            read_rows(&files[0])?,
            read_rows(&files[1])?,
            read_rows(&files[2])?,
        );
        let mut labels: Vec<String> = train
            .iter()
            .chain(&val)
            .map(|row| row.label.clone())
            .collect();
        labels.sort();
        labels.dedup();
        let index = |rows: Vec<Row>, file: &Path| -> Result<Vec<Example>> {
            rows.into_iter()
                .map(|row| {
                    let id = labels
                        .binary_search(&row.label)
                        .map_err(|_| LmError::Parse {
                            path: file.to_path_buf(),
                            line: row.line,
                            reason: format!("label {:?} never appears in training", row.label),
                        })?;
                    Ok(Example {
                        text: row.text,
                        label: id,
                    })
                })
                .collect()
        };
        let mut examples = index(train, &files[0])?;
        examples.extend(index(val, &files[1])?);
        Ok(Self {
            train: examples,
            test: index(test, &files[2])?,
            labels,
            source: dir.display().to_string(),
        })
    }

    /// The shared copy on this project's machines, when it is there:
    /// `$FERROGRAD_EMOTION_DIR`, else `/work/shared/data/emotion`.
    pub fn shared_dir() -> Option<PathBuf> {
        let dir = std::env::var_os("FERROGRAD_EMOTION_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/work/shared/data/emotion"));
        dir.join("test.txt").is_file().then_some(dir)
    }

    /// A synthetic look-alike: `train` and `test` sentences drawn with `seed`, labels in
    /// the real training set's proportions (joy 34%, sadness 29%, anger 13%, fear 12%,
    /// love 8%, surprise 4%). About 80% of sentences carry a cue word of their emotion;
    /// the rest carry none or one of another emotion, so no classifier is perfect (a
    /// bag-of-words model gets ~85–90%).
    pub fn synthetic(train: usize, test: usize, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let labels: Vec<String> = LABELS.iter().map(|l| l.to_string()).collect();
        let mut make = |n: usize| (0..n).map(|_| synthetic_example(&mut rng)).collect();
        Self {
            train: make(train),
            test: make(test),
            labels,
            source: "synthetic".into(),
        }
    }

    /// How many examples of each label `examples` holds (one entry per label name, more
    /// if an example's label is past them).
    pub fn counts(&self, examples: &[Example]) -> Vec<usize> {
        // An example's label past the names (the fields are public) widens the counts
        // rather than panicking.
        let len = examples
            .iter()
            .map(|e| e.label + 1)
            .max()
            .unwrap_or(0)
            .max(self.labels.len());
        let mut c = vec![0; len];
        for e in examples {
            c[e.label] += 1;
        }
        c
    }
}

const LABELS: [&str; 6] = ["anger", "fear", "joy", "love", "sadness", "surprise"];
/// Label shares in the real training file, per mille, in `LABELS` order.
const SHARES: [u32; 6] = [135, 121, 335, 82, 292, 35];

const CUES: [&[&str]; 6] = [
    &[
        "angry",
        "furious",
        "irritated",
        "annoyed",
        "mad",
        "resentful",
        "bitter",
        "hostile",
    ],
    &[
        "afraid",
        "scared",
        "anxious",
        "nervous",
        "terrified",
        "worried",
        "frightened",
        "uneasy",
    ],
    &[
        "happy",
        "glad",
        "cheerful",
        "delighted",
        "excited",
        "content",
        "joyful",
        "pleased",
    ],
    &[
        "loving",
        "affectionate",
        "tender",
        "caring",
        "passionate",
        "romantic",
        "devoted",
        "fond",
    ],
    &[
        "sad",
        "lonely",
        "miserable",
        "depressed",
        "gloomy",
        "hopeless",
        "unhappy",
        "heartbroken",
    ],
    &[
        "surprised",
        "amazed",
        "astonished",
        "shocked",
        "stunned",
        "startled",
        "curious",
        "overwhelmed",
    ],
];

const OPENINGS: [&str; 6] = [
    "i feel",
    "i feel so",
    "im feeling",
    "i am feeling really",
    "i have been feeling",
    "i can not help feeling",
];

const REASONS: [&str; 16] = [
    "about my job",
    "when i think of my family",
    "after the long week",
    "because of the weather",
    "since we moved to the city",
    "when i read the news",
    "about the exam tomorrow",
    "around my friends",
    "every morning",
    "about what happened at school",
    "when he called me",
    "after talking to my mother",
    "about the trip",
    "at work today",
    "when i look at old photos",
    "and i do not know why",
];

fn synthetic_example(rng: &mut Rng) -> Example {
    let mut pick = rng.below(1000) as u32;
    let mut label = 0;
    for (i, &share) in SHARES.iter().enumerate() {
        if pick < share {
            label = i;
            break;
        }
        pick -= share;
        label = i;
    }
    let opening = OPENINGS[rng.below(OPENINGS.len())];
    let reason = REASONS[rng.below(REASONS.len())];
    let roll = rng.below(100);
    let cue = if roll < 82 {
        CUES[label][rng.below(CUES[label].len())]
    } else if roll < 92 {
        // a misleading cue from another emotion
        let other = (label + 1 + rng.below(5)) % 6;
        CUES[other][rng.below(CUES[other].len())]
    } else {
        ["strange", "different", "tired", "quiet"][rng.below(4)]
    };
    Example {
        text: format!("{opening} {cue} {reason}"),
        label,
    }
}
