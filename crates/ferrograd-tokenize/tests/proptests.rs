//! Property tests: lossless round trips, no panics on any input, save/load fidelity.

use ferrograd_tokenize::{
    BagOfWords, ByteLevelBpe, ByteLevelTrainer, Gpt2Splits, WordBpe, WordBpeTrainer,
};
use proptest::prelude::*;
use std::sync::OnceLock;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata");

fn gpt2() -> &'static ByteLevelBpe {
    static TOK: OnceLock<ByteLevelBpe> = OnceLock::new();
    TOK.get_or_init(|| {
        ByteLevelBpe::from_openai_files(
            format!("{DATA}/gpt2/encoder.json"),
            format!("{DATA}/gpt2/vocab.bpe"),
        )
        .unwrap()
    })
}

/// Text built from pieces that stress the pre-tokenizer and the merges.
fn hostile_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        any::<char>().prop_map(|c| c.to_string()),
        Just("'s".to_string()),
        Just("'ll".to_string()),
        Just(" ".to_string()),
        Just("  ".to_string()),
        Just("\n\n".to_string()),
        Just("\u{3000}".to_string()),
        Just("e\u{301}".to_string()),
        Just("😀".to_string()),
        Just("<|endoftext|>".to_string()),
        Just("<|endof".to_string()),
        "[a-zA-Z]{1,12}",
        "[0-9]{1,6}",
        "[\u{4E00}-\u{4E20}]{1,4}",
    ];
    prop::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn decode_encode_is_identity(s in any::<String>()) {
        let tok = gpt2();
        prop_assert_eq!(tok.decode(&tok.encode(&s)).unwrap(), s.clone());
        prop_assert_eq!(tok.decode(&tok.encode_with_special(&s)).unwrap(), s);
    }

    #[test]
    fn decode_encode_is_identity_on_hostile_text(s in hostile_text()) {
        let tok = gpt2();
        prop_assert_eq!(tok.decode(&tok.encode(&s)).unwrap(), s.clone());
        prop_assert_eq!(tok.decode(&tok.encode_with_special(&s)).unwrap(), s.clone());
        // Pre-tokens tile the text.
        let mut at = 0;
        for (a, b) in Gpt2Splits::new(&s) {
            prop_assert_eq!(a, at);
            prop_assert!(b > a);
            at = b;
        }
        prop_assert_eq!(at, s.len());
    }

    #[test]
    fn encode_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let tok = gpt2();
        let s = String::from_utf8_lossy(&bytes);
        let ids = tok.encode(&s);
        for special in [false, true] {
            let enc = tok.encode_with_offsets(&s, special);
            // Offsets tile the text and each token's bytes are the text's bytes there.
            let mut at = 0;
            for (&id, &(a, b)) in enc.ids.iter().zip(&enc.offsets) {
                prop_assert_eq!(a, at);
                prop_assert_eq!(tok.token_bytes(id).unwrap(), &s.as_bytes()[a..b]);
                at = b;
            }
            prop_assert_eq!(at, s.len());
        }
        prop_assert_eq!(tok.encode_with_offsets(&s, false).ids, ids.clone());
        // Any ids decode (lossily) without panicking.
        let _ = tok.decode_lossy(&bytes.iter().map(|&b| u32::from(b) * 197).collect::<Vec<_>>());
    }

    #[test]
    fn loaders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512), text in ".{0,64}") {
        let _ = ByteLevelBpe::from_tokenizer_json(&bytes);
        let _ = ByteLevelBpe::from_openai(&bytes, text.as_bytes());
        let _ = ByteLevelBpe::from_hf(text.as_bytes(), &bytes);
        let _ = WordBpe::from_json(&text);
        let _ = BagOfWords::from_json(&text);
    }

    #[test]
    fn trained_tokenizers_save_and_load(
        corpus in prop::collection::vec("[abc ]{0,20}|[xyz']{1,5}|é|\u{4E00}", 1..40),
        probe in "[abcxyz' é\u{4E00}q]{0,30}",
        size in 257usize..300,
    ) {
        let text = corpus.join(" ");
        let byte = ByteLevelTrainer::new(size).train(&text).unwrap();
        let again = ByteLevelBpe::from_tokenizer_json(byte.to_tokenizer_json().as_bytes()).unwrap();
        prop_assert_eq!(again.encode(&probe), byte.encode(&probe));
        prop_assert_eq!(again.encode(&text), byte.encode(&text));
        prop_assert_eq!(byte.decode(&byte.encode(&probe)).unwrap(), probe.clone());

        let word = WordBpeTrainer::new(size - 250).train_text(&text).unwrap();
        let again = WordBpe::from_json(&word.to_json()).unwrap();
        prop_assert_eq!(again.encode(&probe), word.encode(&probe));
        prop_assert_eq!(again.encode(&text), word.encode(&text));
        for w in probe.split(' ') {
            prop_assert_eq!(word.tokenize_word(w), word.tokenize_word_in_order(w));
        }
    }
}
