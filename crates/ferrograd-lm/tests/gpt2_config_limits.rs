//! A `config.json` whose sizes do not fit the weights beside it is refused before any
//! allocation: the error names the file instead of the process aborting. The
//! constructors (`new`, `zeros`, the classifier's) refuse a config no memory can hold
//! with [`LmError::ModelTooLarge`] naming the call, the parameter count and its bytes.

use std::path::Path;

use ferrograd_lm::LmError;
use ferrograd_lm::classifier::Gpt2ForSequenceClassification;
use ferrograd_lm::gpt2::{Gpt2Config, Gpt2LmHeadModel, Gpt2Model};
use ferrograd_nn::Module;
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

/// `result` is [`LmError::ModelTooLarge`] from `op`; its message, for further checks.
fn too_large<M: std::fmt::Debug>(result: Result<M, LmError>, op: &str) -> String {
    match result {
        Err(e @ LmError::ModelTooLarge { op: got, .. }) => {
            assert_eq!(got, op, "{e}");
            let message = e.to_string();
            assert!(message.starts_with(op), "{message}");
            message
        }
        Err(other) => panic!("{op}: expected ModelTooLarge, got {other}"),
        Ok(_) => panic!("{op}: an absurd config was built"),
    }
}

/// GPT-2's parameter count by hand (tied head, `n_inner = 4·d`): embeddings `V·d + P·d`,
/// per block `4d` (two norms) + `3d² + 3d` (c_attn) + `d² + d` (c_proj) + `4d² + 4d`
/// (c_fc) + `4d² + d` (mlp c_proj) = `12d² + 13d`, and `2d` for `ln_f`; in u128 so the
/// test's own arithmetic cannot overflow.
fn count(v: u128, p: u128, d: u128, l: u128) -> u128 {
    v * d + p * d + l * (12 * d * d + 13 * d) + 2 * d
}

/// Every constructor, called on `config`, refuses it naming itself; the messages in
/// constructor order (`Gpt2Model::new`, `Gpt2LmHeadModel::new` in f32 and f64,
/// `Gpt2LmHeadModel::zeros`, `Gpt2ForSequenceClassification::new`).
fn refused_by_every_constructor(config: &Gpt2Config) -> Vec<String> {
    vec![
        too_large(
            Gpt2Model::<f32>::new(config, &mut Rng::new(0)),
            "Gpt2Model::new",
        ),
        too_large(
            Gpt2LmHeadModel::<f32>::new(config, &mut Rng::new(0)),
            "Gpt2LmHeadModel::new",
        ),
        too_large(
            Gpt2LmHeadModel::<f64>::new(config, &mut Rng::new(0)),
            "Gpt2LmHeadModel::new",
        ),
        too_large(
            Gpt2LmHeadModel::<f32>::zeros(config),
            "Gpt2LmHeadModel::zeros",
        ),
        too_large(
            Gpt2ForSequenceClassification::<f32>::new(config, 3, &mut Rng::new(0)),
            "Gpt2ForSequenceClassification::new",
        ),
    ]
}

/// A parameter count that overflows usize (`n_positions·n_embd` alone does) is refused
/// by every constructor before anything is allocated (it aborted in the allocator, or
/// panicked on `capacity overflow`).
#[test]
fn a_parameter_count_that_overflows_is_refused() {
    let config = Gpt2Config::small(1000, usize::MAX / 2, 768, 1, 12);
    for message in refused_by_every_constructor(&config) {
        assert!(message.contains("overflows usize"), "{message}");
        assert!(
            message.contains(&format!("n_positions {}", usize::MAX / 2)),
            "{message}"
        );
    }
}

/// A count that fits usize but whose bytes exceed isize::MAX (2⁵² positions × 768 =
/// 3.5·10¹⁸ values, 1.4·10¹⁹ bytes as f32), which no Rust allocation can serve, is
/// refused before anything is allocated; the message gives the exact count and bytes.
#[test]
fn parameters_beyond_isize_max_bytes_are_refused() {
    let positions = 1usize << 52;
    let config = Gpt2Config::small(1000, positions, 768, 1, 12);
    let values = count(1000, positions as u128, 768, 1);
    let head = 3 * 768; // the classifier's score [3, d]
    let messages = refused_by_every_constructor(&config);
    for (i, message) in messages.iter().enumerate() {
        let (values, elem) = match i {
            2 => (values, 8),        // Gpt2LmHeadModel::<f64>::new
            4 => (values + head, 4), // the classifier
            _ => (values, 4),
        };
        assert!(
            message.contains(&format!("its {values} parameter values")),
            "{message}"
        );
        assert!(message.contains("more than isize::MAX"), "{message}");
        // The byte count starts with the parameters' bytes (the blocks' own few hundred
        // bytes are added, which changes none of the leading digits here).
        let bytes = (values * elem).to_string();
        assert!(
            message.contains(&bytes[..12]),
            "{message} (expected ≈ {bytes} bytes)"
        );
        assert!(
            message.contains(&format!("n_positions {positions}")),
            "{message}"
        );
    }
}

/// The book's example of an absurd config, `n_positions = 10¹²` at GPT-2's width: 7.7·10¹⁴
/// values, 3.1·10¹⁵ bytes as f32. That is below isize::MAX, but beyond any machine's
/// memory and beyond the 2⁴⁷-byte address space of a Linux process, so the allocator
/// refuses `wpe`: an error naming the weight and its size, not an abort.
#[test]
fn a_weight_the_allocator_refuses_is_an_error() {
    let config = Gpt2Config::small(1000, 1_000_000_000_000, 768, 1, 12);
    for message in refused_by_every_constructor(&config) {
        assert!(
            message.contains("cannot allocate wpe.weight [1000000000000, 768]"),
            "{message}"
        );
        assert!(
            message.contains("(3072000000000000 bytes as f32)")
                || message.contains("(6144000000000000 bytes as f64)"),
            "{message}"
        );
    }
}

/// `n_layer = 10¹²` blocks of width 8: 8.7·10¹⁴ parameter values fit isize::MAX bytes,
/// but the list of blocks alone cannot be allocated: an error, not an abort.
#[test]
fn a_list_of_blocks_the_allocator_refuses_is_an_error() {
    let config = Gpt2Config::small(10, 16, 8, 1_000_000_000_000, 2);
    for message in refused_by_every_constructor(&config) {
        assert!(
            message.contains("cannot allocate the list of 1000000000000 blocks"),
            "{message}"
        );
    }
}

/// An n_embd whose MLP width `4·n_embd` overflows is refused as too large (it panicked
/// with an arithmetic overflow in `Gpt2Config::inner`).
#[test]
fn an_mlp_width_that_overflows_is_refused() {
    let config = Gpt2Config::small(1, 1, 1 << 62, 1, 1);
    assert_eq!(config.inner(), usize::MAX);
    for message in refused_by_every_constructor(&config) {
        assert!(message.contains("overflows usize"), "{message}");
        assert!(
            message.contains(&format!("n_embd {}", 1u64 << 62)),
            "{message}"
        );
    }
}

/// An untied head is a second `[V, d]` table and counts toward the limit: with
/// `V·d = 1.5·2⁶⁰` values the tied model's 6.9·10¹⁸ bytes pass the isize::MAX check
/// (and the allocator then refuses `wte`), the untied model's 1.4·10¹⁹ do not.
#[test]
fn an_untied_head_counts_toward_the_limit() {
    let tied = Gpt2Config::small(1 << 51, 1, 768, 1, 12);
    let message = too_large(
        Gpt2LmHeadModel::<f32>::zeros(&tied),
        "Gpt2LmHeadModel::zeros",
    );
    assert!(message.contains("cannot allocate wte.weight"), "{message}");
    let untied = Gpt2Config {
        tie_word_embeddings: false,
        ..tied
    };
    for message in [
        too_large(
            Gpt2LmHeadModel::<f32>::zeros(&untied),
            "Gpt2LmHeadModel::zeros",
        ),
        too_large(
            Gpt2LmHeadModel::<f32>::new(&untied, &mut Rng::new(0)),
            "Gpt2LmHeadModel::new",
        ),
    ] {
        assert!(message.contains("more than isize::MAX"), "{message}");
        assert!(
            message.contains(&format!("a head of {} rows", 1u64 << 51)),
            "{message}"
        );
    }
}

/// A classifier head of absurdly many classes is refused by `new` (counted with the
/// body) and by `with_body` (on a small existing body), naming the call.
#[test]
fn a_classifier_head_too_large_is_refused() {
    let config = Gpt2Config::small(50, 16, 16, 1, 2);
    let message = too_large(
        Gpt2ForSequenceClassification::<f32>::new(&config, usize::MAX / 8, &mut Rng::new(0)),
        "Gpt2ForSequenceClassification::new",
    );
    assert!(message.contains("overflows usize"), "{message}");
    let body = Gpt2Model::<f32>::new(&config, &mut Rng::new(0)).unwrap();
    let message = too_large(
        Gpt2ForSequenceClassification::with_body(body, 1 << 60, &mut Rng::new(0)),
        "Gpt2ForSequenceClassification::with_body",
    );
    assert!(
        message.contains(&format!("score.weight [{}, 16]", 1u64 << 60)),
        "{message}"
    );
}

/// Real configs are not refused: GPT-2 XL (1.5B parameters, 6.2 GB as f32) is built by
/// `zeros` (its memory is not written, so this is cheap), with Hugging Face's count of
/// 1,557,611,200 parameters (the hand formula gives the same).
#[test]
fn gpt2_xl_is_still_built_by_zeros() {
    let xl = Gpt2Config {
        n_embd: 1600,
        n_layer: 48,
        n_head: 25,
        ..Gpt2Config::gpt2_124m()
    };
    assert_eq!(count(50_257, 1024, 1600, 48), 1_557_611_200);
    let model = Gpt2LmHeadModel::<f32>::zeros(&xl).unwrap();
    assert_eq!(model.num_parameters(), 1_557_611_200);
}
