//! [`train`]: the notebook's loop with a progress bar, resume, held-out evaluation; its
//! [`RunResults`] and the report lines they make.

use std::fmt::Write as _;
use std::path::Path;

use ferrograd::lm::train::{CausalLm, Control, EvalRecord, Event, Sampling, Trainer, evaluate};
use serde::Serialize;

use super::{RunData, RunSettings};
use crate::error::Result;
use crate::progress::Progress;

/// One held-out evaluation.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct EvalPoint {
    /// Steps done.
    pub step: u64,
    /// Loss per scored token.
    pub loss: f64,
    /// exp(loss).
    pub perplexity: f64,
    /// Sentences evaluated.
    pub sentences: usize,
}

impl From<&EvalRecord> for EvalPoint {
    fn from(e: &EvalRecord) -> Self {
        Self {
            step: e.step,
            loss: e.loss,
            perplexity: e.perplexity,
            sentences: e.sentences,
        }
    }
}

/// What a training run did: its steps, losses, evaluations, speed and samples.
#[derive(Debug, Clone, Serialize)]
pub struct RunResults {
    /// Training / held-out examples.
    pub examples: (usize, usize),
    /// Steps done (including any before a resume).
    pub steps: u64,
    /// The step this run resumed from, if it did.
    pub resumed_from: Option<u64>,
    /// Every step's loss `(step, loss)`.
    pub losses: Vec<(u64, f64)>,
    /// Periodic evaluations (at most `eval_max_sentences` sentences).
    pub evals: Vec<EvalPoint>,
    /// The final evaluation on every held-out example.
    pub final_eval: EvalPoint,
    /// Scored tokens trained on by this run.
    pub tokens: usize,
    /// Seconds of training steps.
    pub seconds: f64,
    /// Tokens per second of training steps.
    pub tokens_per_second: f64,
    /// Greedy continuations `(prompt, text)`.
    pub samples: Vec<(String, String)>,
}

/// Trains `model` on `data` as `run` says: AdamW over its parameters, for `run.epochs`
/// (or `run.max_steps`, whichever ends first), evaluating and sampling every
/// `run.eval_every` steps, then once more on every held-out example. With `run.resume`
/// and an existing `run.checkpoint`, training continues from it exactly (a missing file
/// starts fresh, so the same command line both starts and resumes a run). A progress bar
/// shows the loss and the tokens per second, and each held-out perplexity is printed as
/// it comes.
///
/// # Errors
/// Invalid settings, a checkpoint that cannot be read or written or belongs to another
/// run, a non-finite loss.
pub fn train<M: CausalLm<f32> + ?Sized>(
    model: &M,
    data: &mut RunData,
    run: &RunSettings,
    progress: &Progress,
) -> Result<RunResults> {
    let eos = data.tokenizer.eos;
    let mut trainer = Trainer::new(model, run.train_config(eos))?;
    let mut resumed_from = None;
    if let Some(path) = run
        .checkpoint
        .as_deref()
        .filter(|p| run.resume && p.exists())
    {
        trainer.resume(path, &mut data.batches)?;
        resumed_from = Some(trainer.steps());
    }
    let sampling = Sampling {
        encoder: data.tokenizer.encoder(),
        prompts: &run.prompts,
        max_new_tokens: run.max_new_tokens,
        eos: Some(eos),
    };
    let per_epochs = run.epochs.saturating_mul(data.batches.num_batches() as u64);
    let total = run.max_steps.map_or(per_epochs, |m| m.min(per_epochs));
    let bar = progress.bar(total, "training");
    bar.set_position(trainer.steps());
    let (mut tokens, mut seconds) = (0usize, 0f64);
    let summary = trainer.run(
        &mut data.batches,
        &data.valid_batches,
        Some(&sampling),
        &mut |event| {
            match event {
                Event::Step {
                    record, seconds: s, ..
                } => {
                    tokens += record.tokens;
                    seconds += s;
                    bar.set_position(record.step);
                    bar.set_message(format!(
                        "loss {:.3} | {:.0} tok/s",
                        record.loss,
                        tokens as f64 / seconds.max(1e-9)
                    ));
                }
                Event::Eval(e) => {
                    bar.println(format!(
                        "step {}: held-out perplexity {:.2}",
                        e.step, e.perplexity
                    ));
                }
                _ => {}
            }
            Control::Continue
        },
    )?;
    bar.finish_and_clear();
    // The final evaluation on every held-out sentence.
    let last = evaluate(
        model,
        &data.valid_batches,
        i64::from(eos),
        None,
        trainer.steps(),
    )?;
    let history = trainer.history();
    Ok(RunResults {
        examples: data.examples,
        steps: trainer.steps(),
        resumed_from,
        losses: history.steps.iter().map(|s| (s.step, s.loss)).collect(),
        evals: history.evals.iter().map(EvalPoint::from).collect(),
        final_eval: EvalPoint::from(&last),
        tokens: summary.tokens_this_run,
        seconds: summary.train_seconds,
        tokens_per_second: summary.tokens_per_second(),
        samples: summary.samples,
    })
}

/// Writes the report's lines about the run (the chapter writes the model's line before
/// them): the split, any resume, the speed, every evaluation, the samples, and how to
/// compare an `export` with PyTorch (`script` in `scripts/reference/`).
pub fn report_run(
    r: &RunResults,
    run: &RunSettings,
    export: Option<&Path>,
    script: &str,
    t: &mut String,
) {
    let _ = writeln!(
        t,
        "  {} training / {} held-out lines (first {:.0}% / rest); seed {}",
        r.examples.0,
        r.examples.1,
        run.train_fraction * 100.0,
        run.seed
    );
    if let Some(from) = r.resumed_from {
        let _ = writeln!(t, "  resumed from the checkpoint at step {from}");
    }
    let _ = writeln!(
        t,
        "  {} steps; {} tokens in {:.1} s of training steps = {:.0} tokens/s",
        r.steps, r.tokens, r.seconds, r.tokens_per_second
    );
    for e in &r.evals {
        let _ = writeln!(
            t,
            "  step {:>5}: held-out loss {:.4}, perplexity {:.2} ({} sentences)",
            e.step, e.loss, e.perplexity, e.sentences
        );
    }
    let f = &r.final_eval;
    let _ = writeln!(
        t,
        "final: held-out loss {:.4}, perplexity {:.2} on all {} held-out sentences",
        f.loss, f.perplexity, f.sentences
    );
    for (prompt, text) in &r.samples {
        let _ = writeln!(t, "  {prompt:?} → {text:?}");
    }
    if let Some(dir) = export {
        let _ = writeln!(
            t,
            "exported the run for PyTorch: python3 scripts/reference/{script} {}",
            dir.display()
        );
    }
}
