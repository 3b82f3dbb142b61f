//! §2.4–2.5: the count-based language model — the book's n-gram tables on its
//! two-sentence example, predictions with backoff, `Pr(sing | language models) = 1/13`; then
//! the same model on a real corpus: a 90/10 split, perplexity for `n = 1…5`, greedy
//! continuations of prompts.

use std::fmt::Write as _;
use std::time::Instant;

use ferrograd::lm::text::count_lm_tokens;
use ferrograd::lm::{CountLanguageModel, split_train_test};
use plotters::prelude::*;
use serde::Serialize;

use super::Corpus;
use crate::error::Result;
use crate::plot::{self, Figures, palette, size};

/// The book's example text for §2.5.
pub const BOOK_TEXT: &str = "language models are powerful language models are useful";

/// The highest order `--n` accepts. The section trains and evaluates a model for every
/// order up to `n` and prints a row for each; the book's is 5, and past a few dozen every
/// n-gram of real text is seen once, so higher orders only cost time (an `n` of 10¹¹
/// would never finish).
pub const MAX_ORDER: usize = 64;

/// Settings of the corpus model.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// The maximum order (the notebook's `n = 5`).
    pub n: usize,
    /// Prompts to continue.
    pub prompts: Vec<String>,
    /// Tokens to generate after each prompt.
    pub generate: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            n: 5,
            prompts: ["to be or not to", "the king", "my lord", "what is"]
                .map(String::from)
                .to_vec(),
            generate: 10,
        }
    }
}

/// One row of an n-gram table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The context (`k − 1` tokens).
    pub context: Vec<String>,
    /// Followers and their counts, first seen first.
    pub next: Vec<(String, u64)>,
}

/// A probability of the book's example.
#[derive(Debug, Clone, Serialize)]
pub struct Probability {
    /// The token.
    pub token: String,
    /// Its context.
    pub context: Vec<String>,
    /// `Pr(token | context)`.
    pub p: f64,
    /// How the backoff rule got it.
    pub how: String,
}

/// The book's example, `n = 3`.
#[derive(Debug, Clone, Serialize)]
pub struct BookExample {
    /// The tokens.
    pub tokens: Vec<String>,
    /// `W`, the number of tokens.
    pub num_tokens: u64,
    /// `V`, the number of distinct tokens.
    pub vocab_size: usize,
    /// The tables of orders 1, 2 and 3.
    pub tables: Vec<Vec<Row>>,
    /// `(context, predicted next token)`.
    pub predictions: Vec<(Vec<String>, String)>,
    /// Some probabilities by the backoff rule.
    pub probabilities: Vec<Probability>,
    /// The text generated greedily from "language".
    pub generated: String,
}

/// The book's §2.5 example on [`BOOK_TEXT`] with `n = 3`.
///
/// # Errors
/// Never for the built-in text; the type is shared with the other sections.
pub fn book_example() -> Result<BookExample> {
    let tokens = count_lm_tokens(BOOK_TEXT);
    let model = CountLanguageModel::train(3, &tokens)?;
    let tables = (1..=3)
        .map(|k| {
            model
                .table(k)
                .into_iter()
                .map(|r| Row {
                    context: r.context,
                    next: r.next,
                })
                .collect()
        })
        .collect();
    let contexts: [&[&str]; 5] = [
        &["language", "models"],
        &["models", "are"],
        &["useful", "are"],
        &["are", "useful"],
        &[],
    ];
    let predictions = contexts
        .iter()
        .map(|c| {
            (
                c.iter().map(|s| s.to_string()).collect(),
                model.predict(c).to_string(),
            )
        })
        .collect();
    let queries: [(&str, &[&str], &str); 4] = [
        (
            "are",
            &["language", "models"],
            "trigram: count(language models are) / count(language models ·) = 2/2",
        ),
        ("useful", &["models", "are"], "trigram: 1/2"),
        (
            "language",
            &["are", "useful"],
            "no context seen: Laplace unigram (2 + 1) / (W + V) = 3/13",
        ),
        (
            "sing",
            &["language", "models"],
            "never seen: Laplace unigram (0 + 1) / (W + V) = 1/13",
        ),
    ];
    let probabilities = queries
        .iter()
        .map(|&(token, context, how)| Probability {
            token: token.into(),
            context: context.iter().map(|s| s.to_string()).collect(),
            p: model.probability(token, context),
            how: how.into(),
        })
        .collect();
    Ok(BookExample {
        num_tokens: model.num_tokens(),
        vocab_size: model.vocab_size(),
        generated: model.generate(&["language"], 6).join(" "),
        tokens,
        tables,
        predictions,
        probabilities,
    })
}

/// A prompt and what the model made of it.
#[derive(Debug, Clone, Serialize)]
pub struct Continuation {
    /// The prompt.
    pub prompt: String,
    /// The most likely next token.
    pub next: String,
    /// The prompt and the generated tokens.
    pub generated: String,
}

/// The model on a corpus.
#[derive(Debug, Clone, Serialize)]
pub struct CorpusRun {
    /// Where the text came from.
    pub corpus: String,
    /// Tokens in the corpus.
    pub tokens: usize,
    /// Training tokens (the first 90 %).
    pub train_tokens: usize,
    /// Held-out tokens (the last 10 %).
    pub test_tokens: usize,
    /// Distinct training tokens.
    pub vocab_size: usize,
    /// The maximum order.
    pub n: usize,
    /// Distinct n-grams of each order 1…n.
    pub ngrams: Vec<usize>,
    /// Held-out perplexity of the models of order 1…n.
    pub perplexity_by_n: Vec<f64>,
    /// Continuations of the prompts by the order-n model.
    pub continuations: Vec<Continuation>,
    /// Bytes of the order-n model's counts.
    pub model_bytes: usize,
    /// Seconds to count and evaluate every order.
    pub seconds: f64,
}

/// The count model on `corpus`: tokenise, split 90/10, count n-grams up to `settings.n`
/// on the first part, perplexity of the rest for each order, continuations of the
/// prompts.
///
/// # Errors
/// [`crate::BookError::Lm`] for `n = 0` or a corpus with too few tokens to split.
pub fn count_lm(corpus: &Corpus, settings: &Settings) -> Result<CorpusRun> {
    let start = Instant::now();
    let tokens = count_lm_tokens(&corpus.text);
    let named = |e| corpus.lm_error(e);
    let (train, test) = split_train_test(&tokens, 0.9).map_err(named)?;
    let mut perplexity_by_n = Vec::new();
    let mut last = None;
    for n in 1..=settings.n.max(1) {
        let model = CountLanguageModel::train(n, train).map_err(named)?;
        perplexity_by_n.push(model.perplexity(test, n).map_err(named)?);
        last = Some(model);
    }
    let model = match (settings.n, last) {
        (0, _) | (_, None) => CountLanguageModel::train(settings.n, train)?,
        (_, Some(m)) => m,
    };
    let continuations = settings
        .prompts
        .iter()
        .map(|prompt| {
            let context = count_lm_tokens(prompt);
            Continuation {
                prompt: prompt.clone(),
                next: model.predict(&context).to_string(),
                generated: model.generate(&context, settings.generate).join(" "),
            }
        })
        .collect();
    Ok(CorpusRun {
        corpus: corpus.name.clone(),
        tokens: tokens.len(),
        train_tokens: train.len(),
        test_tokens: test.len(),
        vocab_size: model.vocab_size(),
        n: settings.n,
        ngrams: (1..=settings.n).map(|k| model.num_ngrams(k)).collect(),
        perplexity_by_n,
        continuations,
        model_bytes: model.memory_bytes(),
        seconds: start.elapsed().as_secs_f64(),
    })
}

fn words(w: &[String]) -> String {
    if w.is_empty() {
        "()".into()
    } else {
        w.join(" ")
    }
}

/// Writes the section's report into `t`.
pub fn report(book: &BookExample, run: &CorpusRun, t: &mut String) {
    let _ = writeln!(
        t,
        "book example {BOOK_TEXT:?}: W = {} tokens, V = {} distinct, n = 3",
        book.num_tokens, book.vocab_size
    );
    for (k, table) in book.tables.iter().enumerate() {
        let _ = writeln!(t, "  order {} counts:", k + 1);
        for row in table {
            let next: Vec<String> = row.next.iter().map(|(w, c)| format!("{w}: {c}")).collect();
            let _ = writeln!(t, "    {:<22} → {}", words(&row.context), next.join(", "));
        }
    }
    for (context, next) in &book.predictions {
        let _ = writeln!(t, "  predict after {:<18} → {next}", words(context));
    }
    for p in &book.probabilities {
        let _ = writeln!(
            t,
            "  Pr({} | {}) = {:.6}  ({})",
            p.token,
            words(&p.context),
            p.p,
            p.how
        );
    }
    let _ = writeln!(t, "  greedy from \"language\": {}", book.generated);
    let _ = writeln!(
        t,
        "corpus {}: {} tokens ({} train, {} held out), V = {}",
        run.corpus, run.tokens, run.train_tokens, run.test_tokens, run.vocab_size
    );
    for (k, ppl) in run.perplexity_by_n.iter().enumerate() {
        let _ = writeln!(
            t,
            "  n = {}: {:>8} distinct {}-grams, held-out perplexity {ppl:.2}",
            k + 1,
            run.ngrams.get(k).copied().unwrap_or(0),
            k + 1
        );
    }
    for c in &run.continuations {
        let _ = writeln!(
            t,
            "  {:?} → next {:?}; greedy: {}",
            c.prompt, c.next, c.generated
        );
    }
    let _ = writeln!(
        t,
        "  counts of the n = {} model: {:.1} MB; all orders counted and evaluated in {:.2} s",
        run.n,
        run.model_bytes as f64 / 1e6,
        run.seconds
    );
}

/// Draws held-out perplexity against the order n (`count_lm_perplexity.png`).
///
/// # Errors
/// When the figure cannot be written.
pub fn draw_perplexity(run: &CorpusRun, figures: &Figures) -> Result<std::path::PathBuf> {
    let path = figures.path("count_lm_perplexity.png");
    plot::draw_png(&path, size::CHART, |root| {
        let top = run.perplexity_by_n.iter().copied().fold(1.0, f64::max);
        let n = run.perplexity_by_n.len().max(1) as f64;
        let mut chart = plot::chart(
            root,
            figures,
            "§2.6 held-out perplexity of the count model",
            0.5..n + 0.5,
            0.0..top * 1.1,
        )?;
        plot::mesh(
            &mut chart,
            figures,
            "n (maximum n-gram order)",
            "perplexity",
        )?;
        chart
            .draw_series(run.perplexity_by_n.iter().enumerate().map(|(k, &p)| {
                let x = k as f64 + 1.0;
                Rectangle::new([(x - 0.3, 0.0), (x + 0.3, p)], palette::BLUE.filled())
            }))?
            .label(format!("{} (90/10 split)", run.corpus))
            .legend(plot::legend_line(palette::BLUE));
        plot::legend(&mut chart, figures, SeriesLabelPosition::UpperRight)?;
        Ok(())
    })?;
    Ok(path)
}
