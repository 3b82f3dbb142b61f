//! `ferrograd_tokenize`: Hugging Face `tokenizer.json`, `vocab.json` + `merges.txt`, the
//! crate's own JSON (word-level BPE, bag of words) parsed from bytes, and text encoded,
//! decoded, pre-tokenised and trained on.
//!
//! An input is one mode byte and up to three parts separated by `\0\x01\0`:
//! mode 0: `tokenizer.json`, text; mode 1: `vocab.json`, `merges.txt`, text; mode 2: the
//! JSON of a `WordBpe` or `BagOfWords`, text; mode 3: text only (GPT-2's own files, and
//! small byte-level and word-level BPEs trained on the text).
//!
//! Checked beyond "no panic": errors name the file; a loaded tokenizer's offsets tile the
//! text and give each token's bytes; with every byte in its vocabulary and no unknown
//! token, decode(encode(text)) is the text; a tokenizer written out and read back (HF
//! `tokenizer.json`, our JSON) encodes the same; GPT-2 and trained tokenizers round-trip
//! any text.

use crate::{Rng, Target};
use ferrograd_tokenize::{
    BagOfWords, BatchOptions, ByteLevelBpe, ByteLevelTrainer, Gpt2Splits, Padding,
    TokenizeError, WordBpe, WordBpeTrainer,
};
use std::sync::OnceLock;

/// The target.
pub const TARGET: Target = Target {
    name: "tokenize",
    about: "ferrograd_tokenize file parsing (tokenizer.json, vocab/merges, own JSON), encode/decode, training",
    run,
    seeds,
    dictionary: DICTIONARY,
    mutate: Some(mutate),
    max_len: 4096,
};

const SEP: &[u8] = b"\0\x01\0";

const DICTIONARY: &[&[u8]] = &[
    b"\0\x01\0",
    b"\"model\"",
    b"\"vocab\"",
    b"\"merges\"",
    b"\"added_tokens\"",
    b"\"type\": \"BPE\"",
    b"\"pre_tokenizer\": {\"type\": \"ByteLevel\"}",
    b"\"add_prefix_space\": true",
    b"\"unk_token\": \"a\"",
    b"\"fuse_unk\": true",
    b"\"ignore_merges\": true",
    b"{\"id\": 5, \"content\": \"<s>\", \"special\": true}",
    b"\"\xc4\xa0\"",
    b"\xc4\xa0t",
    b"#version: 0.2\n",
    b"\"a b\"",
    b"[\"a\", \"b\"]",
    b"\"type\":\"WordBpe\"",
    b"\"type\":\"BagOfWords\"",
    b"\"charset\"",
    b"\"whole_words\"",
    b"<|endoftext|>",
    b"'s",
    b"'ll",
    b"  \n",
    b"\xe2\x80\xa8",
    b"\xf0\x9f\x98\x80",
    b"e\xcc\x81",
    b"\xe4\xbd\xa0",
    b"4000000000",
];

/// Changes the mode, or moves a separator: the parts are where the structure is.
fn mutate(data: &mut Vec<u8>, rng: &mut Rng) {
    if data.is_empty() || rng.one_in(3) {
        if data.is_empty() {
            data.push(0);
        }
        data[0] = rng.byte() % 4;
    } else {
        let at = 1 + rng.below(data.len());
        data.splice(at.min(data.len())..at.min(data.len()), SEP.iter().copied());
    }
}

fn parts(data: &[u8]) -> (u8, Vec<&[u8]>) {
    let Some((&mode, mut rest)) = data.split_first() else {
        return (3, Vec::new());
    };
    let mut out = Vec::new();
    while let Some(i) = rest.windows(SEP.len()).position(|w| w == SEP) {
        out.push(&rest[..i]);
        rest = &rest[i + SEP.len()..];
    }
    out.push(rest);
    (mode % 4, out)
}

fn joined(mode: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![mode];
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(SEP);
        }
        out.extend_from_slice(p);
    }
    out
}

const TEXT: &str = "Hello world, it's  2024!\n\u{4F60}\u{597D} caf\u{e9} \u{1F600} <|endoftext|> e\u{301}";

/// Seeds: files the library writes itself, and a few by hand.
pub fn seeds() -> Vec<Vec<u8>> {
    let corpus = "low lower lowest newer newest wider widest it's we'll ".repeat(8);
    let mut out = Vec::new();
    if let Ok(tok) = ByteLevelTrainer::new(300).train(&corpus) {
        out.push(joined(0, &[tok.to_tokenizer_json().as_bytes(), TEXT.as_bytes()]));
    }
    let mini = r#"{"added_tokens": [{"id": 3, "content": "<s>", "special": true}],
 "normalizer": null, "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": true},
 "model": {"type": "BPE", "unk_token": "a", "fuse_unk": true,
   "vocab": {"a": 0, "b": 1, "ab": 2, "<s>": 3}, "merges": [["a", "b"]]}}"#;
    out.push(joined(0, &[mini.as_bytes(), b"abab<s>ba xyz"]));
    out.push(joined(
        1,
        &[
            br#"{"a": 0, "b": 1, "ab": 2, "\u0120": 3, "\u0120a": 4}"#,
            b"#version: 0.2\na b\n\xc4\xa0 a\n",
            b"ab a ab",
        ],
    ));
    if let Ok(bpe) = WordBpeTrainer::new(40).train_text(&corpus) {
        out.push(joined(2, &[bpe.to_json().as_bytes(), b"lowest newest unknown!"]));
    }
    let bow = BagOfWords::fit(&["Movies are fun.", "Watching movies is great fun."]);
    out.push(joined(2, &[bow.to_json().as_bytes(), b"fun fun movies"]));
    out.push(joined(3, &[TEXT.as_bytes()]));
    out.push(joined(3, &[b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa  \t\n\n 's's"]));
    out
}

fn gpt2() -> Option<&'static ByteLevelBpe> {
    static GPT2: OnceLock<Option<ByteLevelBpe>> = OnceLock::new();
    GPT2.get_or_init(|| {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../crates/ferrograd-tokenize/testdata/gpt2");
        ByteLevelBpe::from_openai_files(format!("{dir}/encoder.json"), format!("{dir}/vocab.bpe")).ok()
    })
    .as_ref()
}

/// The target's entry point.
pub fn run(data: &[u8]) {
    let (mode, parts) = parts(data);
    let part = |i: usize| parts.get(i).copied().unwrap_or_default();
    match mode {
        0 => {
            let text = String::from_utf8_lossy(part(1));
            match ByteLevelBpe::from_tokenizer_json(part(0)) {
                Ok(tok) => {
                    crate::accepted();
                    exercise(&tok, &text);
                    let again = ByteLevelBpe::from_tokenizer_json(tok.to_tokenizer_json().as_bytes())
                        .expect("a tokenizer we wrote loads again");
                    assert_eq!(again.encode_with_special(&text), tok.encode_with_special(&text));
                }
                Err(e) => check_error(&e, "tokenizer.json"),
            }
        }
        1 => {
            let text = String::from_utf8_lossy(part(2));
            match ByteLevelBpe::from_hf(part(0), part(1)) {
                Ok(tok) => {
                    crate::accepted();
                    exercise(&tok, &text);
                }
                Err(e) => {
                    let text = e.to_string();
                    assert!(
                        text.starts_with("vocab.json") || text.starts_with("merges.txt"),
                        "the error names the file: {text}"
                    );
                }
            }
        }
        2 => {
            let json = String::from_utf8_lossy(part(0));
            let text = String::from_utf8_lossy(part(1));
            if let Ok(bpe) = WordBpe::from_json(&json) {
                crate::accepted();
                let ids = bpe.encode(&text);
                let _ = bpe.decode(&ids);
                for w in text.split_whitespace().take(50) {
                    assert_eq!(bpe.tokenize_word(w), bpe.tokenize_word_in_order(w), "{w:?}");
                }
                let again = WordBpe::from_json(&bpe.to_json()).expect("our JSON loads again");
                assert_eq!(again.encode(&text), ids);
            }
            if let Ok(bow) = BagOfWords::from_json(&json) {
                crate::accepted();
                let v = bow.counts(&text);
                assert_eq!(v.len(), bow.vocabulary().len());
                let again = BagOfWords::from_json(&bow.to_json()).expect("our JSON loads again");
                assert_eq!(again, bow);
            }
        }
        _ => {
            let text = String::from_utf8_lossy(&data[data.len().min(1)..]);
            crate::accepted();
            let mut at = 0;
            for (a, b) in Gpt2Splits::new(&text) {
                assert!(a == at && b > a, "pre-tokens tile the text");
                at = b;
            }
            assert_eq!(at, text.len());
            if let Some(gpt2) = gpt2() {
                exercise(gpt2, &text);
            }
            if text.len() <= 512 {
                let tok = ByteLevelTrainer::new(300).train(&text).expect("training on any text works");
                exercise(&tok, &text);
                let again = ByteLevelBpe::from_tokenizer_json(tok.to_tokenizer_json().as_bytes())
                    .expect("a trained tokenizer loads again");
                assert_eq!(again.encode(&text), tok.encode(&text));
                let bpe = WordBpeTrainer::new(60).train_text(&text).expect("training on any text works");
                let again = WordBpe::from_json(&bpe.to_json()).expect("our JSON loads again");
                assert_eq!(again.encode(&text), bpe.encode(&text));
            }
        }
    }
}

fn check_error(e: &TokenizeError, file: &str) {
    let text = e.to_string();
    assert!(text.starts_with(file), "the error names {file}: {text}");
}

/// Encodes `text` every way the tokenizer offers and checks what can be checked.
fn exercise(tok: &ByteLevelBpe, text: &str) {
    let ids = tok.encode(text);
    let _ = tok.decode_lossy(&ids).expect("our own ids decode");
    let lossless = (0..=255u8).all(|b| {
        let name = ferrograd_tokenize::byte_to_char(b).to_string();
        tok.token_to_id(&name).is_some()
    });
    for special in [false, true] {
        let enc = tok.encode_with_offsets(text, special);
        assert_eq!(enc.ids.len(), enc.offsets.len());
        // HF aligns the space `add_prefix_space` inserts with the first character of the
        // text (or segment) it precedes, so the token after a lone inserted space (which
        // may be the unknown token) starts where that one-character range starts; every
        // other token starts at or after the previous one's end.
        let (mut at, mut prev): (usize, Option<(usize, usize)>) = (0, None);
        for &(a, b) in &enc.offsets {
            let after_inserted_space = tok.add_prefix_space()
                && prev.is_some_and(|(pa, pb)| {
                    pa == a && text.get(pa..pb).is_some_and(|c| c.chars().count() == 1)
                });
            assert!(
                (a >= at || after_inserted_space) && b >= a && b <= text.len(),
                "offsets in order, inside the text: {text:?} {:?}",
                enc.offsets
            );
            (at, prev) = (b, Some((a, b)));
        }
        if special {
            assert_eq!(enc.ids, tok.encode_with_special(text));
        } else {
            assert_eq!(enc.ids, ids);
        }
    }
    if lossless {
        // Every byte has a token, so nothing is dropped: the bytes come back (with the
        // space a tokenizer with `add_prefix_space` puts in front).
        let bytes = tok.decode_bytes(&ids).expect("our own ids decode");
        let spaced = format!(" {text}");
        assert!(
            bytes == text.as_bytes() || bytes == spaced.as_bytes(),
            "decode(encode(text)) == text"
        );
    }
    let batch = tok.encode_batch(&[text, "x", ""], &BatchOptions::new().threads(2).pad(Padding::Longest, 0));
    assert!(batch.iter().all(|e| e.ids.len() == batch[0].ids.len()));
}
