//! ROUGE against Google's `rouge-score` (reference file made by
//! `scripts/rouge_reference.py`), and the book's example numbers.

use ferrograd_lm::eval::rouge;

#[test]
fn equal_to_rouge_score_on_300_generated_pairs() {
    let v: serde_json::Value =
        serde_json::from_str(include_str!("data/rouge_reference.json")).unwrap();
    let pairs = v["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 300);
    for pair in pairs {
        let reference = pair["reference"].as_str().unwrap();
        let candidate = pair["candidate"].as_str().unwrap();
        let r = rouge(reference, candidate);
        for (name, ours) in [
            ("rouge1", r.rouge1),
            ("rouge2", r.rouge2),
            ("rougeL", r.rouge_l),
        ] {
            let theirs: Vec<f64> = pair[name]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            // The same ratios of the same integers: equal to the last bit but for the
            // F1 formula's rounding, hence 1e-15.
            for (a, b) in [ours.precision, ours.recall, ours.f1]
                .into_iter()
                .zip(theirs)
            {
                assert!(
                    (a - b).abs() <= 1e-15,
                    "{name} of {reference:?} vs {candidate:?}: {a} vs {b}"
                );
            }
        }
    }
}

#[test]
fn the_books_example_numbers() {
    // A reference of 9 tokens and a generated text of 8 sharing 6 unigrams (clipped) and a
    // longest common subsequence of 5: the book's ROUGE-1 recall 6/9, LCS 5, and ROUGE-L
    // 0.5565 as the recall-weighted F with β = 8 of R = 5/9, P = 5/8.
    let r = rouge(
        "the quick brown fox jumps over the lazy dog",
        "lazy, the quick brown fox jumps high today",
    );
    assert_eq!((r.reference_len, r.candidate_len), (9, 8));
    assert_eq!(r.rouge1.recall, 6.0 / 9.0);
    assert_eq!(r.rouge1.precision, 6.0 / 8.0);
    assert_eq!(
        (r.rouge2.recall, r.rouge2.precision),
        (4.0 / 8.0, 4.0 / 7.0)
    );
    assert_eq!(r.lcs, 5);
    assert_eq!(
        (r.rouge_l.recall, r.rouge_l.precision),
        (5.0 / 9.0, 5.0 / 8.0)
    );
    assert!((r.rouge_l.f_beta(8.0) - 0.556_506_849_3).abs() < 1e-9);
    assert_eq!(format!("{:.4}", r.rouge_l.f_beta(8.0)), "0.5565");
    // F1 is rouge-score's: 2·(5/9)(5/8) / (5/9 + 5/8) = 10/17.
    assert!((r.rouge_l.f1 - 10.0 / 17.0).abs() < 1e-15);
}
