//! §2.6: evaluating language models — perplexity from the probabilities a model gave the
//! tokens of a text, ROUGE-1/2/L between a generated text and a reference, and an
//! evaluation report of the count model on held-out text: its perplexity, and the ROUGE of
//! its greedy continuations of held-out sentences against what the text really says.

use std::fmt::Write as _;

use ferrograd::lm::eval::{Rouge, RougeScore, perplexity, rouge, rouge_l, rouge_n};
use ferrograd::lm::text::count_lm_tokens;
use ferrograd::lm::{CountLanguageModel, split_train_test};
use plotters::prelude::*;
use serde::Serialize;

use super::Corpus;
use super::count_lm::Settings;
use crate::error::Result;
use crate::plot::{self, Figures, palette, size};

/// An eight-token text's probabilities under some model, for the perplexity formula.
pub const EXAMPLE_PROBABILITIES: [f64; 8] = [0.4, 0.2, 0.5, 0.1, 0.3, 0.25, 0.6, 0.05];

/// The ROUGE example: a reference of nine tokens, a generated text of eight; they share six
/// unigrams and a longest common subsequence of five (the numbers of the book's example:
/// ROUGE-1 recall 6/9, LCS 5, ROUGE-L 0.5565).
pub const ROUGE_REFERENCE: &str = "the quick brown fox jumps over the lazy dog";
/// The generated text of the ROUGE example.
pub const ROUGE_CANDIDATE: &str = "lazy, the quick brown fox jumps high today";

/// The β of the recall-weighted ROUGE-L F that gives the book's 0.5565.
pub const ROUGE_L_BETA: f64 = 8.0;

/// Precision, recall and F1 (serialisable).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Prf {
    /// Precision.
    pub precision: f64,
    /// Recall.
    pub recall: f64,
    /// F1.
    pub f1: f64,
}

impl From<RougeScore> for Prf {
    fn from(s: RougeScore) -> Self {
        Self {
            precision: s.precision,
            recall: s.recall,
            f1: s.f1,
        }
    }
}

/// ROUGE-1, ROUGE-2 and ROUGE-L.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RougeTriple {
    /// Unigrams.
    pub rouge1: Prf,
    /// Bigrams.
    pub rouge2: Prf,
    /// Longest common subsequence.
    pub rouge_l: Prf,
}

impl From<Rouge> for RougeTriple {
    fn from(r: Rouge) -> Self {
        Self {
            rouge1: r.rouge1.into(),
            rouge2: r.rouge2.into(),
            rouge_l: r.rouge_l.into(),
        }
    }
}

/// One held-out sentence, its continuation by the model and its ROUGE.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// The prompt (the sentence's first tokens).
    pub prompt: String,
    /// What the text says next.
    pub reference: String,
    /// What the model generated.
    pub generated: String,
    /// Their ROUGE.
    pub rouge: RougeTriple,
}

/// §2.6's numbers.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    /// The eight probabilities of the perplexity example.
    pub example_probabilities: Vec<f64>,
    /// Their perplexity.
    pub example_perplexity: f64,
    /// ROUGE of the example pair.
    pub example_rouge: RougeTriple,
    /// The example's longest common subsequence.
    pub example_lcs: usize,
    /// The example's recall-weighted ROUGE-L F (β = 8).
    pub example_rouge_l_beta8: f64,
    /// Where the held-out text came from.
    pub corpus: String,
    /// The count model's order.
    pub n: usize,
    /// Held-out tokens.
    pub test_tokens: usize,
    /// The count model's held-out perplexity.
    pub perplexity: f64,
    /// Mean ROUGE over the held-out sentences continued by the model (`None` when no
    /// held-out sentence was long enough: no score, not 0).
    pub mean_rouge: Option<RougeTriple>,
    /// How many sentences were continued.
    pub samples: usize,
    /// The first few of them.
    pub examples: Vec<Sample>,
}

/// Tokens of the prompt and of the reference continuation.
const PROMPT_TOKENS: usize = 4;
const REFERENCE_TOKENS: usize = 8;
const MAX_SAMPLES: usize = 300;

/// The mean of `scores`, which must not be empty.
fn mean(scores: &[RougeScore]) -> Prf {
    let n = scores.len() as f64;
    Prf {
        precision: scores.iter().map(|s| s.precision).sum::<f64>() / n,
        recall: scores.iter().map(|s| s.recall).sum::<f64>() / n,
        f1: scores.iter().map(|s| s.f1).sum::<f64>() / n,
    }
}

/// Computes §2.6's numbers: the examples, and the count model (order `settings.n`) on
/// `corpus`'s 90/10 split — perplexity, and ROUGE of greedy continuations of held-out
/// sentences (the first 4 tokens as the prompt, the next 8 as the reference).
///
/// # Errors
/// [`crate::BookError::Lm`] for an unusable corpus or `n = 0`.
pub fn evaluation(corpus: &Corpus, settings: &Settings) -> Result<Evaluation> {
    let example = rouge(ROUGE_REFERENCE, ROUGE_CANDIDATE);
    let tokens = count_lm_tokens(&corpus.text);
    let named = |e| corpus.lm_error(e);
    let (train, test) = split_train_test(&tokens, 0.9).map_err(named)?;
    let model = CountLanguageModel::train(settings.n, train).map_err(named)?;
    let ppl = model.perplexity(test, settings.n).map_err(named)?;
    // Held-out sentences: runs of tokens between periods, long enough for a prompt and a
    // reference.
    let mut samples = Vec::new();
    let (mut r1, mut r2, mut rl) = (Vec::new(), Vec::new(), Vec::new());
    for sentence in test.split(|t| t == ".") {
        if sentence.len() < PROMPT_TOKENS + REFERENCE_TOKENS || r1.len() == MAX_SAMPLES {
            continue;
        }
        let prompt = &sentence[..PROMPT_TOKENS];
        let reference = &sentence[PROMPT_TOKENS..PROMPT_TOKENS + REFERENCE_TOKENS];
        let generated = model.generate(prompt, REFERENCE_TOKENS);
        let generated = &generated[PROMPT_TOKENS..];
        let (s1, s2, sl) = (
            rouge_n(reference, generated, 1),
            rouge_n(reference, generated, 2),
            rouge_l(reference, generated),
        );
        r1.push(s1);
        r2.push(s2);
        rl.push(sl);
        if samples.len() < 5 {
            samples.push(Sample {
                prompt: prompt.join(" "),
                reference: reference.join(" "),
                generated: generated.join(" "),
                rouge: RougeTriple {
                    rouge1: s1.into(),
                    rouge2: s2.into(),
                    rouge_l: sl.into(),
                },
            });
        }
    }
    Ok(Evaluation {
        example_probabilities: EXAMPLE_PROBABILITIES.to_vec(),
        example_perplexity: perplexity(&EXAMPLE_PROBABILITIES)?,
        example_rouge: example.into(),
        example_lcs: example.lcs,
        example_rouge_l_beta8: example.rouge_l.f_beta(ROUGE_L_BETA),
        corpus: corpus.name.clone(),
        n: settings.n,
        test_tokens: test.len(),
        perplexity: ppl,
        mean_rouge: (!r1.is_empty()).then(|| RougeTriple {
            rouge1: mean(&r1),
            rouge2: mean(&r2),
            rouge_l: mean(&rl),
        }),
        samples: r1.len(),
        examples: samples,
    })
}

fn prf(t: &mut String, name: &str, s: &Prf) {
    let _ = writeln!(
        t,
        "  {name:<8} precision {:.4}  recall {:.4}  F1 {:.4}",
        s.precision, s.recall, s.f1
    );
}

/// Writes the section's report into `t`.
pub fn report(e: &Evaluation, t: &mut String) {
    let _ = writeln!(
        t,
        "perplexity of an 8-token text with probabilities {:?}: exp(-(1/8) Σ ln p) = {:.4}",
        e.example_probabilities, e.example_perplexity
    );
    let _ = writeln!(
        t,
        "ROUGE, reference {ROUGE_REFERENCE:?} vs generated {ROUGE_CANDIDATE:?}:"
    );
    prf(t, "ROUGE-1", &e.example_rouge.rouge1);
    prf(t, "ROUGE-2", &e.example_rouge.rouge2);
    prf(t, "ROUGE-L", &e.example_rouge.rouge_l);
    let _ = writeln!(
        t,
        "  LCS = {}; recall-weighted ROUGE-L F (β = {ROUGE_L_BETA}) = {:.4}",
        e.example_lcs, e.example_rouge_l_beta8
    );
    let _ = writeln!(
        t,
        "evaluation report: count model, n = {}, on {} ({} held-out tokens)",
        e.n, e.corpus, e.test_tokens
    );
    let _ = writeln!(t, "  perplexity {:.2}", e.perplexity);
    match &e.mean_rouge {
        Some(m) => {
            let _ = writeln!(
                t,
                "  ROUGE of greedy continuations of {} held-out sentences ({PROMPT_TOKENS}-token prompt, {REFERENCE_TOKENS}-token reference), mean:",
                e.samples
            );
            prf(t, "ROUGE-1", &m.rouge1);
            prf(t, "ROUGE-2", &m.rouge2);
            prf(t, "ROUGE-L", &m.rouge_l);
        }
        None => {
            let _ = writeln!(
                t,
                "  ROUGE: no sentences (no held-out sentence has {} tokens: {PROMPT_TOKENS} for the prompt, {REFERENCE_TOKENS} for the reference)",
                PROMPT_TOKENS + REFERENCE_TOKENS
            );
        }
    }
    for s in e.examples.iter().take(3) {
        let _ = writeln!(
            t,
            "  {:?} → generated {:?}, reference {:?} (ROUGE-L F1 {:.3})",
            s.prompt, s.generated, s.reference, s.rouge.rouge_l.f1
        );
    }
}

/// Draws the mean ROUGE precision, recall and F1 of the report (`evaluation_rouge.png`;
/// the axes alone when no sentence was scored).
///
/// # Errors
/// When the figure cannot be written.
pub fn draw_rouge(e: &Evaluation, figures: &Figures) -> Result<std::path::PathBuf> {
    let path = figures.path("evaluation_rouge.png");
    plot::draw_png(&path, size::CHART, |root| {
        let mut chart = plot::chart(
            root,
            figures,
            "§2.6 ROUGE of the count model's continuations",
            0.0..3.0,
            0.0..1.0,
        )?;
        plot::mesh(
            &mut chart,
            figures,
            "ROUGE-1, ROUGE-2, ROUGE-L",
            "mean score",
        )?;
        // No sentences: the axes without bars (no score is not a score of 0).
        let groups: Vec<RougeTriple> = e.mean_rouge.into_iter().collect();
        let groups: Vec<Prf> = groups
            .iter()
            .flat_map(|m| [m.rouge1, m.rouge2, m.rouge_l])
            .collect();
        /// A bar series: its name, which number of a score it shows, its colour.
        type Series = (&'static str, fn(&Prf) -> f64, RGBColor);
        let series: [Series; 3] = [
            ("precision", |s| s.precision, palette::BLUE),
            ("recall", |s| s.recall, palette::RED),
            ("F1", |s| s.f1, palette::GREEN),
        ];
        for (j, (name, get, color)) in series.into_iter().enumerate() {
            chart
                .draw_series(groups.iter().enumerate().map(|(i, g)| {
                    let x = i as f64 + 0.2 + 0.2 * j as f64;
                    Rectangle::new([(x, 0.0), (x + 0.18, get(g))], color.filled())
                }))?
                .label(name)
                .legend(plot::legend_line(color));
        }
        plot::legend(&mut chart, figures, SeriesLabelPosition::UpperRight)?;
        Ok(())
    })?;
    Ok(path)
}
