//! Chapter 2 of the book: language modeling basics — §2.1 bag of words, §2.2 word embeddings, §2.4–2.5 the
//! count-based language model, §2.6 evaluation (perplexity, ROUGE). Each section has a
//! function computing its numbers into a struct and functions drawing its figures;
//! [`run`] runs one section end to end for the program.
//!
//! Sections that learn from text take a [`Corpus`]: the built-in one (Shakespeare, the
//! public-domain `tinyshakespeare` corpus embedded in the program, so it works offline) or
//! any text file (`--corpus FILE`).

pub mod bag_of_words;
pub mod count_lm;
pub mod embeddings;
pub mod evaluation;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::error::{BookError, Result};
use crate::plot::Figures;
use crate::progress::Progress;

/// The built-in corpus: the plays of Shakespeare as in karpathy/char-rnn's
/// `tinyshakespeare` (1.1 MB, public domain; the copy in `ferrograd-lm`'s test data, see
/// its README for the source).
pub const SHAKESPEARE: &str = include_str!("../../../ferrograd-lm/tests/data/tinyshakespeare.txt");

/// The text a section learns from.
#[derive(Debug, Clone)]
pub struct Corpus {
    /// Where it came from, for the report.
    pub name: String,
    /// The text.
    pub text: String,
}

impl Corpus {
    /// The built-in Shakespeare corpus.
    pub fn builtin() -> Self {
        Self {
            name: "built-in tinyshakespeare (1.1 MB)".into(),
            text: SHAKESPEARE.to_string(),
        }
    }

    /// The text of `path` (UTF-8).
    ///
    /// # Errors
    /// [`BookError::Input`] naming the file when it cannot be read or is not UTF-8.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| BookError::Input(format!("{}: {e}", path.display())))?;
        Ok(Self {
            name: path.display().to_string(),
            text,
        })
    }

    /// The file's corpus, or the built-in one for `None`.
    ///
    /// # Errors
    /// As [`Corpus::from_file`].
    pub fn from_option(path: Option<&Path>) -> Result<Self> {
        path.map_or_else(|| Ok(Self::builtin()), Self::from_file)
    }
    /// An error of a model that learned from this corpus: one saying that something was
    /// empty (no tokens, no word frequent enough) is about the corpus, so it names the
    /// file; any other stays the model's error.
    pub fn lm_error(&self, e: ferrograd::lm::LmError) -> BookError {
        match e {
            ferrograd::lm::LmError::Empty { .. } => BookError::Input(format!("{}: {e}", self.name)),
            other => BookError::Lm(other),
        }
    }
}

/// The sections of chapter 2, in the book's order, as the program's subcommands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Section {
    /// §2.1 bag of words.
    BagOfWords,
    /// §2.2 word embeddings.
    WordEmbeddings,
    /// §2.4–2.5 the count-based language model.
    CountLm,
    /// §2.6 evaluating language models.
    Evaluation,
}

impl Section {
    /// Every section, in order.
    pub const ALL: [Section; 4] = [
        Section::BagOfWords,
        Section::WordEmbeddings,
        Section::CountLm,
        Section::Evaluation,
    ];

    /// The subcommand that runs this section.
    pub fn name(self) -> &'static str {
        match self {
            Section::BagOfWords => "bag-of-words",
            Section::WordEmbeddings => "word-embeddings",
            Section::CountLm => "count-lm",
            Section::Evaluation => "evaluation",
        }
    }

    /// A one-line title with the book's section number.
    pub fn title(self) -> &'static str {
        match self {
            Section::BagOfWords => "§2.1 bag of words: a document classifier",
            Section::WordEmbeddings => "§2.2 word embeddings: skip-gram with negative sampling",
            Section::CountLm => "§2.4–2.5 a count-based language model",
            Section::Evaluation => "§2.6 evaluating language models: perplexity and ROUGE",
        }
    }
}

/// What a chapter-2 run may be told on the command line.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The corpus file (`None`: the built-in one).
    pub corpus: Option<PathBuf>,
    /// Bag-of-words settings (a labelled file).
    pub bag_of_words: bag_of_words::Settings,
    /// Word-embedding settings.
    pub embeddings: embeddings::Settings,
    /// Count-model settings.
    pub count_lm: count_lm::Settings,
}

impl Options {
    /// Checks the options that `sections` use, reading no file (only whether the
    /// `--corpus` and `--data` paths are there): what the program does before it makes
    /// the output folder, so a usage error leaves none. Each section's own run checks the
    /// same again (its library's checks).
    ///
    /// ```
    /// use ferrograd_book::chapter2::{Options, Section};
    /// let mut options = Options::default();
    /// assert!(options.check(&Section::ALL).is_ok());
    /// options.count_lm.n = 0;
    /// assert_eq!(options.check(&[Section::BagOfWords]), Ok(())); // count-lm does not run
    /// let message = options.check(&[Section::CountLm]).unwrap_err();
    /// assert_eq!(&message[..25], "count-lm: invalid n = 0 (");
    /// ```
    ///
    /// # Errors
    /// A message naming the first section with a bad option (as the section's own errors
    /// do), the option and its value.
    pub fn check(&self, sections: &[Section]) -> std::result::Result<(), String> {
        for &section in sections {
            self.check_section(section)
                .map_err(|e| format!("{}: {e}", section.name()))?;
        }
        Ok(())
    }

    fn check_section(&self, section: Section) -> std::result::Result<(), String> {
        match section {
            Section::BagOfWords => return self.bag_of_words.check(),
            Section::WordEmbeddings => self.embeddings.check()?,
            Section::CountLm | Section::Evaluation => {
                if self.count_lm.n == 0 {
                    return Err(
                        "invalid n = 0 (option --n): the highest n-gram order must be \
                                at least 1 (unigrams)"
                            .into(),
                    );
                }
                if self.count_lm.n > count_lm::MAX_ORDER {
                    return Err(format!(
                        "invalid n = {} (option --n): at most {}; the section trains, \
                         evaluates and reports one model per order 1..=n",
                        self.count_lm.n,
                        count_lm::MAX_ORDER
                    ));
                }
            }
        }
        match &self.corpus {
            Some(corpus) => crate::files::check_input_file("corpus", corpus),
            None => Ok(()),
        }
    }
}

/// What running a section produced.
#[derive(Debug, Clone)]
pub struct Output {
    /// The section.
    pub section: Section,
    /// The report the program prints.
    pub text: String,
    /// The section's numbers as JSON.
    pub json: serde_json::Value,
    /// The files written (figures, vectors).
    pub files: Vec<PathBuf>,
}

/// Runs `section`: computes its numbers, writes its figures (and files) with `figures`,
/// and formats the report.
///
/// # Errors
/// A [`BookError`] when the corpus cannot be read, a model rejects its input, or a figure
/// cannot be written.
pub fn run(
    section: Section,
    options: &Options,
    figures: &Figures,
    progress: &Progress,
) -> Result<Output> {
    let mut t = String::new();
    let corpus = || Corpus::from_option(options.corpus.as_deref());
    let (json, files) = match section {
        Section::BagOfWords => {
            let r = bag_of_words::bag_of_words(&options.bag_of_words, progress)?;
            bag_of_words::report(&r, &mut t);
            let files = vec![
                bag_of_words::draw_loss(&r, figures)?,
                bag_of_words::draw_confusion(&r, figures)?,
            ];
            (serde_json::to_value(&r).unwrap_or_default(), files)
        }
        Section::WordEmbeddings => {
            let r = embeddings::word_embeddings(&corpus()?, &options.embeddings, progress)?;
            embeddings::report(&r, &mut t);
            let mut files = Vec::new();
            let vectors = figures.path("word_vectors.txt");
            r.vectors.save_word2vec_text(&vectors)?;
            files.push(vectors);
            files.push(embeddings::draw_pca(&r, figures)?);
            (serde_json::to_value(&r).unwrap_or_default(), files)
        }
        Section::CountLm => {
            let book = count_lm::book_example()?;
            let r = count_lm::count_lm(&corpus()?, &options.count_lm)?;
            count_lm::report(&book, &r, &mut t);
            let files = vec![count_lm::draw_perplexity(&r, figures)?];
            (json!({ "book_example": book, "corpus": r }), files)
        }
        Section::Evaluation => {
            let r = evaluation::evaluation(&corpus()?, &options.count_lm)?;
            evaluation::report(&r, &mut t);
            let files = vec![evaluation::draw_rouge(&r, figures)?];
            (serde_json::to_value(&r).unwrap_or_default(), files)
        }
    };
    let _ = write!(t, "");
    Ok(Output {
        section,
        json: json!({
            "section": section.name(),
            "title": section.title(),
            "results": json,
            "files": files,
        }),
        text: t,
        files,
    })
}
