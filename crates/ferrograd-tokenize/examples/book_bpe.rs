//! The book's BPE experiment (§2.3): train a 5,000-token word-level BPE on the first
//! 500,000 words of a corpus and tokenise the book's sentence with both tokenisers.
//!
//! `cargo run --release -p ferrograd-tokenize --example book_bpe -- [CORPUS] [VOCAB] [WORDS]`
//! (default corpus: the crate's copy of tinyshakespeare).

use ferrograd_tokenize::WordBpeTrainer;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args.first().cloned().unwrap_or_else(|| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/tinyshakespeare.txt").to_string()
    });
    let vocab: usize = args.get(1).map_or(Ok(5000), |s| s.parse())?;
    let max_words: usize = args.get(2).map_or(Ok(500_000), |s| s.parse())?;
    let text = std::fs::read_to_string(&path)?;
    let start = Instant::now();
    let bpe = WordBpeTrainer::new(vocab)
        .max_words(max_words)
        .train_text(&text)?;
    println!(
        "trained {} merges ({} tokens with <UNK>) on {path} in {:.3} s",
        bpe.merges().count(),
        bpe.vocab_size(),
        start.elapsed().as_secs_f64()
    );
    let sentence = "Let's proceed to the language modeling part.";
    for word in sentence.split_whitespace() {
        println!(
            "{word} -> {:?}  (in order: {:?})",
            bpe.tokenize_word(word),
            bpe.tokenize_word_in_order(word)
        );
    }
    Ok(())
}
