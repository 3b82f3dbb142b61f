//! §2.2: word embeddings — skip-gram with negative sampling trained on a corpus; cosine
//! similarities, nearest neighbours, the analogy `king − man + woman`, and a 2-D PCA
//! picture of chosen words. The vectors are saved in word2vec's text format.

use std::fmt::Write as _;

use ferrograd::lm::text::word_sentences;
use ferrograd::lm::word2vec::{Word2Vec, Word2VecConfig, WordVectors};
use plotters::prelude::*;
use serde::Serialize;

use super::Corpus;
use crate::error::Result;
use crate::plot::{self, Figures, palette, size};
use crate::progress::Progress;

/// Settings of the section (the rest are word2vec's defaults, see [`Word2VecConfig`]).
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// Vector size.
    pub dim: usize,
    /// Passes over the corpus.
    pub epochs: usize,
    /// Training threads.
    pub threads: usize,
    /// Seed.
    pub seed: u64,
    /// Words to place in the PCA figure and query (unknown ones are skipped).
    pub words: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            dim: 50,
            epochs: 5,
            threads: 1,
            seed: 1,
            words: [
                "king", "queen", "prince", "duke", "lord", "lady", "man", "woman", "father",
                "mother", "son", "daughter", "love", "hate", "night", "day", "sword", "war",
                "peace", "death", "life",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

impl Settings {
    /// Checks the sizes word2vec needs at least 1 of: `--dim`, `--epochs`, `--threads`.
    ///
    /// # Errors
    /// A message naming the option and its value.
    pub fn check(&self) -> std::result::Result<(), String> {
        for (option, value) in [
            ("dim", self.dim),
            ("epochs", self.epochs),
            ("threads", self.threads),
        ] {
            if value == 0 {
                return Err(format!("--{option} 0: must be at least 1"));
            }
        }
        Ok(())
    }
}

/// §2.2's numbers.
#[derive(Debug, Clone, Serialize)]
pub struct Embeddings {
    /// Where the text came from.
    pub corpus: String,
    /// The settings used.
    pub settings: Settings,
    /// Words in the vocabulary (seen at least 5 times).
    pub vocab_size: usize,
    /// Corpus words read over all epochs.
    pub words: u64,
    /// Training seconds.
    pub seconds: f64,
    /// Corpus words per second.
    pub words_per_second: f64,
    /// `(word, [(neighbour, cosine)])` for the first few chosen words.
    pub neighbours: Vec<(String, Vec<(String, f64)>)>,
    /// `(a, b, cosine)` for pairs of chosen words.
    pub similarities: Vec<(String, String, f64)>,
    /// The best answers to `king − man + woman`, if all three words are known.
    pub analogy: Vec<(String, f64)>,
    /// `(word, x, y)`: the chosen words on their first two principal components.
    pub pca: Vec<(String, f64, f64)>,
    /// The trained vectors.
    #[serde(skip)]
    pub vectors: WordVectors,
}

/// Trains skip-gram on `corpus` (one sentence per line, the count model's word tokeniser
/// without periods) and queries the vectors.
///
/// # Errors
/// [`crate::BookError::Lm`] for an unusable corpus (no word seen 5 times) or settings.
pub fn word_embeddings(
    corpus: &Corpus,
    settings: &Settings,
    progress: &Progress,
) -> Result<Embeddings> {
    let sentences = word_sentences(&corpus.text);
    let config = Word2VecConfig {
        dim: settings.dim,
        epochs: settings.epochs,
        threads: settings.threads,
        seed: settings.seed,
        ..Word2VecConfig::default()
    };
    let total: u64 = sentences
        .iter()
        .map(|s| s.len() as u64)
        .sum::<u64>()
        .saturating_mul(settings.epochs as u64);
    let bar = progress.bar(total, "§2.2 skip-gram words");
    let (model, stats) =
        Word2Vec::train_with_progress(&sentences, &config, &mut |done, _| bar.set_position(done))
            .map_err(|e| corpus.lm_error(e))?;
    bar.finish_and_clear();
    let vectors = model.vectors();
    let known: Vec<&str> = settings
        .words
        .iter()
        .map(String::as_str)
        .filter(|w| vectors.get(w).is_some())
        .collect();
    let neighbours = known
        .iter()
        .take(4)
        .map(|w| Ok((w.to_string(), vectors.most_similar(w, 5)?)))
        .collect::<Result<Vec<_>>>()?;
    let mut similarities = Vec::new();
    for pair in known.chunks_exact(2).take(6) {
        similarities.push((
            pair[0].to_string(),
            pair[1].to_string(),
            vectors.similarity(pair[0], pair[1])?,
        ));
    }
    let analogy = if ["king", "man", "woman"]
        .iter()
        .all(|w| vectors.get(w).is_some())
    {
        vectors.analogy(&["king", "woman"], &["man"], 5)?
    } else {
        Vec::new()
    };
    let pca = if known.len() >= 2 {
        vectors
            .pca_2d(&known)?
            .into_iter()
            .zip(&known)
            .map(|(p, w)| (w.to_string(), p[0], p[1]))
            .collect()
    } else {
        Vec::new()
    };
    Ok(Embeddings {
        corpus: corpus.name.clone(),
        settings: settings.clone(),
        vocab_size: vectors.len(),
        words: stats.words,
        seconds: stats.seconds,
        words_per_second: stats.words_per_second(),
        neighbours,
        similarities,
        analogy,
        pca,
        vectors,
    })
}

/// Writes the section's report into `t`.
pub fn report(e: &Embeddings, t: &mut String) {
    let s = &e.settings;
    let _ = writeln!(
        t,
        "skip-gram, negative sampling (5), window 5, dim {}, {} epochs, {} thread(s), seed {} on {}",
        s.dim, s.epochs, s.threads, s.seed, e.corpus
    );
    let _ = writeln!(
        t,
        "  vocabulary {} words (seen ≥ 5 times); {} corpus words in {:.2} s = {:.0} words/s",
        e.vocab_size, e.words, e.seconds, e.words_per_second
    );
    for (w, near) in &e.neighbours {
        let list: Vec<String> = near.iter().map(|(n, c)| format!("{n} {c:.3}")).collect();
        let _ = writeln!(t, "  nearest to {w:<8}: {}", list.join(", "));
    }
    for (a, b, c) in &e.similarities {
        let _ = writeln!(t, "  cos({a}, {b}) = {c:.3}");
    }
    if !e.analogy.is_empty() {
        let list: Vec<String> = e
            .analogy
            .iter()
            .map(|(n, c)| format!("{n} {c:.3}"))
            .collect();
        let _ = writeln!(t, "  king − man + woman ≈ {}", list.join(", "));
    }
}

/// Draws the chosen words on their first two principal components
/// (`word_embeddings_pca.png`).
///
/// # Errors
/// When the figure cannot be written.
pub fn draw_pca(e: &Embeddings, figures: &Figures) -> Result<std::path::PathBuf> {
    let path = figures.path("word_embeddings_pca.png");
    plot::draw_png(&path, size::CHART, |root| {
        let range = |f: fn(&(String, f64, f64)) -> f64| {
            let lo = e.pca.iter().map(f).fold(0.0, f64::min);
            let hi = e.pca.iter().map(f).fold(0.0, f64::max);
            let pad = (hi - lo).max(1e-6) * 0.15;
            (lo - pad)..(hi + pad)
        };
        let mut chart = plot::chart(
            root,
            figures,
            "§2.2 word vectors, first two principal components",
            range(|p| p.1),
            range(|p| p.2),
        )?;
        plot::mesh(&mut chart, figures, "PC 1", "PC 2")?;
        chart.draw_series(
            e.pca
                .iter()
                .map(|(_, x, y)| Circle::new((*x, *y), 5, palette::BLUE.filled())),
        )?;
        if figures.has_text() {
            chart.draw_series(
                e.pca
                    .iter()
                    .map(|(w, x, y)| Text::new(w.clone(), (*x, *y), plot::font(16))),
            )?;
        }
        Ok(())
    })?;
    Ok(path)
}
