//! The chapter-3 text pipeline: the notebook's line rules (strip, digit runs, truncation,
//! short lines dropped), Python's universal newlines, padded batches, shuffling, streaming
//! and saved positions, and errors for bad input.
//!
//! Expected strings marked "Python:" were printed by Python 3.11.7
//! (`re.sub(r"\d+", "###", s)`, `s.strip()`, iterating a file opened in text mode).

use ferrograd_data::DataError;
use ferrograd_data::text::{
    BatchSource, DataPosition, LineBatches, LineOptions, LineReader, Padding, StreamingBatches,
    TextEncoder, TokenizedLines, collate_lines, python_strip, replace_digits,
};
use std::io::BufReader;
use std::path::PathBuf;
use std::sync::Arc;

/// One id per byte: lets the tests count tokens by eye.
#[derive(Debug)]
struct Bytes;

impl TextEncoder for Bytes {
    fn encode(&self, text: &str) -> Vec<u32> {
        text.bytes().map(u32::from).collect()
    }
    fn decode(&self, ids: &[u32]) -> ferrograd_data::Result<String> {
        Ok(String::from_utf8_lossy(&ids.iter().map(|&i| i as u8).collect::<Vec<_>>()).into_owned())
    }
    fn vocab_size(&self) -> usize {
        256
    }
}

/// Bytes shifted by one: another tokenizer with the same kind of output.
#[derive(Debug)]
struct Shifted;

impl TextEncoder for Shifted {
    fn encode(&self, text: &str) -> Vec<u32> {
        text.bytes().map(|b| u32::from(b) + 1).collect()
    }
    fn decode(&self, ids: &[u32]) -> ferrograd_data::Result<String> {
        Ok(
            String::from_utf8_lossy(&ids.iter().map(|&i| (i - 1) as u8).collect::<Vec<_>>())
                .into_owned(),
        )
    }
    fn vocab_size(&self) -> usize {
        257
    }
}

fn temp_file(tag: &str, contents: &[u8]) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "ferrograd-data-lines-{}-{tag}.txt",
        std::process::id()
    ));
    std::fs::write(&path, contents).unwrap();
    path
}

#[test]
fn strip_and_digits_follow_python() {
    // Python: 'In ###, the ###rd of ### (Arabic), ### (fullwidth), ½ and x² stay; ###.###% → ###'
    let s = "In 2024, the 3rd of ١٢٣ (Arabic), ５ (fullwidth), ½ and x² stay; 12.5% → 𝟗𝟗";
    assert_eq!(
        replace_digits(s),
        "In ###, the ###rd of ### (Arabic), ### (fullwidth), ½ and x² stay; ###.###% → ###"
    );
    assert!(matches!(
        replace_digits("no digits"),
        std::borrow::Cow::Borrowed(_)
    ));
    // Python: '\x1c  hello\u3000\x1f\xa0'.strip() == 'hello'
    assert_eq!(python_strip("\u{1c}  hello\u{3000}\u{1f}\u{a0}"), "hello");
    assert_eq!(python_strip(" \t\r\n"), "");
}

#[test]
fn lines_split_as_python_text_files_do() {
    // Python: ['a\n', 'b\n', 'c\n', 'd\x0be\u2028f\x85g'] (universal newlines only).
    let text = "a\rb\r\nc\nd\u{b}e\u{2028}f\u{85}g";
    for capacity in [1, 2, 3, 64] {
        let mut reader = LineReader::new(
            BufReader::with_capacity(capacity, text.as_bytes()),
            "t",
            1 << 10,
        );
        let mut lines = Vec::new();
        while let Some((line, n)) = reader.next_line().unwrap() {
            lines.push((line, n));
        }
        let expected: Vec<(String, u64)> = ["a", "b", "c", "d\u{b}e\u{2028}f\u{85}g"]
            .iter()
            .enumerate()
            .map(|(i, s)| (s.to_string(), i as u64 + 1))
            .collect();
        assert_eq!(lines, expected, "buffer of {capacity} bytes");
        assert_eq!(reader.position(), (text.len() as u64, 5));
    }
    // A trailing newline makes no extra line; an empty text has none.
    let mut reader = LineReader::new("x\n".as_bytes(), "t", 10);
    assert_eq!(reader.next_line().unwrap(), Some(("x".into(), 1)));
    assert_eq!(reader.next_line().unwrap(), None);
    assert_eq!(
        LineReader::new("".as_bytes(), "t", 10).next_line().unwrap(),
        None
    );
}

#[test]
fn the_notebook_rules_make_the_examples() {
    let text = "  Hello, 2024!  \n\n x\nab\nThis line is longer than ten tokens\n\t\n";
    let corpus = TokenizedLines::from_text(text, &Bytes, &LineOptions::new(10), "toy").unwrap();
    // "Hello, ###!" truncated to 10 bytes; "" and "x" dropped (under 2 tokens); "ab" kept.
    let examples: Vec<String> = (0..corpus.len())
        .map(|i| Bytes.decode(corpus.example(i)).unwrap())
        .collect();
    assert_eq!(examples, ["Hello, ###", "ab", "This line "]);
    assert_eq!(
        (0..corpus.len())
            .map(|i| corpus.source_line(i))
            .collect::<Vec<_>>(),
        [1, 4, 5]
    );
    assert_eq!((corpus.lines_read(), corpus.lines_dropped()), (6, 3));
    assert_eq!(corpus.num_tokens(), 10 + 2 + 10);
    assert_eq!(corpus.num_targets(), 9 + 1 + 9);
    // Without digit replacement the digits stay.
    let raw = TokenizedLines::from_text(
        text,
        &Bytes,
        &LineOptions::new(10).replace_digits(false),
        "toy",
    )
    .unwrap();
    assert_eq!(Bytes.decode(raw.example(0)).unwrap(), "Hello, 202");
    // The batch: input = ids[:-1], target = ids[1:], right-padded.
    let batch = collate_lines(&[corpus.example(1), corpus.example(0)], Padding::same(0)).unwrap();
    assert_eq!(batch.inputs.shape(), &[2, 9]);
    assert_eq!(
        batch.inputs.to_vec2().unwrap()[0],
        [97, 0, 0, 0, 0, 0, 0, 0, 0]
    );
    assert_eq!(
        batch.targets.to_vec2().unwrap()[0],
        [98, 0, 0, 0, 0, 0, 0, 0, 0]
    );
    assert_eq!(batch.lengths, [1, 9]);
    assert_eq!(batch.num_targets(), 10);
}

#[test]
fn splits_by_source_lines() {
    let text: String = (1..=10).map(|i| format!("line {i}\n")).collect::<String>() + "\n";
    let corpus = TokenizedLines::from_text(
        &text,
        &Bytes,
        &LineOptions::new(30).replace_digits(false),
        "t",
    )
    .unwrap();
    let (train, valid) = corpus.split_by_lines(0.9).unwrap();
    // 11 lines: the first ⌊0.9·11⌋ = 9 go to training.
    assert_eq!((train.len(), valid.len()), (9, 1));
    assert_eq!(Bytes.decode(valid.example(0)).unwrap(), "line 10");
    // Each part counts its own dropped lines: the empty 11th line is the held-out part's.
    assert_eq!((train.lines_dropped(), valid.lines_dropped()), (0, 1));
    assert_eq!(corpus.lines_dropped(), 1);
    // The held-out part splits again by its own lines (10 and 11): ⌊0.5·2⌋ = 1 each.
    let (a, b) = valid.split_by_lines(0.5).unwrap();
    assert_eq!((a.len(), b.len()), (1, 0));
    assert_eq!((a.lines_dropped(), b.lines_dropped()), (0, 1));
    assert!(corpus.split_by_lines(1.5).is_err());
    assert_ne!(train.fingerprint(), valid.fingerprint());
}

#[test]
fn bad_input_is_a_clear_error() {
    // Invalid UTF-8 names the line.
    let path = temp_file("utf8", b"fine\nalso fine\n\xff\xfe oops\n");
    let err = TokenizedLines::from_file(&path, &Bytes, &LineOptions::new(10)).unwrap_err();
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(err, DataError::Utf8 { line: 3, .. }), "{err:?}");
    // A line past the byte limit.
    let long = "x".repeat(5000);
    let err = TokenizedLines::from_text(
        &long,
        &Bytes,
        &LineOptions::new(10).max_line_bytes(1000),
        "big",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("big:1: the line is longer than 1000 bytes"),
        "{err}"
    );
    // Ids outside the model's vocabulary name the file and line.
    let err = TokenizedLines::from_text(
        "ok\nÿes\n",
        &Bytes,
        &LineOptions::new(10).vocab_limit(128),
        "v",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("v:2: token id 195 is outside the model's vocabulary of 128 ids"),
        "{err}"
    );
    // max_length below 2 keeps nothing: refused up front.
    assert!(TokenizedLines::from_text("abc", &Bytes, &LineOptions::new(1), "t").is_err());
    // A missing file.
    let missing = std::env::temp_dir().join("ferrograd-data-lines-missing.txt");
    assert!(matches!(
        TokenizedLines::from_file(&missing, &Bytes, &LineOptions::new(10)),
        Err(DataError::Io { .. })
    ));
    // An empty corpus gives no batches: an error, not an endless loop.
    let empty = TokenizedLines::from_text("\n \n", &Bytes, &LineOptions::new(10), "e").unwrap();
    assert!(matches!(
        LineBatches::new(empty, 4, Padding::new(0)),
        Err(DataError::Empty { .. })
    ));
    assert!(collate_lines(&[&[1u32][..]], Padding::new(0)).is_err());
}

fn drain_epoch(source: &mut dyn BatchSource) -> Vec<Vec<i64>> {
    let mut rows = Vec::new();
    while let Some(batch) = source.next_batch().unwrap() {
        for (row, &len) in batch
            .inputs
            .to_vec2()
            .unwrap()
            .into_iter()
            .zip(&batch.lengths)
        {
            rows.push(row[..len].to_vec());
        }
    }
    rows
}

fn lines_text(n: usize) -> String {
    (0..n)
        .map(|i| format!("{i:03} is a line of the test\n"))
        .collect()
}

#[test]
fn in_memory_batches_shuffle_and_resume() {
    let corpus = TokenizedLines::from_text(
        &lines_text(23),
        &Bytes,
        &LineOptions::new(12).replace_digits(false),
        "t",
    )
    .unwrap();
    let mut batches = LineBatches::new(corpus.clone(), 5, Padding::new(0))
        .unwrap()
        .shuffle(7);
    assert_eq!(batches.num_batches(), 5);
    let epoch0 = drain_epoch(&mut batches);
    let epoch1 = drain_epoch(&mut batches);
    assert_eq!(epoch0.len(), 23);
    assert_ne!(epoch0, epoch1, "each epoch has its own order");
    let mut sorted0 = epoch0.clone();
    let mut sorted1 = epoch1.clone();
    sorted0.sort();
    sorted1.sort();
    assert_eq!(sorted0, sorted1, "every example once per epoch");
    // Save mid-epoch, continue, restore on a fresh source: the same batches follow.
    let mut a = LineBatches::new(corpus.clone(), 5, Padding::new(0))
        .unwrap()
        .shuffle(7);
    for _ in 0..7 {
        a.next_batch().unwrap();
    }
    let saved = a.position();
    assert_eq!((saved.epoch, saved.cursor), (1, 1));
    let rest_a = drain_epoch(&mut a);
    let mut b = LineBatches::new(corpus.clone(), 5, Padding::new(0))
        .unwrap()
        .shuffle(7);
    b.restore(&saved).unwrap();
    assert_eq!(drain_epoch(&mut b), rest_a);
    // A position from other data (or another seed) is refused.
    let mut other = LineBatches::new(corpus, 5, Padding::new(0))
        .unwrap()
        .shuffle(8);
    let err = other.restore(&saved).unwrap_err().to_string();
    assert!(err.contains("belongs to other data or batching"), "{err}");
    let past = DataPosition {
        cursor: 99,
        ..saved
    };
    assert!(b.restore(&past).is_err());
}

#[test]
fn streaming_gives_the_in_memory_examples_and_resumes_exactly() {
    let text = lines_text(37) + "\n\nx\n" + &lines_text(5);
    let path = temp_file("stream", text.as_bytes());
    let options = LineOptions::new(12).replace_digits(false);
    let corpus = TokenizedLines::from_file(&path, &Bytes, &options).unwrap();
    let encoder: Arc<dyn TextEncoder> = Arc::new(Bytes);
    // In file order: exactly the corpus's examples, epoch after epoch.
    let mut stream =
        StreamingBatches::open(&path, encoder.clone(), options.clone(), 8, Padding::new(0))
            .unwrap();
    let mut memory = LineBatches::new(corpus.clone(), 8, Padding::new(0)).unwrap();
    for _ in 0..2 {
        assert_eq!(drain_epoch(&mut stream), drain_epoch(&mut memory));
    }
    // Shuffled through a buffer: a permutation of the examples per epoch, resumable.
    let open = || {
        StreamingBatches::open(&path, encoder.clone(), options.clone(), 8, Padding::new(0))
            .unwrap()
            .shuffle_buffer(10, 3)
            .unwrap()
    };
    let mut s = open();
    let epoch0 = drain_epoch(&mut s);
    let mut sorted = epoch0.clone();
    sorted.sort();
    let mut expected = drain_epoch(&mut LineBatches::new(corpus, 8, Padding::new(0)).unwrap());
    expected.sort();
    assert_eq!(sorted, expected);
    assert_ne!(
        epoch0,
        drain_epoch(&mut open().shuffle_buffer(10, 4).unwrap())
    );
    let mut a = open();
    for _ in 0..3 {
        a.next_batch().unwrap();
    }
    let saved = a.position();
    assert!(!saved.pending.is_empty());
    let rest = drain_epoch(&mut a);
    let mut b = open();
    b.restore(&saved).unwrap();
    assert_eq!(drain_epoch(&mut b), rest);
    // The same file read with another tokenizer, or another vocabulary limit: refused
    // (the position's pending ids came from this one).
    let shifted: Arc<dyn TextEncoder> = Arc::new(Shifted);
    let mut d = StreamingBatches::open(&path, shifted, options.clone(), 8, Padding::new(0))
        .unwrap()
        .shuffle_buffer(10, 3)
        .unwrap();
    assert!(d.restore(&saved).is_err());
    let limited = options.clone().vocab_limit(256);
    let mut e = StreamingBatches::open(&path, encoder.clone(), limited, 8, Padding::new(0))
        .unwrap()
        .shuffle_buffer(10, 3)
        .unwrap();
    assert!(e.restore(&saved).is_err());
    // Another file's position is refused.
    let other = temp_file("stream-other", lines_text(3).as_bytes());
    let mut c = StreamingBatches::open(&other, encoder, options, 8, Padding::new(0)).unwrap();
    assert!(c.restore(&saved).is_err());
    std::fs::remove_file(&path).unwrap();
    std::fs::remove_file(&other).unwrap();
}

#[test]
fn gpt2_bpe_on_shakespeare() {
    // The tokenize crate's copy of GPT-2's files and tinyshakespeare, by path.
    let root = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../ferrograd-tokenize/testdata"
    );
    let gpt2 = ferrograd_tokenize::ByteLevelBpe::from_openai_files(
        format!("{root}/gpt2/encoder.json"),
        format!("{root}/gpt2/vocab.bpe"),
    )
    .unwrap();
    let corpus = TokenizedLines::from_file(
        format!("{root}/tinyshakespeare.txt"),
        &gpt2,
        &LineOptions::new(30).vocab_limit(50257),
    )
    .unwrap();
    assert_eq!(corpus.lines_read(), 40_000);
    assert_eq!(corpus.example(0), [5962, 22307, 25]); // "First Citizen:"
    assert!(corpus.max_id().unwrap() < 50257);
    assert!((0..corpus.len()).all(|i| (2..=30).contains(&corpus.example(i).len())));
}

#[test]
fn streaming_counts_dropped_lines_and_tells_its_epoch() {
    // Lines 2 ("x": 1 token), 3 (empty) and 5 ("  ": empty once stripped) are dropped, as
    // TokenizedLines drops them.
    let text = "ab\nx\n\ncd\n  \nef\n";
    let path = temp_file("dropped", text.as_bytes());
    let options = LineOptions::new(12).replace_digits(false);
    let corpus = TokenizedLines::from_file(&path, &Bytes, &options).unwrap();
    assert_eq!(corpus.lines_dropped(), 3);
    let encoder: Arc<dyn TextEncoder> = Arc::new(Bytes);
    let mut s = StreamingBatches::open(&path, encoder, options, 2, Padding::new(0)).unwrap();
    assert_eq!((s.lines_dropped(), s.epoch()), (0, 0));
    assert_eq!(s.next_batch().unwrap().unwrap().len(), 2); // "ab", "cd"
    assert_eq!(s.lines_dropped(), 2);
    assert_eq!(s.next_batch().unwrap().unwrap().len(), 1); // "ef"
    assert_eq!((s.lines_dropped(), s.epoch()), (3, 0));
    assert!(s.next_batch().unwrap().is_none());
    assert_eq!(s.epoch(), 1);
    assert_eq!(s.epoch(), s.position().epoch);
    drain_epoch(&mut s);
    assert_eq!((s.lines_dropped(), s.epoch()), (6, 2));
    std::fs::remove_file(&path).ok();
}

#[test]
fn the_default_corpus_is_a_valid_empty_one() {
    // The derived Default left the example offsets empty: `split_by_lines` and
    // `fingerprint` indexed past them and panicked.
    let corpus = TokenizedLines::default();
    assert_eq!(
        (corpus.len(), corpus.lines_read(), corpus.lines_dropped()),
        (0, 0, 0)
    );
    let (a, b) = corpus.split_by_lines(0.5).unwrap();
    assert_eq!((a.len(), b.len()), (0, 0));
    let empty = TokenizedLines::from_examples(&[] as &[Vec<u32>], "").unwrap();
    assert_eq!(corpus.fingerprint(), empty.fingerprint());
    assert!(matches!(
        LineBatches::new(corpus, 2, Padding::new(0)),
        Err(DataError::Empty { .. })
    ));
}
