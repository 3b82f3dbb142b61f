//! A `config.json` whose sizes do not fit the weights beside it is refused before any
//! allocation: the error names the file instead of the process aborting.

use std::path::Path;

use ferrograd_lm::LmError;
use ferrograd_lm::classifier::Gpt2ForSequenceClassification;
use ferrograd_lm::gpt2::Gpt2LmHeadModel;
use ferrograd_tensor::Rng;
use serde_json::{Value, json};

/// A config.json with a huge size beside the tiny model's weights is an error naming
/// config.json, not an allocation abort.
#[test]
fn huge_config_size_is_an_error_not_an_abort() {
    let tiny = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny-random-gpt2");
    let text = std::fs::read_to_string(tiny.join("config.json")).unwrap();
    for (key, value) in [
        ("n_positions", json!(1_000_000_000_000u64)),
        ("n_layer", json!(1_000_000_000_000u64)),
        ("n_embd", json!(1u64 << 40)),
    ] {
        let dir =
            std::env::temp_dir().join(format!("ferrograd-gpt2-huge-{key}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut config: Value = serde_json::from_str(&text).unwrap();
        config[key] = value;
        if key == "n_embd" {
            config["n_head"] = json!(1);
        }
        std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
        std::fs::copy(
            tiny.join("model.safetensors"),
            dir.join("model.safetensors"),
        )
        .unwrap();
        let err = Gpt2LmHeadModel::<f32>::from_pretrained(&dir).unwrap_err();
        match &err {
            LmError::Checkpoint { path, problems } => {
                assert!(path.ends_with("config.json"), "{path}");
                assert!(problems[0].contains("does not match the weights"), "{err}");
            }
            other => panic!("expected a checkpoint error, got {other}"),
        }
        let err = Gpt2ForSequenceClassification::<f32>::from_pretrained(&dir, 3, &mut Rng::new(0))
            .unwrap_err();
        assert!(err.to_string().contains("config.json"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
