//! Trains skip-gram word vectors on a corpus file of whitespace-separated words, one
//! sentence per line (gensim's `LineSentence` format), saves them in word2vec's text format
//! and prints the run's numbers as one JSON line. `scripts/word2vec_compare.py` runs it side
//! by side with gensim.
//!
//! ```text
//! cargo run --release -p ferrograd-lm --example word2vec_train -- CORPUS OUT.txt \
//!     [--dim 100] [--window 5] [--negative 5] [--min-count 5] [--sample 1e-3] \
//!     [--epochs 5] [--threads 1] [--seed 1] [--alpha 0.025]
//! ```

use ferrograd_lm::word2vec::{Word2Vec, Word2VecConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        return Err("usage: word2vec_train CORPUS OUT.txt [--dim N] [--window N] [--negative N] [--min-count N] [--sample X] [--epochs N] [--threads N] [--seed N] [--alpha X]".into());
    }
    let mut config = Word2VecConfig::default();
    let mut it = args[2..].iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--dim" => config.dim = value.parse()?,
            "--window" => config.window = value.parse()?,
            "--negative" => config.negative = value.parse()?,
            "--min-count" => config.min_count = value.parse()?,
            "--sample" => config.sample = value.parse()?,
            "--epochs" => config.epochs = value.parse()?,
            "--threads" => config.threads = value.parse()?,
            "--seed" => config.seed = value.parse()?,
            "--alpha" => config.alpha = value.parse()?,
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    let text = std::fs::read_to_string(&args[0])?;
    let sentences: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|s| !s.is_empty())
        .collect();
    let (model, stats) = Word2Vec::train(&sentences, &config)?;
    model.vectors().save_word2vec_text(&args[1])?;
    println!(
        "{{\"words\": {}, \"effective_words\": {}, \"pairs\": {}, \"seconds\": {:.6}, \"words_per_second\": {:.1}, \"vocabulary\": {}, \"threads\": {}}}",
        stats.words,
        stats.effective_words,
        stats.pairs,
        stats.seconds,
        stats.words_per_second(),
        model.vocabulary_words().len(),
        config.threads
    );
    Ok(())
}
