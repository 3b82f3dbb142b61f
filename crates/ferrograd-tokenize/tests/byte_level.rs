//! Byte-level BPE: file formats, training, save/load, batches, errors, hostile input.

use ferrograd_tokenize::{
    BatchOptions, ByteLevelBpe, ByteLevelTrainer, Padding, Side, TokenizeError,
};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata");

fn gpt2() -> ByteLevelBpe {
    ByteLevelBpe::from_openai_files(
        format!("{DATA}/gpt2/encoder.json"),
        format!("{DATA}/gpt2/vocab.bpe"),
    )
    .unwrap()
}

fn shakespeare() -> String {
    std::fs::read_to_string(format!("{DATA}/tinyshakespeare.txt")).unwrap()
}

#[test]
fn gpt2_facts() {
    let tok = gpt2();
    assert_eq!(tok.vocab_size(), 50257);
    assert_eq!(tok.num_merges(), 50000);
    assert_eq!(tok.merges().next(), Some(("Ġ", "t")));
    assert_eq!(tok.token_to_id("<|endoftext|>"), Some(50256));
    assert_eq!(tok.token_to_id("Ġthe"), Some(262));
    assert_eq!(tok.id_to_token(262), Some("Ġthe"));
    assert_eq!(tok.token_bytes(262), Some(&b" the"[..]));
    assert_eq!(tok.added_tokens().len(), 1);
}

#[derive(serde::Deserialize)]
struct Tiny {
    strings: Vec<String>,
    ids: Vec<Vec<u32>>,
}

/// HF's own tokenizer.json (tiny-random-gpt2, a vocabulary without some byte tokens, so
/// bytes are dropped as HF drops them) gives HF tokenizers' ids
/// (testdata/reference/tiny_random_gpt2.json, from scripts/make_reference.py).
#[test]
fn hf_tokenizer_json_gives_hf_ids() {
    let tok =
        ByteLevelBpe::from_tokenizer_json_file(format!("{DATA}/tiny-random-gpt2/tokenizer.json"))
            .unwrap();
    let text = std::fs::read_to_string(format!("{DATA}/reference/tiny_random_gpt2.json")).unwrap();
    let reference: Tiny = serde_json::from_str(&text).unwrap();
    for (s, ids) in reference.strings.iter().zip(&reference.ids) {
        assert_eq!(&tok.encode_with_special(s), ids, "{s:?}");
    }
    // The same model from vocab.json + merges.txt.
    let plain = ByteLevelBpe::from_hf_files(
        format!("{DATA}/tiny-random-gpt2/vocab.json"),
        format!("{DATA}/tiny-random-gpt2/merges.txt"),
    )
    .unwrap();
    assert_eq!(plain.encode("Hello world"), reference.ids[0]);
}

#[test]
fn gpt2_through_tokenizer_json_is_unchanged() {
    let tok = gpt2();
    let json = tok.to_tokenizer_json();
    let again = ByteLevelBpe::from_tokenizer_json(json.as_bytes()).unwrap();
    let text = shakespeare();
    let sample = &text[..200_000];
    assert_eq!(again.encode(sample), tok.encode(sample));
    assert_eq!(again.to_tokenizer_json(), json);
}

#[test]
fn trained_tokenizer_saves_and_loads() {
    let text = shakespeare();
    let tok = ByteLevelTrainer::new(1000).train(&text).unwrap();
    assert_eq!(tok.vocab_size(), 1000);
    assert_eq!(tok.token_to_id("<|endoftext|>"), Some(0));
    let dir = std::env::temp_dir().join(format!("ferrograd-bl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tokenizer.json");
    tok.save(&path).unwrap();
    let again = ByteLevelBpe::from_tokenizer_json_file(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let ids = tok.encode(&text);
    assert_eq!(again.encode(&text), ids);
    assert_eq!(tok.decode(&ids).unwrap(), text);
    // More merges compress more: 1000 tokens give fewer ids than bytes by a wide margin.
    assert!(
        ids.len() * 2 < text.len(),
        "{} ids for {} bytes",
        ids.len(),
        text.len()
    );
    // Threads change nothing.
    let threaded = ByteLevelTrainer::new(1000).threads(4).train(&text).unwrap();
    assert_eq!(threaded.to_tokenizer_json(), tok.to_tokenizer_json());
}

#[test]
fn batches_pad_truncate_and_mask() {
    let tok = gpt2();
    let texts = ["Hello world", "a b c d e f", "", "<|endoftext|> x"];
    let plain = BatchOptions::new().threads(1);
    let one = tok.encode_batch(&texts, &plain);
    let many = tok.encode_batch(&texts, &plain.clone().threads(3));
    assert_eq!(one, many);
    for (t, e) in texts.iter().zip(&one) {
        assert_eq!(e.ids, tok.encode(t));
        assert_eq!(e.attention_mask, vec![1; e.ids.len()]);
        // Offsets cover the text, in order, without gaps.
        let mut at = 0;
        for &(a, b) in &e.offsets {
            assert_eq!(a, at);
            at = b;
        }
        assert_eq!(at, t.len());
    }
    let longest = one.iter().map(|e| e.ids.len()).max().unwrap();
    // <|endoftext|> as text is 7 tokens (tiktoken: 27, 91, 437, 1659, 5239, 91, 29), then " x".
    assert_eq!(longest, 8);
    let padded = tok.encode_batch(&texts, &BatchOptions::new().pad(Padding::Longest, 99));
    assert!(padded.iter().all(|e| e.ids.len() == longest));
    assert_eq!(padded[0].ids, [15496, 995, 99, 99, 99, 99, 99, 99]);
    assert_eq!(padded[0].attention_mask, [1, 1, 0, 0, 0, 0, 0, 0]);
    assert_eq!(padded[0].offsets[2..], [(0, 0); 6]);
    let special = tok.encode_batch(
        &texts,
        &BatchOptions::new()
            .special(true)
            .truncate(2)
            .truncation_side(Side::Left),
    );
    assert_eq!(special[3].ids, [50256, 2124]);
    assert_eq!(special[3].offsets, [(0, 13), (13, 15)]);
    assert_eq!(special[1].ids, tok.encode(" e f"));
    let fixed = tok.encode_batch(
        &texts,
        &BatchOptions::new()
            .pad(Padding::Fixed(3), 7)
            .padding_side(Side::Left)
            .offsets(false),
    );
    assert_eq!(fixed[2].ids, [7, 7, 7]);
    assert_eq!(fixed[1].ids.len(), 6);
    assert!(fixed[0].offsets.is_empty());
}

#[test]
fn decode_reports_or_replaces_invalid_utf8() {
    let tok = gpt2();
    let ids = tok.encode("😀");
    assert!(ids.len() > 1, "the emoji takes several tokens");
    match tok.decode(&ids[..1]) {
        Err(TokenizeError::InvalidUtf8 { byte_offset, bytes }) => {
            assert_eq!(byte_offset, 0);
            assert_eq!(bytes, tok.token_bytes(ids[0]).unwrap());
        }
        other => panic!("expected InvalidUtf8, got {other:?}"),
    }
    assert_eq!(tok.decode_lossy(&ids[..1]).unwrap(), "\u{FFFD}");
    let err = tok.decode(&[50257]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "decode: id 50257 is not in the vocabulary (size 50257)"
    );
}

#[test]
fn malformed_files_name_the_file_line_and_problem() {
    let enc = std::fs::read(format!("{DATA}/gpt2/encoder.json")).unwrap();
    let bpe = std::fs::read(format!("{DATA}/gpt2/vocab.bpe")).unwrap();
    // A merge of an unknown token on line 3 of vocab.bpe.
    let mut bad = bpe.clone();
    let second_line_end = bad
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(2)
        .unwrap()
        .0;
    bad.splice(second_line_end..second_line_end, b"zzz".iter().copied());
    let err = ByteLevelBpe::from_openai(&enc, &bad).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("vocab.bpe:3: merge \"Ġ\" \"azzz\": \"azzz\" is not in the vocabulary"),
        "{err}"
    );
    // A duplicate token in encoder.json.
    let bad = String::from_utf8(enc.clone())
        .unwrap()
        .replacen("\"#\": 2", "\"!\": 2", 1);
    let err = ByteLevelBpe::from_openai(bad.as_bytes(), &bpe).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("encoder.json:1: duplicate token \"!\""),
        "{err}"
    );
    // Truncated JSON.
    let err = ByteLevelBpe::from_openai(&enc[..1000], &bpe).unwrap_err();
    assert!(
        err.to_string().starts_with("encoder.json:1: bad JSON: EOF"),
        "{err}"
    );
    // An id far beyond the vocabulary is refused, not allocated.
    let err = ByteLevelBpe::from_hf(br#"{"a": 0, "b": 4000000000}"#, b"").unwrap_err();
    assert_eq!(
        err.to_string(),
        "vocab.json:0: ids are not dense: the largest is 4000000000 but there are only 2 tokens"
    );
    // Missing file.
    let err = ByteLevelBpe::from_openai_files("/nonexistent/encoder.json", "x").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("reading /nonexistent/encoder.json: "),
        "{err}"
    );
}

/// Hostile input encodes (timings are in the criterion benchmark `hostile`).
#[test]
fn hostile_input_round_trips() {
    let tok = gpt2();
    for text in [
        "a".repeat(100_000),
        " ".repeat(10_000) + "x",
        "\u{301}".repeat(5_000),
        "😀".repeat(5_000),
        "1".repeat(10_000),
    ] {
        let ids = tok.encode(&text);
        assert_eq!(tok.decode(&ids).unwrap(), text);
    }
}

/// tiny-random-gpt2's tokenizer.json with the pre-tokenizer's `add_prefix_space` on.
fn tiny_with_prefix_space() -> ByteLevelBpe {
    let json = std::fs::read_to_string(format!("{DATA}/tiny-random-gpt2/tokenizer.json")).unwrap();
    let from =
        "\"pre_tokenizer\": {\n    \"type\": \"ByteLevel\",\n    \"add_prefix_space\": false";
    assert!(json.contains(from));
    let json = json.replacen(from, &from.replace("false", "true"), 1);
    ByteLevelBpe::from_tokenizer_json(json.as_bytes()).unwrap()
}

/// Expected values printed by HF tokenizers 0.23.3 for the same file with
/// `pre_tokenizer.add_prefix_space = true`:
/// `Tokenizer.from_str(json).encode(s)` → `.ids`, `.offsets` (character offsets; every
/// text here is ASCII, so they are also byte offsets). Ġ = 159, Ċ = 158, x = 88,
/// ĠĊ = 252, ab = 372, Ġc = 212, <|endoftext|> = 0.
#[test]
fn prefix_space_follows_hf_for_empty_text_and_leading_newlines() {
    let tok = tiny_with_prefix_space();
    // '' → [] (the prefix space was encoded as Ġ alone).
    assert_eq!(tok.encode(""), Vec::<u32>::new());
    assert_eq!(tok.encode_with_special(""), Vec::<u32>::new());
    for special in [false, true] {
        let enc = tok.encode_with_offsets("", special);
        assert!(enc.ids.is_empty() && enc.offsets.is_empty());
    }
    type Case = (&'static str, &'static [u32], &'static [(usize, usize)]);
    let cases: [Case; 5] = [
        // The added space stands for the first character: (0, 1), not (0, 0).
        ("\nx", &[159, 158, 88], &[(0, 1), (0, 1), (1, 2)]),
        ("x", &[159, 88], &[(0, 1), (0, 1)]),
        (" x", &[159, 88], &[(0, 1), (1, 2)]),
        (
            "\n\nab c",
            &[252, 158, 372, 212],
            &[(0, 1), (1, 2), (2, 4), (4, 6)],
        ),
        ("  x", &[159, 159, 88], &[(0, 1), (1, 2), (2, 3)]),
    ];
    for (text, ids, offsets) in cases {
        assert_eq!(tok.encode(text), ids, "{text:?}");
        assert_eq!(tok.encode_with_special(text), ids, "{text:?}");
        for special in [false, true] {
            let enc = tok.encode_with_offsets(text, special);
            assert_eq!(enc.ids, ids, "{text:?}");
            assert_eq!(enc.offsets, offsets, "{text:?}");
        }
    }
    // Each piece between added tokens gets its own prefix space.
    assert_eq!(tok.encode_with_special("<|endoftext|>x"), [0, 159, 88]);
    let enc = tok.encode_with_offsets("<|endoftext|>x", true);
    assert_eq!(enc.offsets, [(0, 13), (13, 14), (13, 14)]);
    let enc = tok.encode_with_offsets("<|endoftext|>\nx", true);
    assert_eq!(enc.ids, [0, 159, 158, 88]);
    assert_eq!(enc.offsets, [(0, 13), (13, 14), (13, 14), (14, 15)]);
}

/// A text whose `as_ref` panics when called off the thread that made it (armed), so
/// that the panic happens inside a batch worker, not while the batch is planned.
#[derive(Clone, Copy)]
struct PanicsOnWorker {
    text: &'static str,
    home: std::thread::ThreadId,
    armed: bool,
}

impl AsRef<str> for PanicsOnWorker {
    fn as_ref(&self) -> &str {
        if self.armed && std::thread::current().id() != self.home {
            panic!("text {:?} refuses to be read on a worker", self.text);
        }
        self.text
    }
}

#[test]
fn a_panicking_worker_is_not_a_short_batch() {
    let tok = gpt2();
    let home = std::thread::current().id();
    let texts: Vec<PanicsOnWorker> = ["one text", "two", "three texts here", "four"]
        .into_iter()
        .enumerate()
        .map(|(i, text)| PanicsOnWorker {
            text,
            home,
            armed: i == 2,
        })
        .collect();
    let options = BatchOptions::new().threads(2);
    // Unarmed, the same batch encodes every text.
    let calm: Vec<PanicsOnWorker> = texts
        .iter()
        .map(|t| PanicsOnWorker { armed: false, ..*t })
        .collect();
    assert_eq!(tok.encode_batch(&calm, &options).len(), 4);
    // Armed: the worker's panic reaches the caller (it was swallowed, and the batch came
    // back without the worker's texts).
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        tok.encode_batch(&texts, &options)
    }));
    let payload = result.expect_err("the worker's panic must reach the caller");
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        message.contains("refuses to be read on a worker"),
        "{message}"
    );
}
