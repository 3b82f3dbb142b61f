//! Writes tokenizers and their ids for `scripts/check_hf_loads.py`, which checks that HF
//! tokenizers and `transformers` load what we write and encode the same.
//!
//! `cargo run --release -p ferrograd-tokenize --example export_tokenizers -- OUT_DIR`
//!
//! Writes `OUT_DIR/{trained,gpt2}.tokenizer.json` (a 5,000-token byte-level BPE trained on
//! tinyshakespeare, and GPT-2 converted from OpenAI's files) and `OUT_DIR/ids.json`: the
//! probe strings and our ids for each tokenizer (added tokens recognised, as HF does).

use ferrograd_tokenize::{ByteLevelBpe, ByteLevelTrainer};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .ok_or("usage: export_tokenizers OUT_DIR")?;
    std::fs::create_dir_all(&out)?;
    let text = std::fs::read_to_string(format!("{DATA}/tinyshakespeare.txt"))?;
    let trained = ByteLevelTrainer::new(5000).train(&text)?;
    let gpt2 = ByteLevelBpe::from_openai_files(
        format!("{DATA}/gpt2/encoder.json"),
        format!("{DATA}/gpt2/vocab.bpe"),
    )?;
    trained.save(format!("{out}/trained.tokenizer.json"))?;
    gpt2.save(format!("{out}/gpt2.tokenizer.json"))?;
    let adversarial: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(format!(
        "{DATA}/reference/adversarial.json"
    ))?)?;
    let mut probes: Vec<String> = text.lines().take(2000).map(str::to_string).collect();
    probes.push(text[..100_000].to_string());
    probes.extend(
        adversarial["strings"]
            .as_array()
            .ok_or("adversarial.json has no strings")?
            .iter()
            .filter_map(|s| s.as_str().map(str::to_string)),
    );
    let ids = |tok: &ByteLevelBpe| -> Vec<Vec<u32>> {
        probes.iter().map(|p| tok.encode_with_special(p)).collect()
    };
    let doc = serde_json::json!({
        "probes": probes,
        "trained": ids(&trained),
        "gpt2": ids(&gpt2),
    });
    std::fs::write(format!("{out}/ids.json"), doc.to_string())?;
    println!(
        "wrote {out}/trained.tokenizer.json, gpt2.tokenizer.json, ids.json ({} probes)",
        probes.len()
    );
    Ok(())
}
