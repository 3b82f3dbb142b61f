//! The training program: a resumed run continues exactly as an uninterrupted one, a killed
//! run loses only the steps since its last checkpoint, damaged or mismatched checkpoints
//! are clear errors that change nothing, evaluation weights batches by tokens, and greedy
//! generation with the RNN's carried state equals re-running the whole sequence.

use ferrograd_data::text::{BatchSource, LineBatches, LmBatch, Padding, TokenizedLines};
use ferrograd_lm::LmError;
use ferrograd_lm::rnn::{RnnConfig, RnnLanguageModel};
use ferrograd_lm::train::{CausalLm, Control, Event, TrainConfig, Trainer, evaluate};
use ferrograd_nn::{CrossEntropyLoss, Forward, Module, Reduction};
use ferrograd_tensor::{Rng, Tensor};
use std::path::PathBuf;

const V: usize = 40;

fn corpus() -> TokenizedLines {
    let mut rng = Rng::new(3);
    let examples: Vec<Vec<u32>> = (0..90)
        .map(|_| {
            let len = 2 + rng.below(10);
            let start = rng.below(V - 1) as u32 + 1;
            (0..len as u32)
                .map(|t| (start + 3 * t) % (V as u32 - 1) + 1)
                .collect()
        })
        .collect();
    TokenizedLines::from_examples(&examples, "synthetic").unwrap()
}

fn model(seed: u64) -> RnnLanguageModel {
    let config = RnnConfig {
        emb_dim: 12,
        ..RnnConfig::new(V).with_pad_index(0)
    };
    RnnLanguageModel::new(&config, &mut Rng::new(seed)).unwrap()
}

fn batches() -> LineBatches {
    LineBatches::new(corpus(), 8, Padding::new(0))
        .unwrap()
        .shuffle(11)
}

fn temp(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "ferrograd-lm-train-{}-{tag}.ckpt",
        std::process::id()
    ))
}

fn config() -> TrainConfig {
    TrainConfig {
        lr: 5e-3,
        epochs: 100,
        eval_max_sentences: None,
        ..TrainConfig::default()
    }
}

fn losses(trainer: &Trainer<'_, f32, RnnLanguageModel>) -> Vec<f64> {
    trainer.history().steps.iter().map(|s| s.loss).collect()
}

fn quiet(_: &Event<'_>) -> Control {
    Control::Continue
}

#[test]
fn resume_continues_exactly() {
    let n = 17; // crosses the epoch boundary (12 batches per epoch)
    // Uninterrupted: 2N steps.
    let whole = model(1);
    let mut t = Trainer::new(
        &whole,
        TrainConfig {
            max_steps: Some(2 * n),
            ..config()
        },
    )
    .unwrap();
    t.run(&mut batches(), &[], None, &mut quiet).unwrap();
    let expected = losses(&t);
    assert_eq!(expected.len(), 2 * n as usize);
    // N steps, checkpoint at the end of the run.
    let path = temp("resume");
    let first = model(1);
    let mut data = batches();
    let mut t1 = Trainer::new(
        &first,
        TrainConfig {
            max_steps: Some(n),
            checkpoint_path: Some(path.clone()),
            ..config()
        },
    )
    .unwrap();
    t1.run(&mut data, &[], None, &mut quiet).unwrap();
    // A fresh model (other initial weights), optimizer and data source: resume, N more.
    let second = model(99);
    let mut fresh = batches();
    let mut t2 = Trainer::new(
        &second,
        TrainConfig {
            max_steps: Some(2 * n),
            ..config()
        },
    )
    .unwrap();
    t2.resume(&path, &mut fresh).unwrap();
    assert_eq!(t2.steps(), n);
    t2.run(&mut fresh, &[], None, &mut quiet).unwrap();
    // Bit for bit: every loss, the whole history, every weight.
    assert_eq!(losses(&t2), expected);
    for ((name, a), (_, b)) in whole
        .named_parameters()
        .iter()
        .zip(second.named_parameters())
    {
        assert_eq!(a.tensor().to_vec(), b.tensor().to_vec(), "{name}");
    }
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_killed_run_loses_only_the_steps_since_its_checkpoint() {
    let path = temp("killed");
    let whole = model(2);
    let mut t = Trainer::new(
        &whole,
        TrainConfig {
            max_steps: Some(30),
            ..config()
        },
    )
    .unwrap();
    t.run(&mut batches(), &[], None, &mut quiet).unwrap();
    let expected = losses(&t);
    // Checkpoint every 5 steps; the run dies abruptly during step 23 (a panic in the
    // callback: no cleanup, no final checkpoint), leaving the step-20 file on disk and a
    // half-written temporary file from an interrupted writer beside it.
    let victim = model(2);
    let died = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut t = Trainer::new(
            &victim,
            TrainConfig {
                checkpoint_every: Some(5),
                checkpoint_path: Some(path.clone()),
                ..config()
            },
        )
        .unwrap();
        let _ = t.run(&mut batches(), &[], None, &mut |e| match e {
            Event::Step { record, .. } if record.step == 23 => panic!("killed"),
            _ => Control::Continue,
        });
    }));
    assert!(died.is_err());
    let stale = path.with_file_name(format!(
        ".{}.tmp-999999-0",
        path.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&stale, b"FGLMCKPT partial").unwrap();
    // Restart: steps 21-23 are lost, the rest continues exactly.
    let revived = model(8);
    let mut fresh = batches();
    let mut t = Trainer::new(
        &revived,
        TrainConfig {
            max_steps: Some(30),
            ..config()
        },
    )
    .unwrap();
    t.resume(&path, &mut fresh).unwrap();
    assert_eq!(t.steps(), 20);
    t.run(&mut fresh, &[], None, &mut quiet).unwrap();
    assert_eq!(losses(&t), expected);
    // Stopping through the callback (Ctrl-C in the book program) writes a checkpoint at
    // the step reached.
    let stopped = model(2);
    let mut t = Trainer::new(
        &stopped,
        TrainConfig {
            checkpoint_path: Some(path.clone()),
            ..config()
        },
    )
    .unwrap();
    let summary = t
        .run(&mut batches(), &[], None, &mut |e| match e {
            Event::Step { record, .. } if record.step == 13 => Control::Stop,
            _ => Control::Continue,
        })
        .unwrap();
    assert!(summary.stopped);
    let mut t = Trainer::new(&revived, config()).unwrap();
    t.resume(&path, &mut batches()).unwrap();
    assert_eq!(t.steps(), 13);
    std::fs::remove_file(&path).unwrap();
    std::fs::remove_file(&stale).unwrap();
}

#[test]
fn damaged_and_mismatched_checkpoints_are_errors_that_change_nothing() {
    let path = temp("bad");
    let m = model(4);
    let mut t = Trainer::new(
        &m,
        TrainConfig {
            max_steps: Some(3),
            checkpoint_path: Some(path.clone()),
            ..config()
        },
    )
    .unwrap();
    t.run(&mut batches(), &[], None, &mut quiet).unwrap();
    let good = std::fs::read(&path).unwrap();

    let target = model(5);
    let before: Vec<Vec<f32>> = target
        .parameters()
        .iter()
        .map(|p| p.tensor().to_vec())
        .collect();
    let unchanged = |t: &Trainer<'_, f32, RnnLanguageModel>, data: &LineBatches| {
        let now: Vec<Vec<f32>> = target
            .parameters()
            .iter()
            .map(|p| p.tensor().to_vec())
            .collect();
        assert_eq!(now, before);
        assert_eq!(t.steps(), 0);
        assert_eq!((data.position().epoch, data.position().cursor), (0, 0));
    };
    let try_resume = |bytes: &[u8]| -> String {
        std::fs::write(&path, bytes).unwrap();
        let mut data = batches();
        let mut t = Trainer::new(&target, config()).unwrap();
        let err = t.resume(&path, &mut data).unwrap_err().to_string();
        unchanged(&t, &data);
        err
    };
    // Truncated (a writer killed mid-file, without the atomic rename).
    let err = try_resume(&good[..good.len() / 2]);
    assert!(err.contains("checksum mismatch"), "{err}");
    // One flipped byte.
    let mut flipped = good.clone();
    flipped[good.len() / 3] ^= 0x40;
    let err = try_resume(&flipped);
    assert!(
        err.contains("damaged or was not completely written"),
        "{err}"
    );
    // Not a checkpoint at all; empty.
    assert!(try_resume(b"hello").contains("not a ferrograd training checkpoint"));
    assert!(try_resume(b"").contains("not a ferrograd training checkpoint"));
    // Missing file.
    let missing = temp("missing");
    let mut t = Trainer::new(&target, config()).unwrap();
    assert!(matches!(
        t.resume(&missing, &mut batches()),
        Err(LmError::Io { .. })
    ));

    // Written for another model (another vocabulary): every problem listed.
    std::fs::write(&path, &good).unwrap();
    let other = RnnLanguageModel::<f32>::new(
        &RnnConfig {
            emb_dim: 12,
            ..RnnConfig::new(V + 1)
        },
        &mut Rng::new(0),
    )
    .unwrap();
    let mut t = Trainer::new(&other, config()).unwrap();
    let err = t.resume(&path, &mut batches()).unwrap_err().to_string();
    assert!(
        err.contains("`embedding.weight` has shape [40, 12] in the file but [41, 12]"),
        "{err}"
    );
    assert!(err.contains("`fc.bias`"), "{err}");
    // Another element type.
    let wide = RnnLanguageModel::<f64>::new(
        &RnnConfig {
            emb_dim: 12,
            ..RnnConfig::new(V)
        },
        &mut Rng::new(0),
    )
    .unwrap();
    let mut t = Trainer::new(&wide, config()).unwrap();
    let mut data = batches();
    let err = t.resume(&path, &mut data).unwrap_err().to_string();
    assert!(
        err.contains("float32 parameters but the model is float64"),
        "{err}"
    );
    // Other data (batch size): refused before anything changes.
    let mut data = LineBatches::new(corpus(), 9, Padding::new(0))
        .unwrap()
        .shuffle(11);
    let mut t = Trainer::new(&target, config()).unwrap();
    let err = t.resume(&path, &mut data).unwrap_err().to_string();
    assert!(err.contains("belongs to other data or batching"), "{err}");
    unchanged(&t, &data);
    // Another ignore_index.
    let mut t = Trainer::new(
        &target,
        TrainConfig {
            ignore_index: 0,
            ..config()
        },
    )
    .unwrap();
    assert!(
        t.resume(&path, &mut batches())
            .unwrap_err()
            .to_string()
            .contains("ignore_index")
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn evaluation_weights_batches_by_tokens() {
    let m = model(6);
    let data = batches();
    let valid: Vec<LmBatch> = data.all().unwrap();
    let record = evaluate(&m, &valid, -100, None, 0).unwrap();
    // By hand: the sum of every scored target's loss over their number.
    let mut total = 0.0f64;
    let mut count = 0usize;
    for b in &valid {
        let logits = m.forward(&b.inputs).unwrap();
        let rows = b.targets.len();
        let per = CrossEntropyLoss::new()
            .with_reduction(Reduction::Sum)
            .forward(
                &logits.reshape(&[rows, V]).unwrap(),
                &b.targets.reshape(&[rows]).unwrap(),
            )
            .unwrap()
            .item()
            .unwrap();
        total += f64::from(per);
        count += b.num_targets();
    }
    assert_eq!(record.tokens, count);
    assert!(
        (record.loss - total / count as f64).abs() < 1e-5,
        "{} {}",
        record.loss,
        total / count as f64
    );
    assert!((record.perplexity - record.loss.exp()).abs() < 1e-12);
    // The notebook's max_sentences: stop after the batch that reaches it.
    let limited = evaluate(&m, &valid, -100, Some(10), 0).unwrap();
    assert_eq!(limited.sentences, 16);
    assert!(evaluate(&m, &[], -100, None, 0).is_err());
}

#[test]
fn stateful_greedy_generation_equals_rerunning_the_sequence() {
    let m = model(9);
    // Train a little so the predictions are not uniform.
    let mut t = Trainer::new(
        &m,
        TrainConfig {
            lr: 2e-2,
            max_steps: Some(40),
            ..config()
        },
    )
    .unwrap();
    t.run(&mut batches(), &[], None, &mut quiet).unwrap();
    /// The default (re-run) decoding of the trait, through a wrapper that does not
    /// override it.
    #[derive(Debug)]
    struct Rerun<'a>(&'a RnnLanguageModel);
    impl Module for Rerun<'_> {
        fn visit(&self, v: &mut dyn ferrograd_nn::Visitor) {
            self.0.visit(v);
        }
    }
    impl Forward<&ferrograd_tensor::IdTensor> for Rerun<'_> {
        type Output = Tensor;
        fn forward(&self, ids: &ferrograd_tensor::IdTensor) -> ferrograd_nn::Result<Tensor> {
            self.0.forward(ids)
        }
    }
    impl CausalLm for Rerun<'_> {
        fn vocab_size(&self) -> usize {
            V
        }
    }
    for prompt in [vec![1u32], vec![5, 8, 11], vec![39, 2]] {
        let fast = m.generate_greedy(&prompt, 25, None).unwrap();
        let slow = Rerun(&m).generate_greedy(&prompt, 25, None).unwrap();
        assert_eq!(fast, slow);
        assert_eq!(fast.len(), prompt.len() + 25);
        // Stopping at an end token.
        let eos = fast[prompt.len() + 2];
        let stopped = m.generate_greedy(&prompt, 25, Some(eos)).unwrap();
        assert_eq!(
            stopped,
            slow[..=prompt.iter().len()
                + slow[prompt.len()..].iter().position(|&t| t == eos).unwrap()]
        );
    }
    // Bad prompts.
    assert!(m.generate_greedy(&[], 5, None).is_err());
    let err = m
        .generate_greedy(&[V as u32], 5, None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("below the vocabulary size 40"), "{err}");
}

#[test]
fn bad_batches_and_settings_are_errors() {
    let m = model(10);
    // Ids outside the vocabulary: an error naming the id, no update.
    let batch = ferrograd_data::text::collate_lines(&[vec![3u32, 77, 5]], Padding::new(0)).unwrap();
    let mut t = Trainer::new(&m, config()).unwrap();
    let before = m.fc.bias.as_ref().unwrap().tensor().to_vec();
    let err = t.step(&batch).unwrap_err().to_string();
    assert!(err.contains("77"), "{err}");
    assert_eq!(m.fc.bias.as_ref().unwrap().tensor().to_vec(), before);
    // A diverged model: the loss is NaN, the step is refused, nothing updated.
    m.fc.bias
        .as_ref()
        .unwrap()
        .update(|b| b[0] = f32::NAN)
        .unwrap();
    let ok = ferrograd_data::text::collate_lines(&[vec![3u32, 4, 5]], Padding::new(0)).unwrap();
    let before = m.rnn.rnn_units[0].uh.tensor().to_vec();
    assert!(matches!(
        t.step(&ok),
        Err(LmError::NonFiniteLoss { step: 1, .. })
    ));
    assert_eq!(m.rnn.rnn_units[0].uh.tensor().to_vec(), before);
    // No scored target.
    let none = ferrograd_data::text::collate_lines(&[vec![3u32, 4]], Padding::same(4)).unwrap();
    let mut t4 = Trainer::new(
        &m,
        TrainConfig {
            ignore_index: 4,
            ..config()
        },
    )
    .unwrap();
    assert!(t4.step(&none).is_err());
    // Targets of the inputs' size but not their shape ([3, 2] for [2, 3]): refused, not
    // paired with the wrong positions.
    let inputs = ferrograd_tensor::IdTensor::new(vec![1, 2, 3, 4, 5, 6], &[2, 3]).unwrap();
    let transposed = ferrograd_tensor::IdTensor::new(vec![2, 5, 3, 6, 4, 7], &[3, 2]).unwrap();
    let err = m.loss(&inputs, &transposed, -100).unwrap_err().to_string();
    assert!(err.contains("must be the inputs' shape"), "{err}");
    // Settings.
    assert!(
        Trainer::new(
            &m,
            TrainConfig {
                eval_every: Some(0),
                ..config()
            }
        )
        .is_err()
    );
    assert!(
        Trainer::new(
            &m,
            TrainConfig {
                checkpoint_every: Some(5),
                ..config()
            }
        )
        .is_err()
    );
    // A checkpoint that could never be written: refused before any step, naming the path.
    let nowhere = std::env::temp_dir()
        .join("ferrograd-no-such-folder")
        .join("run.ckpt");
    let err = Trainer::new(
        &m,
        TrainConfig {
            checkpoint_path: Some(nowhere),
            ..config()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("ferrograd-no-such-folder") && err.contains("does not exist"),
        "{err}"
    );
    let err = Trainer::new(
        &m,
        TrainConfig {
            checkpoint_path: Some(std::env::temp_dir()),
            ..config()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("is a folder"), "{err}");
    // A bare file name is in the current folder, which exists.
    assert!(
        Trainer::new(
            &m,
            TrainConfig {
                checkpoint_path: Some(PathBuf::from("run.ckpt")),
                ..config()
            }
        )
        .is_ok()
    );
    assert!(
        Trainer::new(
            &m,
            TrainConfig {
                lr: -1.0,
                ..config()
            }
        )
        .is_err()
    );
    // A checkpoint folder that disappears during the run: an I/O error naming the file.
    let m11 = model(11);
    let folder = std::env::temp_dir().join(format!("ferrograd-vanishing-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let path = folder.join("x.ckpt");
    let mut t = Trainer::new(
        &m11,
        TrainConfig {
            max_steps: Some(1),
            checkpoint_path: Some(path.clone()),
            ..config()
        },
    )
    .unwrap();
    std::fs::remove_dir_all(&folder).unwrap();
    let err = t
        .run(&mut batches(), &[], None, &mut quiet)
        .unwrap_err()
        .to_string();
    assert!(err.contains(path.to_str().unwrap()), "{err}");
}

#[test]
fn a_run_reports_evaluations_and_epochs() {
    let m = model(12);
    let corpus = corpus();
    let (train, valid) = corpus.split_by_lines(0.8).unwrap();
    let mut data = LineBatches::new(train, 8, Padding::new(0))
        .unwrap()
        .shuffle(1);
    let valid = LineBatches::new(valid, 8, Padding::new(0))
        .unwrap()
        .all()
        .unwrap();
    let mut t = Trainer::new(
        &m,
        TrainConfig {
            lr: 1e-2,
            epochs: 2,
            eval_every: Some(5),
            ..config()
        },
    )
    .unwrap();
    let (mut steps, mut evals, mut epochs) = (0, 0, Vec::new());
    let summary = t
        .run(&mut data, &valid, None, &mut |e| {
            match e {
                Event::Step { .. } => steps += 1,
                Event::Eval(_) => evals += 1,
                Event::EpochEnd { epoch, loss, .. } => epochs.push((*epoch, loss.is_some())),
                _ => {}
            }
            Control::Continue
        })
        .unwrap();
    assert_eq!(steps, 18); // 72 training lines, 9 batches per epoch
    assert_eq!(evals, 4); // steps 5, 10, 15, and the end
    assert_eq!(epochs, [(0, true), (1, true)]);
    assert_eq!(summary.steps, 18);
    assert!(summary.tokens_per_second() > 0.0);
    let evals = &t.history().evals;
    assert!(evals.last().unwrap().loss < evals[0].loss);
}

/// A run stopped at N steps (which evaluates at its end) and resumed to 2N has the same
/// evaluations in its history as an uninterrupted 2N-step run: the end-of-run evaluation
/// is not written into the checkpoint's history.
#[test]
fn a_resumed_run_has_the_evaluations_of_an_uninterrupted_one() {
    let n = 17; // not a multiple of eval_every: the first run's end adds an evaluation
    let corpus = corpus();
    let (train, valid) = corpus.split_by_lines(0.8).unwrap();
    let data = || {
        LineBatches::new(train.clone(), 8, Padding::new(0))
            .unwrap()
            .shuffle(1)
    };
    let valid = LineBatches::new(valid, 8, Padding::new(0))
        .unwrap()
        .all()
        .unwrap();
    let settings = |max_steps, checkpoint_path| TrainConfig {
        max_steps: Some(max_steps),
        eval_every: Some(5),
        checkpoint_path,
        ..config()
    };
    let whole = model(1);
    let mut t = Trainer::new(&whole, settings(2 * n, None)).unwrap();
    t.run(&mut data(), &valid, None, &mut quiet).unwrap();
    let expected = t.history().evals.clone();
    let steps: Vec<u64> = expected.iter().map(|e| e.step).collect();
    assert_eq!(steps, [5, 10, 15, 20, 25, 30, 34]);

    let path = temp("resume-evals");
    let first = model(1);
    let mut d = data();
    let mut t1 = Trainer::new(&first, settings(n, Some(path.clone()))).unwrap();
    t1.run(&mut d, &valid, None, &mut quiet).unwrap();
    // The run's own history (and its summary) still shows its end-of-run evaluation.
    assert_eq!(t1.history().evals.last().unwrap().step, n);
    let second = model(99);
    let mut fresh = data();
    let mut t2 = Trainer::new(&second, settings(2 * n, None)).unwrap();
    t2.resume(&path, &mut fresh).unwrap();
    t2.run(&mut fresh, &valid, None, &mut quiet).unwrap();
    assert_eq!(t2.history().evals, expected);
    std::fs::remove_file(&path).unwrap();
}
