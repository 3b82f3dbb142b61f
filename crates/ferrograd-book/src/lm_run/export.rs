//! [`export_run_data`]: what a run trains on, written for the PyTorch comparison scripts.

use std::path::Path;

use ferrograd::data::text::TokenizedLines;
use ferrograd::nn::Module;
use ferrograd::tensor::{IdTensor, Tensor, io};

use super::{RunData, RunSettings};
use crate::error::{BookError, Result};
use crate::files::write_atomically;

/// Writes into `dir` (created if needed) what a run of `model` on `data` trains on:
/// - `data.safetensors`: the token ids and offsets of the training and held-out examples,
///   and the example indices of every training batch in order (−1 filling a short last
///   batch);
/// - `init.safetensors`: `model`'s initial weights under the notebook's names;
/// - `config.json`: `model_config` (the model's sizes) with the run's settings added —
///   the pad id (`pad_input`, `pad_target`, `ignore_index`), AdamW's `lr`, `betas`, `eps`
///   and `weight_decay`, `batch_size`, `seed`, `tokenizer` and the number of `steps`.
///
/// Returns the number of steps exported.
///
/// # Errors
/// Settings the trainer would refuse (nothing is written then); a file that cannot be
/// written.
pub fn export_run_data<M: Module<f32> + ?Sized>(
    dir: &Path,
    data: &RunData,
    run: &RunSettings,
    model: &M,
    model_config: serde_json::Value,
) -> Result<usize> {
    // The export describes a run: refuse one that could not run (a checkpoint path whose
    // folder is missing, say) before anything is written.
    run.train_config(data.tokenizer.eos).validate()?;
    let batches = &data.batches;
    let per_epoch = batches.num_batches() as u64;
    let all = run.epochs.saturating_mul(per_epoch);
    let steps = run.max_steps.map_or(all, |m| m.min(all));
    let b = run.batch_size;
    // The batch order holds steps × batch size ids: refuse a run too long to write down.
    let length = usize::try_from(steps)
        .ok()
        .and_then(|s| s.checked_mul(b))
        .ok_or_else(|| {
            BookError::Input(format!(
                "--export: {steps} steps of {b} examples ({} epochs of {per_epoch} batches) \
                 are too many to write down; give --steps",
                run.epochs
            ))
        })?;
    std::fs::create_dir_all(dir).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("creating the export folder {}: {e}", dir.display()),
        )
    })?;
    let flat = |lines: &TokenizedLines| -> Result<(IdTensor, IdTensor)> {
        let mut tokens = Vec::new();
        let mut offsets = vec![0i64];
        for i in 0..lines.len() {
            tokens.extend(lines.example(i).iter().map(|&t| i64::from(t)));
            offsets.push(tokens.len() as i64);
        }
        let (n, m) = (tokens.len(), offsets.len());
        Ok((IdTensor::new(tokens, &[n])?, IdTensor::new(offsets, &[m])?))
    };
    let (train_tokens, train_offsets) = flat(batches.corpus())?;
    let (valid_tokens, valid_offsets) = flat(&data.valid)?;
    let mut order = Vec::with_capacity(length.min(1 << 24));
    'epochs: for epoch in 0..run.epochs {
        for batch in batches.batch_indices(epoch) {
            if order.len() >= length {
                break 'epochs;
            }
            order.extend(batch.iter().map(|&i| i as i64));
            order.extend(std::iter::repeat_n(-1i64, b - batch.len()));
        }
    }
    let rows = order.len() / b;
    let order = IdTensor::new(order, &[rows, b])?;
    io::save_ids_safetensors(
        dir.join("data.safetensors"),
        &[
            ("train.tokens", &train_tokens),
            ("train.offsets", &train_offsets),
            ("valid.tokens", &valid_tokens),
            ("valid.offsets", &valid_offsets),
            ("order", &order),
        ],
    )?;
    let params: Vec<(String, Tensor)> = model
        .named_parameters()
        .into_iter()
        .map(|(n, p)| (n, p.tensor()))
        .collect();
    let refs: Vec<(&str, &Tensor)> = params.iter().map(|(n, t)| (n.as_str(), t)).collect();
    io::save_safetensors(dir.join("init.safetensors"), &refs)?;
    let eos = data.tokenizer.eos;
    let train = run.train_config(eos);
    let mut config = serde_json::json!({
        "pad_input": eos,
        "pad_target": eos,
        "ignore_index": eos,
        "lr": train.lr,
        "betas": [train.betas.0, train.betas.1],
        "eps": train.eps,
        "weight_decay": train.weight_decay,
        "batch_size": b,
        "seed": run.seed,
        "tokenizer": data.tokenizer.describe(),
        "steps": rows,
    });
    if let (Some(all), serde_json::Value::Object(model)) = (config.as_object_mut(), model_config) {
        all.extend(model);
    }
    let text =
        serde_json::to_string_pretty(&config).map_err(|e| BookError::Input(e.to_string()))?;
    write_atomically(&dir.join("config.json"), text.as_bytes())?;
    Ok(rows)
}
