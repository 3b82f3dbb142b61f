//! GPT-2's byte-level BPE against tiktoken and HF tokenizers: the reference ids in
//! testdata/reference/ were made by scripts/make_reference.py (see its docs) from the same
//! files this test loads.

use ferrograd_tokenize::ByteLevelBpe;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata");

fn gpt2() -> ByteLevelBpe {
    ByteLevelBpe::from_openai_files(
        format!("{DATA}/gpt2/encoder.json"),
        format!("{DATA}/gpt2/vocab.bpe"),
    )
    .expect("GPT-2 files load")
}

#[test]
fn tinyshakespeare_ids_equal_tiktoken_and_hf() {
    let text = std::fs::read_to_string(format!("{DATA}/tinyshakespeare.txt")).unwrap();
    let raw = std::fs::read(format!("{DATA}/reference/tinyshakespeare.gpt2.u16le")).unwrap();
    let expected: Vec<u32> = raw
        .chunks_exact(2)
        .map(|c| u32::from(u16::from_le_bytes([c[0], c[1]])))
        .collect();
    assert_eq!(
        expected.len(),
        338_025,
        "the reference file holds 338,025 ids"
    );
    let ids = gpt2().encode(&text);
    if let Some(i) = ids.iter().zip(&expected).position(|(a, b)| a != b) {
        panic!(
            "first difference at token {i}: ours {:?}, reference {:?}",
            &ids[i..(i + 5).min(ids.len())],
            &expected[i..(i + 5).min(expected.len())]
        );
    }
    assert_eq!(ids.len(), expected.len());
}

#[derive(serde::Deserialize)]
struct Adversarial {
    strings: Vec<String>,
    plain: Vec<Vec<u32>>,
    special: Vec<Vec<u32>>,
    hf_disagrees_on: Vec<String>,
}

#[test]
fn adversarial_strings_equal_tiktoken_and_hf() {
    let text = std::fs::read_to_string(format!("{DATA}/reference/adversarial.json")).unwrap();
    let reference: Adversarial = serde_json::from_str(&text).unwrap();
    assert!(reference.strings.len() >= 400);
    assert!(
        reference.hf_disagrees_on.is_empty(),
        "the references agree on every string"
    );
    let tok = gpt2();
    let mut failures = vec![];
    for ((s, plain), special) in reference
        .strings
        .iter()
        .zip(&reference.plain)
        .zip(&reference.special)
    {
        if &tok.encode(s) != plain {
            failures.push(format!(
                "plain {s:?}: ours {:?}, tiktoken {plain:?}",
                tok.encode(s)
            ));
        }
        if &tok.encode_with_special(s) != special {
            failures.push(format!(
                "special {s:?}: ours {:?}, tiktoken {special:?}",
                tok.encode_with_special(s)
            ));
        }
        assert_eq!(tok.decode(plain).unwrap(), *s, "decode of tiktoken's ids");
        assert_eq!(tok.decode(special).unwrap(), *s, "decode of tiktoken's ids");
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures[..failures.len().min(10)].join("\n")
    );
}
