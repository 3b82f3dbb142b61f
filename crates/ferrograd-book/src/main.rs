//! `ferrograd-book`: the examples of *The Hundred-Page Language Models Book*, chapter by
//! chapter and section by section.
//!
//! ```text
//! ferrograd-book all                                   # every chapter, built-in data
//! ferrograd-book chapter1 [SECTION] [--out DIR] [--json] [--quiet]
//! ferrograd-book chapter2 [SECTION] [--corpus FILE] ...
//! ferrograd-book chapter3 [SECTION] [--corpus FILE] [--full] [--steps N] ...
//! ferrograd-book chapter4 [SECTION] [--corpus FILE] [--full] [--steps N] ...
//! ferrograd-book chapter5 [SECTION] [--model DIR] [--data DIR] [--epochs N] ...
//! ```
//!
//! Run `ferrograd-book --help` (or `ferrograd-book chapter2 --help`) for the sections and
//! their options.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, CommandFactory, Parser, Subcommand};
use ferrograd_book::chapter2::{self, bag_of_words, embeddings};
use ferrograd_book::chapter3;
use ferrograd_book::chapter4;
use ferrograd_book::chapter5;
use ferrograd_book::{Figures, Progress, Section, run_section};

const AFTER_HELP: &str = "\
Figures use DejaVu Sans from the system (Debian: fonts-dejavu-core); set
FERROGRAD_BOOK_FONT=/path/to/font.ttf to use another. Without a font the figures are
drawn without text.";

/// The examples of The Hundred-Page Language Models Book (A. Burkov), run on ferrograd:
/// the numbers the book prints and the figures it draws.
#[derive(Debug, Parser)]
#[command(name = "ferrograd-book", version, after_help = AFTER_HELP)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
struct Common {
    /// Where the PNG figures (and other files) go
    #[arg(long, global = true, value_name = "DIR", default_value = "book-output")]
    out: PathBuf,
    /// Print the numbers as one JSON object instead of text
    #[arg(long, global = true)]
    json: bool,
    /// No progress bars (they are also hidden when stderr is not a terminal)
    #[arg(long, short, global = true)]
    quiet: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Every chapter that has landed, each section in order, on built-in data
    All,
    /// Chapter 1: a model, linear regression, vectors, networks, matrices, logistic
    /// regression, autodiff (every section if none is named)
    Chapter1 {
        #[command(subcommand)]
        section: Option<Chapter1>,
    },
    /// Chapter 2: bag of words, word embeddings, the count-based language model,
    /// evaluation (every section if none is named)
    Chapter2(Chapter2Args),
    /// Chapter 3: the Elman RNN, the RNN language model, the text pipeline, training
    /// with held-out perplexity and generation (every section if none is named)
    Chapter3(Box<chapter3::Args>),
    /// Chapter 4: causal self-attention, RoPE, the decoder language model, generation
    /// with the KV cache, training (every section if none is named)
    Chapter4(Box<chapter4::Args>),
    /// Chapter 5: GPT-2 checkpoints, sampling, finetuning, LoRA, an LM as a classifier
    /// (every section if none is named)
    Chapter5(Chapter5Args),
}

#[derive(Debug, Args)]
struct Chapter5Args {
    /// A Hugging Face GPT-2 checkpoint directory (default: the built-in tiny random GPT-2)
    #[arg(long, global = true, value_name = "DIR")]
    model: Option<PathBuf>,
    /// The emotion data directory (train.txt, val.txt, test.txt as `text;label`; default:
    /// a synthetic look-alike)
    #[arg(long, global = true, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Passes over the training examples [default: 4]
    #[arg(long, global = true)]
    epochs: Option<usize>,
    /// Use at most this many training examples (0: all) [default: 0]
    #[arg(long, global = true)]
    max_train: Option<usize>,
    /// Use at most this many test examples (0: all) [default: 0]
    #[arg(long, global = true)]
    max_test: Option<usize>,
    /// The prompt the `gpt2` section continues [default: "Hello, my name is"]
    #[arg(long, global = true)]
    prompt: Option<String>,
    /// Seed of initial weights and draws [default: 1]
    #[arg(long, global = true)]
    seed: Option<u64>,
    #[command(subcommand)]
    section: Option<Chapter5>,
}

#[derive(Debug, Clone, Copy, Subcommand)]
enum Chapter5 {
    /// §5.1 load a checkpoint, count parameters, greedy generation with/without the cache
    Gpt2,
    /// §5.4 the book's temperature values, top-k, top-p, seeded draws
    Sampling,
    /// §5.2–5.3 emotion as text generation (exact match), ChatML with <|im_end|>
    Finetune,
    /// §5.5 LoRA counts, adapter training, merging, PEFT's adapter files
    Lora,
    /// §5.3.1, §5.6 bag-of-words baseline, GPT-2 as a classifier, with LoRA
    Classifier,
}

impl Chapter5 {
    fn section(self) -> chapter5::Section {
        match self {
            Chapter5::Gpt2 => chapter5::Section::Gpt2,
            Chapter5::Sampling => chapter5::Section::Sampling,
            Chapter5::Finetune => chapter5::Section::Finetune,
            Chapter5::Lora => chapter5::Section::Lora,
            Chapter5::Classifier => chapter5::Section::Classifier,
        }
    }
}

fn chapter5(
    section: chapter5::Section,
    options: &chapter5::Options,
    figures: &Figures,
    progress: &Progress,
) -> Result<Report, String> {
    let o = chapter5::run(section, options, figures, progress)
        .map_err(|e| format!("{}: {e}", section.name()))?;
    Ok(Report {
        name: section.name(),
        title: section.title(),
        text: o.text,
        json: o.json,
        files: o.files,
    })
}

#[derive(Debug, Clone, Copy, Subcommand)]
enum Chapter1 {
    /// §1.2 closed-form line on three houses, MSE surface
    LinearRegression,
    /// §1.2 the same line by gradient descent, loss curve
    GradientDescent,
    /// §1.4 dot, sum, Hadamard, norm, unit vector, cosine
    Vectors,
    /// §1.5 ReLU, sigmoid, tanh; line vs 2-, 4-, 100-unit networks
    Activations,
    /// §1.6 sum, product, transpose, Figure 1.1 as matrices
    Matrices,
    /// §1.7 logistic regression with hand-derived gradients
    LogisticRegression,
    /// §1.8 the same with autodiff, and a 2-100-1 network
    Autograd,
}

impl Chapter1 {
    fn section(self) -> Section {
        match self {
            Chapter1::LinearRegression => Section::LinearRegression,
            Chapter1::GradientDescent => Section::GradientDescent,
            Chapter1::Vectors => Section::Vectors,
            Chapter1::Activations => Section::Activations,
            Chapter1::Matrices => Section::Matrices,
            Chapter1::LogisticRegression => Section::LogisticRegression,
            Chapter1::Autograd => Section::Autograd,
        }
    }
}

#[derive(Debug, Args)]
struct Chapter2Args {
    /// A UTF-8 text file to learn from instead of the built-in Shakespeare
    #[arg(long, global = true, value_name = "FILE")]
    corpus: Option<PathBuf>,
    #[command(subcommand)]
    section: Option<Chapter2>,
}

#[derive(Debug, Subcommand)]
enum Chapter2 {
    /// §2.1 the book's bag-of-words classifier; with --data, any labelled file
    BagOfWords(BowArgs),
    /// §2.2 skip-gram word vectors: neighbours, analogies, PCA figure, saved vectors
    WordEmbeddings(EmbeddingArgs),
    /// §2.4–2.5 the book's n-gram tables and backoff; the model on a corpus, generation
    CountLm(CountArgs),
    /// §2.6 perplexity, ROUGE-1/2/L, an evaluation report of the count model
    Evaluation(EvaluationArgs),
}

#[derive(Debug, Args)]
struct BowArgs {
    /// A labelled file, one `text<TAB>label` per line, to train and test on
    #[arg(long, value_name = "FILE")]
    data: Option<PathBuf>,
    /// Share of the file held out for testing
    #[arg(long, default_value_t = 0.2)]
    test_fraction: f64,
    /// SGD learning rate on the file (the book's example uses 0.001)
    #[arg(long, default_value_t = 0.1)]
    lr: f64,
    /// Steps on the file
    #[arg(long, default_value_t = 3000)]
    steps: usize,
    /// Documents per step on the file
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Seed of the split, the initial weights and the batches on the file
    #[arg(long, default_value_t = 2)]
    seed: u64,
}

#[derive(Debug, Args)]
struct EmbeddingArgs {
    /// Vector size
    #[arg(long, default_value_t = 50)]
    dim: usize,
    /// Passes over the corpus
    #[arg(long, default_value_t = 5)]
    epochs: usize,
    /// Training threads
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Seed of the initial vectors and of every random draw
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Comma-separated words for the figure and the queries
    #[arg(long, value_delimiter = ',')]
    words: Option<Vec<String>>,
}

#[derive(Debug, Args)]
struct CountArgs {
    /// The maximum n-gram order (1 to 64; one model is trained per order)
    #[arg(long, short, default_value_t = 5)]
    n: usize,
    /// A prompt to continue (repeat for several)
    #[arg(long)]
    prompt: Vec<String>,
}

/// The evaluation report's options: the count model it evaluates (it continues held-out
/// sentences, not prompts).
#[derive(Debug, Args)]
struct EvaluationArgs {
    /// The maximum n-gram order (1 to 64; one model is trained per order)
    #[arg(long, short, default_value_t = 5)]
    n: usize,
}

fn chapter3(
    section: chapter3::Section,
    options: &chapter3::Options,
    figures: &Figures,
    progress: &Progress,
) -> Result<Report, String> {
    let o = chapter3::run(section, options, figures, progress)
        .map_err(|e| format!("{}: {e}", section.name()))?;
    Ok(Report {
        name: section.name(),
        title: section.title(),
        text: o.text,
        json: o.json,
        files: o.files,
    })
}

/// One section's printed report.
struct Report {
    name: &'static str,
    title: &'static str,
    text: String,
    json: serde_json::Value,
    files: Vec<PathBuf>,
}

fn chapter1(section: Section, figures: &Figures, progress: &Progress) -> Result<Report, String> {
    let o =
        run_section(section, figures, progress).map_err(|e| format!("{}: {e}", section.name()))?;
    Ok(Report {
        name: section.name(),
        title: section.title(),
        text: o.text,
        json: o.json,
        files: o.figures,
    })
}

fn chapter2(
    section: chapter2::Section,
    options: &chapter2::Options,
    figures: &Figures,
    progress: &Progress,
) -> Result<Report, String> {
    let o = chapter2::run(section, options, figures, progress)
        .map_err(|e| format!("{}: {e}", section.name()))?;
    Ok(Report {
        name: section.name(),
        title: section.title(),
        text: o.text,
        json: o.json,
        files: o.files,
    })
}

fn chapter2_options(args: &Chapter2Args) -> chapter2::Options {
    let mut options = chapter2::Options {
        corpus: args.corpus.clone(),
        ..chapter2::Options::default()
    };
    match &args.section {
        Some(Chapter2::BagOfWords(a)) => {
            options.bag_of_words = bag_of_words::Settings {
                data: a.data.clone(),
                test_fraction: a.test_fraction,
                lr: a.lr,
                steps: a.steps,
                batch_size: a.batch_size,
                seed: a.seed,
            };
        }
        Some(Chapter2::WordEmbeddings(a)) => {
            options.embeddings = embeddings::Settings {
                dim: a.dim,
                epochs: a.epochs,
                threads: a.threads,
                seed: a.seed,
                words: a
                    .words
                    .clone()
                    .unwrap_or_else(|| embeddings::Settings::default().words),
            };
        }
        Some(Chapter2::CountLm(a)) => {
            options.count_lm.n = a.n;
            if !a.prompt.is_empty() {
                options.count_lm.prompts = a.prompt.clone();
            }
        }
        Some(Chapter2::Evaluation(a)) => options.count_lm.n = a.n,
        None => {}
    }
    options
}

/// The chapter-2 sections a command runs: the one named, or all.
fn chapter2_sections(args: &Chapter2Args) -> Vec<chapter2::Section> {
    match &args.section {
        None => chapter2::Section::ALL.to_vec(),
        Some(Chapter2::BagOfWords(_)) => vec![chapter2::Section::BagOfWords],
        Some(Chapter2::WordEmbeddings(_)) => vec![chapter2::Section::WordEmbeddings],
        Some(Chapter2::CountLm(_)) => vec![chapter2::Section::CountLm],
        Some(Chapter2::Evaluation(_)) => vec![chapter2::Section::Evaluation],
    }
}

fn chapter5_options(args: &Chapter5Args) -> chapter5::Options {
    let default = chapter5::Options::default();
    chapter5::Options {
        model: args.model.clone(),
        data: args.data.clone(),
        epochs: args.epochs.unwrap_or(default.epochs),
        max_train: args.max_train.unwrap_or(default.max_train),
        max_test: args.max_test.unwrap_or(default.max_test),
        prompt: args.prompt.clone().unwrap_or(default.prompt.clone()),
        seed: args.seed.unwrap_or(default.seed),
        ..default
    }
}

/// The chapter-5 options given on the command line, by name (without `--`).
fn chapter5_given(args: &Chapter5Args) -> Vec<&'static str> {
    [
        ("model", args.model.is_some()),
        ("data", args.data.is_some()),
        ("epochs", args.epochs.is_some()),
        ("max-train", args.max_train.is_some()),
        ("max-test", args.max_test.is_some()),
        ("prompt", args.prompt.is_some()),
        ("seed", args.seed.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, given)| given.then_some(name))
    .collect()
}

/// The chapter-5 sections a command runs: the one named, or all.
fn chapter5_sections(args: &Chapter5Args) -> Vec<chapter5::Section> {
    match args.section {
        None => chapter5::Section::ALL.to_vec(),
        Some(s) => vec![s.section()],
    }
}

fn chapter4(
    section: chapter4::Section,
    options: &chapter4::Options,
    figures: &Figures,
    progress: &Progress,
) -> Result<Report, String> {
    let o = chapter4::run(section, options, figures, progress)
        .map_err(|e| format!("{}: {e}", section.name()))?;
    Ok(Report {
        name: section.name(),
        title: section.title(),
        text: o.text,
        json: o.json,
        files: o.files,
    })
}

/// Runs the chosen sections: `(chapter, reports)` in order.
fn run(
    cli: &Cli,
    figures: &Figures,
    progress: &Progress,
) -> Result<Vec<(&'static str, Vec<Report>)>, String> {
    let mut chapters = Vec::new();
    let all_chapter1 = || -> Result<Vec<Report>, String> {
        Section::ALL
            .iter()
            .map(|&s| chapter1(s, figures, progress))
            .collect()
    };
    let all_chapter2 = |options: &chapter2::Options| -> Result<Vec<Report>, String> {
        chapter2::Section::ALL
            .iter()
            .map(|&s| chapter2(s, options, figures, progress))
            .collect()
    };
    let all_chapter3 = |options: &chapter3::Options| -> Result<Vec<Report>, String> {
        chapter3::Section::ALL
            .iter()
            .map(|&s| chapter3(s, options, figures, progress))
            .collect()
    };
    let all_chapter4 = |options: &chapter4::Options| -> Result<Vec<Report>, String> {
        chapter4::Section::ALL
            .iter()
            .map(|&s| chapter4(s, options, figures, progress))
            .collect()
    };
    match &cli.command {
        Command::All => {
            chapters.push(("chapter1", all_chapter1()?));
            chapters.push(("chapter2", all_chapter2(&chapter2::Options::default())?));
            chapters.push(("chapter3", all_chapter3(&chapter3::Options::default())?));
            chapters.push(("chapter4", all_chapter4(&chapter4::Options::default())?));
            let small = chapter5::Options::small();
            let reports = chapter5::Section::ALL
                .iter()
                .map(|&s| chapter5(s, &small, figures, progress))
                .collect::<Result<Vec<_>, _>>()?;
            chapters.push(("chapter5", reports));
        }
        Command::Chapter5(args) => {
            let options = chapter5_options(args);
            let reports = chapter5_sections(args)
                .into_iter()
                .map(|s| chapter5(s, &options, figures, progress))
                .collect::<Result<Vec<_>, _>>()?;
            chapters.push(("chapter5", reports));
        }
        Command::Chapter1 { section: None } => chapters.push(("chapter1", all_chapter1()?)),
        Command::Chapter1 { section: Some(s) } => {
            chapters.push(("chapter1", vec![chapter1(s.section(), figures, progress)?]));
        }
        Command::Chapter2(args) => {
            let options = chapter2_options(args);
            let reports = chapter2_sections(args)
                .into_iter()
                .map(|s| chapter2(s, &options, figures, progress))
                .collect::<Result<Vec<_>, _>>()?;
            chapters.push(("chapter2", reports));
        }
        Command::Chapter3(args) => {
            let options = args.options().map_err(|e| format!("chapter3: {e}"))?;
            let reports = match args.section {
                None => all_chapter3(&options)?,
                Some(s) => vec![chapter3(s, &options, figures, progress)?],
            };
            chapters.push(("chapter3", reports));
        }
        Command::Chapter4(args) => {
            let options = args.options().map_err(|e| format!("chapter4: {e}"))?;
            let reports = match args.section {
                None => all_chapter4(&options)?,
                Some(s) => vec![chapter4(s, &options, figures, progress)?],
            };
            chapters.push(("chapter4", reports));
        }
    }
    Ok(chapters)
}

/// Checks the options of chapters 2 to 5 (those that `run` turns into settings, for the
/// sections it will run) without running anything or writing any file; for chapters 3
/// and 4 the error is what `run` would report, for chapters 2 and 5 what the section
/// would find only after the output folder was made.
fn check_options(command: &Command) -> Result<(), String> {
    match command {
        Command::Chapter2(args) => chapter2_options(args).check(&chapter2_sections(args)),
        Command::Chapter5(args) => {
            let sections = chapter5_sections(args);
            chapter5::check_given(&chapter5_given(args), &sections)?;
            chapter5_options(args).check(&sections)
        }
        Command::Chapter3(args) => args
            .options()
            .map(|_| ())
            .map_err(|e| format!("chapter3: {e}")),
        Command::Chapter4(args) => args
            .options()
            .map(|_| ())
            .map_err(|e| format!("chapter4: {e}")),
        _ => Ok(()),
    }
}

/// The chapter-1 section names that used to be top-level commands: still accepted, as
/// `chapter1 <section>`.
fn legacy_args() -> Vec<String> {
    let mut args: Vec<String> = std::env::args().collect();
    if let Some(first) = args.get(1)
        && Section::ALL.iter().any(|s| s.name() == first)
    {
        args.insert(1, "chapter1".into());
    }
    args
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse_from(legacy_args()) {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                e.exit();
            }
            // Every usage error shows the usage line, even those clap prints without it.
            let mut text = e.render().to_string();
            if !text.contains("Usage:") {
                text.push_str(&format!("\n{}\n", Cli::command().render_usage()));
            }
            eprint!("{text}");
            return ExitCode::from(2);
        }
    };
    // Options are checked before the output folder is made: a usage error leaves nothing.
    if let Err(e) = check_options(&cli.command) {
        eprintln!("error in {e}");
        return ExitCode::FAILURE;
    }
    let (figures, warning) = match Figures::new(&cli.common.out) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: cannot use {}: {e}", cli.common.out.display());
            return ExitCode::FAILURE;
        }
    };
    if let Some(w) = warning {
        eprintln!("{w}");
    }
    let progress = Progress::new(cli.common.quiet);
    let start = Instant::now();
    let chapters = match run(&cli, &figures, &progress) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error in {e}");
            return ExitCode::FAILURE;
        }
    };
    if cli.common.json {
        let section_map = |reports: &[Report]| {
            serde_json::Value::Object(
                reports
                    .iter()
                    .map(|r| (r.name.to_string(), r.json.clone()))
                    .collect(),
            )
        };
        // One chapter: its sections at the top level; `all`: one object per chapter.
        let value = match (&cli.command, chapters.as_slice()) {
            (Command::All, _) => serde_json::Value::Object(
                chapters
                    .iter()
                    .map(|(name, reports)| (name.to_string(), section_map(reports)))
                    .collect(),
            ),
            (_, [(_, reports)]) => section_map(reports),
            _ => serde_json::Value::Null,
        };
        match serde_json::to_string_pretty(&value) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        for (_, reports) in &chapters {
            for r in reports {
                println!("== {} ==", r.title);
                print!("{}", r.text);
                for f in &r.files {
                    let kind = if f.extension().is_some_and(|e| e == "png") {
                        "figure"
                    } else {
                        "file"
                    };
                    println!("{kind}: {}", f.display());
                }
                println!();
            }
        }
        println!(
            "done in {:.2} s; figures in {}",
            start.elapsed().as_secs_f64(),
            figures.dir().display()
        );
    }
    ExitCode::SUCCESS
}
