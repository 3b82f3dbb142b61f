//! How often the book's §2.1 classifier (3000 SGD steps at lr 0.001) predicts the book's
//! classes for its two new documents, over seeds 0..N: the training is so short that the
//! answer depends on the initial weights, in PyTorch too (`scripts/bow_seeds.py`).
//!
//! ```text
//! cargo run --release -p ferrograd-lm --example bow_seeds -- [N]
//! ```

use ferrograd_lm::bow::{BOOK_DOCS, BOOK_LABELS, BOOK_NEW_DOCS, BowClassifier, BowConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u64 = std::env::args().nth(1).map_or(Ok(50), |s| s.parse())?;
    let mut agree = 0;
    let mut first = Vec::new();
    for seed in 0..n {
        let config = BowConfig {
            seed,
            ..BowConfig::default()
        };
        let (model, _) = BowClassifier::train(&BOOK_DOCS, &BOOK_LABELS, &config, &mut |_, _| {})?;
        let p = model.predict(&BOOK_NEW_DOCS)?;
        if p == ["Music", "Science"] {
            agree += 1;
            first.push(seed);
        }
    }
    println!(
        "{agree}/{n} seeds predict [Music, Science]; the first: {:?}",
        &first[..first.len().min(10)]
    );
    Ok(())
}
