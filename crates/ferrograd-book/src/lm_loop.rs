//! The training loop chapters 3 and 4 share: resume from a checkpoint if asked, then
//! train with a progress bar that shows the loss and the tokens per second, printing each
//! held-out perplexity as it comes.

use std::path::Path;

use ferrograd::data::text::{LineBatches, LmBatch};
use ferrograd::lm::train::{CausalLm, Control, Event, RunSummary, Sampling, Trainer};

use crate::error::Result;
use crate::progress::Progress;

/// What [`train_with_progress`] did: the trainer's summary of this run, and the step it
/// resumed from (`None` when it started fresh).
#[derive(Debug)]
pub(crate) struct LoopOutcome {
    pub summary: RunSummary,
    pub resumed_from: Option<u64>,
}

/// Runs `trainer` over `batches` for `epochs` (or `max_steps`, whichever ends first),
/// evaluating on `valid` as its configuration says. With `resume` naming an existing
/// checkpoint, training continues from it (a missing file starts fresh, so the same
/// command line both starts and resumes a run).
#[allow(clippy::too_many_arguments)] // one call site per chapter, every argument named there
pub(crate) fn train_with_progress<M: CausalLm<f32> + ?Sized>(
    trainer: &mut Trainer<'_, f32, M>,
    batches: &mut LineBatches,
    valid: &[LmBatch],
    resume: Option<&Path>,
    epochs: u64,
    max_steps: Option<u64>,
    sampling: &Sampling<'_>,
    progress: &Progress,
) -> Result<LoopOutcome> {
    let mut resumed_from = None;
    if let Some(path) = resume.filter(|p| p.exists()) {
        trainer.resume(path, batches)?;
        resumed_from = Some(trainer.steps());
    }
    let per_epochs = epochs * batches.num_batches() as u64;
    let total = max_steps.map_or(per_epochs, |m| m.min(per_epochs));
    let bar = progress.bar(total, "training");
    bar.set_position(trainer.steps());
    let (mut tokens, mut seconds) = (0usize, 0f64);
    let summary = trainer.run(batches, valid, Some(sampling), &mut |event| {
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
    })?;
    bar.finish_and_clear();
    Ok(LoopOutcome {
        summary,
        resumed_from,
    })
}
