//! Chapter 5 of the book: GPT-2 checkpoints (§5.1), supervised finetuning (§5.2–5.3),
//! sampling (§5.4), LoRA (§5.5) and a language model as a classifier (§5.6, with the
//! §5.3.1 bag-of-words baseline). [`run`] runs one section end to end for the program.
//!
//! The built-in model is the tiny random GPT-2 of `transformers`' tests
//! (`hf-internal-testing/tiny-random-gpt2`, Apache-2.0; the copy in `ferrograd-lm`'s test
//! data), embedded in the program and written to `<out>/tiny-random-gpt2/` so the program
//! works offline; `--model DIR` takes any Hugging Face GPT-2 checkpoint directory. The
//! emotion data is read from `--data DIR` (the `text;label` files `train.txt`, `val.txt`,
//! `test.txt`; research/education licence, never bundled); without it a synthetic
//! look-alike is used.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ferrograd::lm::classifier::{Gpt2ForSequenceClassification, accuracy};
use ferrograd::lm::classifier_bow::{BowVectorizer, LogisticOptions, LogisticRegression};
use ferrograd::lm::classifier_data::{EmotionData, Example};
use ferrograd::lm::finetune::{
    CHATML_END, Padding, SftExample, chatml_completion, chatml_prompt, collate, emotion_prompt,
    encode_example, exact_match, train_step,
};
use ferrograd::lm::gpt2::{Gpt2Config, Gpt2LmHeadModel};
use ferrograd::lm::gpt2_generate::{GenerationConfig, generate, generate_text};
use ferrograd::lm::gpt2_load::load_tokenizer;
use ferrograd::lm::peft::{AdapterOptions, save_adapter};
use ferrograd::lm::sampling::{NextToken, Sampler, SamplingConfig, softmax};
use ferrograd::nn::{Linear, Lora, LoraConfig, Module, StateDict};
use ferrograd::optim::{AdamW, AdamWConfig, Optimizer};
use ferrograd::tensor::{IdTensor, Rng, Tensor, no_grad};
use ferrograd::tokenize::ByteLevelBpe;
use serde_json::{Value, json};

use crate::error::{BookError, Result};
use crate::plot::Figures;
use crate::progress::Progress;

/// The sections of chapter 5, as the program's subcommands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Section {
    /// §5.1 a GPT-2 checkpoint: load, count, generate.
    Gpt2,
    /// §5.4 sampling: temperature, top-k, top-p, seeded draws.
    Sampling,
    /// §5.2–5.3 supervised finetuning: emotion as text generation, ChatML.
    Finetune,
    /// §5.5 LoRA: counts, training only the adapters, merge, PEFT's adapter files.
    Lora,
    /// §5.3.1 and §5.6 emotion classification: bag of words, GPT-2 as a classifier, LoRA.
    Classifier,
}

impl Section {
    /// Every section, in order.
    pub const ALL: [Section; 5] = [
        Section::Gpt2,
        Section::Sampling,
        Section::Finetune,
        Section::Lora,
        Section::Classifier,
    ];

    /// The command-line options (without the leading `--`) this section reads; the
    /// program refuses one that none of the sections it runs reads ([`check_given`]), and
    /// [`Options::check`] checks an option's value for the sections that read it.
    pub fn options(self) -> &'static [&'static str] {
        match self {
            Section::Gpt2 => &["model", "prompt"],
            Section::Sampling => &["seed"],
            Section::Finetune | Section::Lora => {
                &["model", "data", "epochs", "max-train", "max-test", "seed"]
            }
            Section::Classifier => &["data", "epochs", "max-train", "max-test", "seed"],
        }
    }

    /// The subcommand that runs this section.
    pub fn name(self) -> &'static str {
        match self {
            Section::Gpt2 => "gpt2",
            Section::Sampling => "sampling",
            Section::Finetune => "finetune",
            Section::Lora => "lora",
            Section::Classifier => "classifier",
        }
    }

    /// A one-line title with the book's section number.
    pub fn title(self) -> &'static str {
        match self {
            Section::Gpt2 => "§5.1 a GPT-2 checkpoint: load, count, generate",
            Section::Sampling => "§5.4 sampling: temperature, top-k, top-p",
            Section::Finetune => "§5.2–5.3 supervised finetuning: emotion generation, ChatML",
            Section::Lora => "§5.5 LoRA: adapters, merging, PEFT's files",
            Section::Classifier => "§5.3.1, §5.6 emotion classification: baseline, GPT-2, LoRA",
        }
    }
}

/// What a chapter-5 run may be told on the command line.
#[derive(Debug, Clone)]
pub struct Options {
    /// A Hugging Face GPT-2 checkpoint directory (`None`: the built-in tiny one).
    pub model: Option<PathBuf>,
    /// The emotion data directory (`None`: the synthetic look-alike).
    pub data: Option<PathBuf>,
    /// Synthetic training / test examples when `data` is `None`.
    pub synthetic: (usize, usize),
    /// Passes over the training examples.
    pub epochs: usize,
    /// Most training examples used from the data (0: all).
    pub max_train: usize,
    /// Most test examples used (0: all).
    pub max_test: usize,
    /// The prompt of the `gpt2` section.
    pub prompt: String,
    /// Seed of initial weights and draws.
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            model: None,
            data: None,
            synthetic: (1500, 300),
            epochs: 4,
            max_train: 0,
            max_test: 0,
            prompt: "Hello, my name is".into(),
            seed: 1,
        }
    }
}

impl Options {
    /// Checks the options that `sections` use: what the program does before it makes
    /// the output folder — where the built-in model and the adapters go — so a usage
    /// error leaves none. The `--model` and `--data` folders must hold the files their
    /// readers open; `--epochs` must be at least 1 for the sections that train; the
    /// `gpt2` section's `--prompt` must be at least one token and at most the model's
    /// context (for that count this reads the model's `config.json` and tokenizer, the
    /// built-in one's from the program).
    ///
    /// ```
    /// use ferrograd_book::chapter5::{Options, Section};
    /// let options = Options { prompt: String::new(), ..Options::default() };
    /// assert!(options.check(&[Section::Gpt2]).unwrap_err().contains("--prompt"));
    /// assert_eq!(options.check(&[Section::Sampling]), Ok(())); // no prompt there
    /// ```
    ///
    /// # Errors
    /// A message naming the first section with a bad option (as the section's own errors
    /// do), the option and its value.
    pub fn check(&self, sections: &[Section]) -> std::result::Result<(), String> {
        for &section in sections {
            self.check_section(section)
                .map_err(|e| format!("{}: {e}", section.name()))?;
        }
        Ok(())
    }

    fn check_section(&self, section: Section) -> std::result::Result<(), String> {
        // The sections an option matters to are those that read it (`Section::options`).
        let reads = |option: &str| section.options().contains(&option);
        if reads("prompt") && self.prompt.is_empty() {
            return Err(
                "--prompt \"\": the gpt2 section continues a prompt; give at least one character"
                    .into(),
            );
        }
        if reads("epochs") && self.epochs == 0 {
            return Err(
                "--epochs 0: must be at least 1 (passes over the training examples)".into(),
            );
        }
        if let Some(dir) = &self.model
            && reads("model")
        {
            check_folder(
                "model",
                dir,
                "a Hugging Face GPT-2 checkpoint folder",
                &[
                    &["config.json"],
                    &["model.safetensors"],
                    &["tokenizer.json", "vocab.json + merges.txt"],
                ],
            )?;
        }
        if let Some(dir) = &self.data
            && reads("data")
        {
            check_folder(
                "data",
                dir,
                "the emotion data folder",
                &[&["train.txt"], &["val.txt"], &["test.txt"]],
            )?;
        }
        if reads("prompt") {
            self.check_prompt_fits()?;
        }
        Ok(())
    }

    /// The `gpt2` section's prompt fits the model's context (generation refuses a longer
    /// one).
    fn check_prompt_fits(&self) -> std::result::Result<(), String> {
        let (config, tok) = match &self.model {
            None => {
                let text = std::str::from_utf8(TINY[0].1).map_err(|e| e.to_string())?;
                let config = Gpt2Config::from_json(text, "built-in config.json");
                let tok = ByteLevelBpe::from_hf(TINY[2].1, TINY[3].1).map_err(|e| e.to_string());
                (config.map_err(|e| e.to_string())?, tok?)
            }
            Some(dir) => {
                let named = |e: ferrograd::lm::LmError| format!("--model {}: {e}", dir.display());
                let config = Gpt2Config::from_file(dir.join("config.json")).map_err(named)?;
                (config, load_tokenizer(dir).map_err(named)?)
            }
        };
        let tokens = tok.encode(&self.prompt).len();
        if tokens > config.n_positions {
            let shown: String = self.prompt.chars().take(40).collect();
            let more = if shown.len() < self.prompt.len() {
                "…"
            } else {
                ""
            };
            return Err(format!(
                "--prompt {shown:?}{more} ({tokens} tokens): longer than the model's context of \
                 {} positions",
                config.n_positions
            ));
        }
        Ok(())
    }

    /// Small settings for `ferrograd-book all` (seconds, not minutes).
    pub fn small() -> Self {
        Self {
            synthetic: (600, 200),
            epochs: 3,
            ..Self::default()
        }
    }
}

/// Refuses a command-line option the user gave (`given`, names without `--`) that none
/// of `sections` reads, so that it is not silently ignored: `chapter5 gpt2 --epochs 3`
/// trains nothing, and says so.
///
/// ```
/// use ferrograd_book::chapter5::{Section, check_given};
/// assert!(check_given(&["epochs"], &Section::ALL).is_ok());
/// let error = check_given(&["epochs"], &[Section::Gpt2]).unwrap_err();
/// assert!(error.starts_with("gpt2: --epochs has no effect here"), "{error}");
/// ```
///
/// # Errors
/// The first such option, the sections that would run, and those that read it.
pub fn check_given(given: &[&str], sections: &[Section]) -> std::result::Result<(), String> {
    let names = |list: &mut dyn Iterator<Item = &Section>| -> String {
        list.map(|s| s.name()).collect::<Vec<_>>().join(", ")
    };
    for &option in given {
        if !sections.iter().any(|s| s.options().contains(&option)) {
            let running = names(&mut sections.iter());
            let readers: Vec<&Section> = Section::ALL
                .iter()
                .filter(|s| s.options().contains(&option))
                .collect();
            let verb = if readers.len() == 1 { "reads" } else { "read" };
            let readers = names(&mut readers.into_iter());
            return Err(format!(
                "{running}: --{option} has no effect here (only {readers} {verb} it); leave \
                 it out or name one of those sections"
            ));
        }
    }
    Ok(())
}

/// Checks that `dir`, given as `--option`, is a folder holding, for each entry of
/// `needed`, one of its alternatives (`"a + b"`: both files).
fn check_folder(
    option: &str,
    dir: &Path,
    what: &str,
    needed: &[&[&str]],
) -> std::result::Result<(), String> {
    match std::fs::metadata(dir) {
        Err(e) => return Err(format!("--{option} {}: {e}", dir.display())),
        Ok(m) if !m.is_dir() => {
            return Err(format!(
                "--{option} {}: not a folder ({what} expected)",
                dir.display()
            ));
        }
        Ok(_) => {}
    }
    let missing: Vec<String> = needed
        .iter()
        .filter(|alternatives| {
            !alternatives
                .iter()
                .any(|alt| alt.split(" + ").all(|name| dir.join(name).is_file()))
        })
        .map(|alternatives| alternatives.join(" or "))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "--{option} {}: not {what}: no {}",
        dir.display(),
        missing.join(", no ")
    ))
}

/// What running a section produced.
#[derive(Debug, Clone)]
pub struct Output {
    /// The section.
    pub section: Section,
    /// The report the program prints.
    pub text: String,
    /// The section's numbers as JSON.
    pub json: Value,
    /// The files written.
    pub files: Vec<PathBuf>,
}

const TINY: [(&str, &[u8]); 4] = [
    (
        "config.json",
        include_bytes!("../../../ferrograd-lm/tests/data/tiny-random-gpt2/config.json"),
    ),
    (
        "model.safetensors",
        include_bytes!("../../../ferrograd-lm/tests/data/tiny-random-gpt2/model.safetensors"),
    ),
    (
        "vocab.json",
        include_bytes!("../../../ferrograd-lm/tests/data/tiny-random-gpt2/vocab.json"),
    ),
    (
        "merges.txt",
        include_bytes!("../../../ferrograd-lm/tests/data/tiny-random-gpt2/merges.txt"),
    ),
];

/// The checkpoint directory to use: `options.model`, or the built-in tiny GPT-2 written
/// under the output directory.
///
/// # Errors
/// [`BookError::Io`] when the built-in files cannot be written.
pub fn model_dir(options: &Options, figures: &Figures) -> Result<PathBuf> {
    if let Some(dir) = &options.model {
        return Ok(dir.clone());
    }
    let dir = figures.path("tiny-random-gpt2");
    std::fs::create_dir_all(&dir)?;
    for (name, bytes) in TINY {
        let path = dir.join(name);
        if std::fs::read(&path).ok().as_deref() != Some(bytes) {
            crate::files::write_atomically(&path, bytes)?;
        }
    }
    Ok(dir)
}

fn tokenizer(dir: &Path) -> Result<ByteLevelBpe> {
    Ok(load_tokenizer(dir)?)
}

fn ids(tokenizer: &ByteLevelBpe, text: &str) -> Vec<i64> {
    tokenizer.encode(text).into_iter().map(i64::from).collect()
}

fn eos_of(tokenizer: &ByteLevelBpe) -> i64 {
    tokenizer.token_to_id("<|endoftext|>").map_or(0, i64::from)
}

/// The emotion data: `options.data`, or the synthetic look-alike; cut to `max_train` /
/// `max_test`.
///
/// # Errors
/// The reader's errors naming the file and line.
pub fn emotion_data(options: &Options) -> Result<EmotionData> {
    let mut data = match &options.data {
        Some(dir) => EmotionData::load(dir)?,
        None => EmotionData::synthetic(options.synthetic.0, options.synthetic.1, options.seed),
    };
    if options.max_train > 0 {
        data.train.truncate(options.max_train);
    }
    if options.max_test > 0 {
        data.test.truncate(options.max_test);
    }
    Ok(data)
}

/// §5.1: loads the checkpoint, counts its parameters and those of GPT-2 124M built from
/// its config, and continues the prompt greedily with and without the KV cache.
///
/// # Errors
/// Checkpoint, tokenizer or generation errors.
pub fn gpt2(options: &Options, figures: &Figures, t: &mut String) -> Result<Value> {
    let dir = model_dir(options, figures)?;
    let start = Instant::now();
    let model = Gpt2LmHeadModel::<f32>::from_pretrained(&dir)?;
    let load_s = start.elapsed().as_secs_f64();
    let tok = tokenizer(&dir)?;
    let c = model.config().clone();
    // Counted on a skeleton: zeros, no random draws (the allocator still clears the
    // blocks it reuses: ~0.3 GB resident for a moment).
    let big = Gpt2LmHeadModel::<f32>::zeros(&Gpt2Config::gpt2_124m())?;
    let big_count = big.num_parameters();
    drop(big);
    let prompt = ids(&tok, &options.prompt);
    let n = prompt.len();
    let input = IdTensor::new(prompt, &[1, n])?;
    let mut texts = Vec::new();
    let mut seqs = Vec::new();
    let start = Instant::now();
    for cache in [true, false] {
        let config = GenerationConfig::new(12).with_cache(cache);
        let out = no_grad(|| generate(&model, &input, None, &mut Sampler::greedy(), &config))?;
        let new: Vec<u32> = out.new_tokens[0]
            .iter()
            .filter_map(|&i| u32::try_from(i).ok())
            .collect();
        texts.push(
            tok.decode_lossy(&new)
                .map_err(|e| BookError::Input(e.to_string()))?,
        );
        seqs.push(out.new_tokens[0].clone());
    }
    let gen_s = start.elapsed().as_secs_f64();
    let _ = writeln!(t, "checkpoint: {}", dir.display());
    let _ = writeln!(
        t,
        "  {} layers, d = {}, {} heads, vocabulary {}, context {}: {} parameters (loaded in {load_s:.2} s)",
        c.n_layer,
        c.n_embd,
        c.n_head,
        c.vocab_size,
        c.n_positions,
        model.num_parameters()
    );
    let _ = writeln!(
        t,
        "GPT-2 124M's config builds {big_count} parameters (book: 124,439,808)"
    );
    let _ = writeln!(
        t,
        "greedy, 12 tokens after {:?}: {:?}",
        options.prompt, texts[0]
    );
    let _ = writeln!(
        t,
        "  with and without the KV cache: {} ({gen_s:.2} s for both)",
        if seqs[0] == seqs[1] {
            "the same ids"
        } else {
            "DIFFERENT ids"
        }
    );
    Ok(json!({
        "checkpoint": dir,
        "parameters": model.num_parameters(),
        "gpt2_124m_parameters": big_count,
        "prompt": options.prompt,
        "greedy_ids": seqs[0],
        "greedy_text": texts[0],
        "cache_matches": seqs[0] == seqs[1],
    }))
}

/// §5.4: the book's temperature example, top-k and top-p on the same logits, and sampled
/// frequencies from a seeded sampler.
///
/// # Errors
/// Invalid settings (none here).
pub fn sampling(options: &Options, t: &mut String) -> Result<Value> {
    let logits = [4.0, 2.0, 0.0];
    let mut temperatures = Vec::new();
    let _ = writeln!(
        t,
        "logits [4, 2, 0] (book: T 0.5 ≈ .98/.02/.00, 1 ≈ .87/.12/.02, 2 ≈ .67/.24/.09):"
    );
    for temperature in [0.5, 1.0, 2.0] {
        let config = SamplingConfig {
            temperature,
            ..SamplingConfig::default()
        };
        let p = softmax(&config.process(&logits, &[])?);
        let _ = writeln!(
            t,
            "  T = {temperature}: {:.2} {:.2} {:.2}",
            p[0], p[1], p[2]
        );
        temperatures.push(json!({ "temperature": temperature, "probabilities": p }));
    }
    let scores = [2.0, 1.5, 1.0, 0.5, 0.0, -0.5, -1.0, -1.5];
    let _ = writeln!(t, "logits {scores:?}:");
    let mut filters = Vec::new();
    let settings: [(&str, SamplingConfig); 4] = [
        ("none", SamplingConfig::default()),
        (
            "top-k 3",
            SamplingConfig {
                top_k: Some(3),
                ..SamplingConfig::default()
            },
        ),
        (
            "top-p 0.9",
            SamplingConfig {
                top_p: 0.9,
                ..SamplingConfig::default()
            },
        ),
        (
            "T 0.7, top-p 0.9",
            SamplingConfig {
                temperature: 0.7,
                top_p: 0.9,
                ..SamplingConfig::default()
            },
        ),
    ];
    let draws = 20_000;
    for (name, config) in settings {
        let p = softmax(&config.process(&scores, &[])?);
        let mut sampler = Sampler::new(config.clone(), options.seed)?;
        let mut counts = vec![0usize; scores.len()];
        for _ in 0..draws {
            counts[sampler.next_token(&scores, &[])? as usize] += 1;
        }
        let freq: Vec<f64> = counts.iter().map(|&c| c as f64 / draws as f64).collect();
        let show = |v: &[f64]| {
            v.iter()
                .map(|x| format!("{x:.3}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let _ = writeln!(t, "  {name:<17} p    {}", show(&p));
        let _ = writeln!(
            t,
            "  {:<17} seen {} ({draws} draws, seed {})",
            "",
            show(&freq),
            options.seed
        );
        filters.push(json!({ "setting": name, "probabilities": p, "frequencies": freq }));
    }
    Ok(json!({ "book_temperature": temperatures, "filters": filters, "draws": draws }))
}

/// Trains `model` on SFT examples for `epochs` in right-padded batches of 16 with AdamW
/// (dropout off); returns the mean loss of each epoch.
#[allow(clippy::too_many_arguments)]
fn sft_epochs(
    model: &Gpt2LmHeadModel<f32>,
    examples: &[SftExample],
    pad: i64,
    lr: f64,
    epochs: usize,
    seed: u64,
    progress: &Progress,
    label: &str,
) -> Result<Vec<f64>> {
    model.eval();
    let mut opt = AdamW::new(model.trainable_parameters(), AdamWConfig::new(lr))?;
    let mut order: Vec<usize> = (0..examples.len()).collect();
    let mut rng = Rng::new(seed);
    let mut losses = Vec::new();
    let batches = examples.len().div_ceil(16);
    let bar = progress.bar(epochs.saturating_mul(batches) as u64, label);
    for _ in 0..epochs {
        rng.shuffle(&mut order);
        let mut sum = 0.0;
        for chunk in order.chunks(16) {
            let refs: Vec<&SftExample> = chunk.iter().map(|&i| &examples[i]).collect();
            let batch = collate(&refs, pad, Padding::Right)?;
            sum += train_step(model, &batch, &mut opt)?;
            bar.inc(1);
        }
        losses.push(sum / batches as f64);
    }
    bar.finish_and_clear();
    Ok(losses)
}

/// §5.2–5.3: the emotion task as text generation (prompt, label, EOS) on the checkpoint,
/// scored by exact match before and after finetuning; a ChatML instruction learned and
/// answered up to `<|im_end|>`.
///
/// # Errors
/// Data, checkpoint or training errors.
pub fn finetune(
    options: &Options,
    figures: &Figures,
    progress: &Progress,
    t: &mut String,
) -> Result<Value> {
    let dir = model_dir(options, figures)?;
    let tok = tokenizer(&dir)?;
    let eos = eos_of(&tok);
    let data = emotion_data(options)?;
    let pairs = |ex: &[Example]| -> Vec<(String, String)> {
        ex.iter()
            .map(|e| {
                (
                    emotion_prompt(&e.text),
                    format!(" {}", data.labels[e.label]),
                )
            })
            .collect()
    };
    let (train, test) = (pairs(&data.train), pairs(&data.test));
    let model = Gpt2LmHeadModel::<f32>::from_pretrained(&dir)?;
    let (before, _) = no_grad(|| exact_match(&model, &tok, &test, 4, eos, 32))?;
    let examples: Vec<SftExample> = train
        .iter()
        .map(|(p, c)| encode_example(&tok, p, c, eos))
        .collect();
    let start = Instant::now();
    let losses = sft_epochs(
        &model,
        &examples,
        eos,
        3e-3,
        options.epochs,
        options.seed,
        progress,
        "finetune",
    )?;
    let train_s = start.elapsed().as_secs_f64();
    let (after, completions) = no_grad(|| exact_match(&model, &tok, &test, 4, eos, 32))?;
    let _ = writeln!(
        t,
        "data: {} ({} train, {} test)",
        data.source,
        train.len(),
        test.len()
    );
    if let Some((prompt, completion)) = train.first() {
        let _ = writeln!(t, "prompt: {prompt:?} → {completion:?}");
    }
    let _ = writeln!(t, "exact match before finetuning: {before:.3}");
    let _ = writeln!(
        t,
        "finetuned every parameter, {} epochs, AdamW lr 3e-3, batch 16: loss {} in {train_s:.1} s",
        options.epochs,
        losses
            .iter()
            .map(|l| format!("{l:.3}"))
            .collect::<Vec<_>>()
            .join(" → ")
    );
    let _ = writeln!(
        t,
        "exact match after: {after:.3}; first answers {:?}",
        &completions[..completions.len().min(4)]
    );

    // ChatML (§5.3.3): two instructions memorised, answered until `<|im_end|>`.
    let chat = Gpt2LmHeadModel::<f32>::from_pretrained(&dir)?;
    let items = [
        ("Name a colour.", "Blue."),
        ("What is two plus two?", "Four."),
    ];
    let chat_examples: Vec<SftExample> = items
        .iter()
        .map(|(q, a)| encode_example(&tok, &chatml_prompt(q), &chatml_completion(a), eos))
        .collect();
    // One batch of both, trained until memorised (dropout off).
    chat.eval();
    let refs: Vec<&SftExample> = chat_examples.iter().collect();
    let batch = collate(&refs, eos, Padding::Right)?;
    let mut opt = AdamW::new(chat.parameters(), AdamWConfig::new(3e-3))?;
    let mut chat_steps = 0;
    for _ in 0..400 {
        chat_steps += 1;
        if train_step(&chat, &batch, &mut opt)? < 0.01 {
            break;
        }
    }
    let _ = writeln!(
        t,
        "ChatML: two instructions memorised in {chat_steps} steps"
    );
    let mut answers = Vec::new();
    for (q, _) in items {
        let out = no_grad(|| {
            generate_text(
                &chat,
                &tok,
                &chatml_prompt(q),
                &mut Sampler::greedy(),
                &GenerationConfig::new(30),
                &[CHATML_END],
            )
        })?;
        let _ = writeln!(t, "ChatML {q:?} → {:?} ({:?})", out.text.trim(), out.finish);
        answers.push(json!({ "instruction": q, "answer": out.text.trim(), "finish": format!("{:?}", out.finish) }));
    }
    Ok(json!({
        "data": data.source,
        "train_examples": train.len(),
        "test_examples": test.len(),
        "exact_match_before": before,
        "exact_match_after": after,
        "epoch_losses": losses,
        "train_seconds": train_s,
        "chatml": answers,
    }))
}

/// §5.5: the book's counts, LoRA on the checkpoint's `c_attn` trained on the emotion
/// prompts, merged vs unmerged logits, and the adapter saved in PEFT's layout (with
/// reference logits for `scripts/reference/check_peft_loads_ours.py`).
///
/// # Errors
/// Checkpoint, training or file errors.
pub fn lora(
    options: &Options,
    figures: &Figures,
    progress: &Progress,
    t: &mut String,
) -> Result<Value> {
    // 1024 × 1024 with r = 8: 8·(1024 + 1024) trainable.
    let mut layer = Lora::new(Linear::<f32>::with_bias(
        1024,
        1024,
        false,
        &mut Rng::new(0),
    ));
    layer.base.freeze();
    layer.attach(&LoraConfig::default(), &mut Rng::new(1))?;
    let square = layer.num_trainable_parameters();
    let mut big = Gpt2LmHeadModel::<f32>::zeros(&Gpt2Config::gpt2_124m())?;
    big.add_lora(
        &LoraConfig::new(16, 32.0).targets(&["c_attn"]),
        &mut Rng::new(1),
    )?;
    let (big_trainable, big_total) = (big.num_trainable_parameters(), big.num_parameters());
    drop(big);
    let _ = writeln!(
        t,
        "1024×1024 linear, r = 8: {square} trainable (book: 16,384)"
    );
    let _ = writeln!(
        t,
        "GPT-2 124M, r = 16 on c_attn: {big_trainable} trainable of {big_total} (book: 589,824 of 125,029,632)"
    );

    let dir = model_dir(options, figures)?;
    let tok = tokenizer(&dir)?;
    let eos = eos_of(&tok);
    let data = emotion_data(options)?;
    let mut model = Gpt2LmHeadModel::<f32>::from_pretrained(&dir)?;
    let config = LoraConfig::new(8, 16.0).targets(&["c_attn"]);
    let wrapped = model.add_lora(&config, &mut Rng::new(options.seed))?;
    let examples: Vec<SftExample> = data
        .train
        .iter()
        .map(|e| {
            encode_example(
                &tok,
                &emotion_prompt(&e.text),
                &format!(" {}", data.labels[e.label]),
                eos,
            )
        })
        .collect();
    let start = Instant::now();
    let losses = sft_epochs(
        &model,
        &examples,
        eos,
        1e-2,
        options.epochs,
        options.seed,
        progress,
        "lora",
    )?;
    let train_s = start.elapsed().as_secs_f64();
    let test: Vec<(String, String)> = data
        .test
        .iter()
        .map(|e| {
            (
                emotion_prompt(&e.text),
                format!(" {}", data.labels[e.label]),
            )
        })
        .collect();
    let (acc, _) = no_grad(|| exact_match(&model, &tok, &test, 4, eos, 32))?;
    let _ = writeln!(
        t,
        "tiny GPT-2 + LoRA r = 8, alpha 16 on {} layers: {} trainable of {}; {} epochs on {} ({} examples): loss {} in {train_s:.1} s; exact match {acc:.3}",
        wrapped.len(),
        model.num_trainable_parameters(),
        model.num_parameters(),
        options.epochs,
        data.source,
        examples.len(),
        losses
            .iter()
            .map(|l| format!("{l:.3}"))
            .collect::<Vec<_>>()
            .join(" → ")
    );
    let probe_ids = ids(&tok, &emotion_prompt("i feel wonderful"));
    let probe_len = probe_ids.len();
    let probe = IdTensor::new(probe_ids, &[1, probe_len])?;
    let unmerged = no_grad(|| model.logits(&probe))?;
    model.merge_lora()?;
    let merged = no_grad(|| model.logits(&probe))?;
    model.unmerge_lora()?;
    let diff = max_abs(&unmerged, &merged);
    let _ = writeln!(t, "merged vs unmerged logits: max |Δ| = {diff:.2e}");

    let adapter_dir = figures.path("lora-adapter");
    save_adapter(
        &model,
        &config,
        &adapter_dir,
        &AdapterOptions::causal_lm().with_base(base_model_name(options)),
    )?;
    let reference = adapter_dir.join("reference_logits.safetensors");
    let ids_f = Tensor::<f32>::from_vec(
        probe.to_vec().iter().map(|&i| i as f32).collect(),
        probe.shape(),
    )?;
    ferrograd::tensor::io::save_safetensors(
        &reference,
        &[("input_ids", &ids_f), ("logits", &unmerged)],
    )?;
    let _ = writeln!(
        t,
        "adapter saved in PEFT's layout: {} (check with scripts/reference/check_peft_loads_ours.py {} --base {})",
        adapter_dir.display(),
        adapter_dir.display(),
        dir.display()
    );
    Ok(json!({
        "linear_1024_r8_trainable": square,
        "gpt2_124m_r16_c_attn_trainable": big_trainable,
        "gpt2_124m_r16_c_attn_total": big_total,
        "tiny_trainable": model.num_trainable_parameters(),
        "tiny_total": model.num_parameters(),
        "epoch_losses": losses,
        "train_seconds": train_s,
        "exact_match": acc,
        "merged_vs_unmerged_max_abs": diff,
        "adapter_dir": adapter_dir,
        "files": [adapter_dir.join("adapter_model.safetensors"), adapter_dir.join("adapter_config.json"), reference],
    }))
}

/// What the saved adapter names as its base (PEFT's `base_model_name_or_path`): the
/// `--model` directory as given, or the Hugging Face name of the built-in tiny GPT-2.
fn base_model_name(options: &Options) -> String {
    options.model.as_ref().map_or_else(
        || "hf-internal-testing/tiny-random-gpt2".to_string(),
        |dir| dir.display().to_string(),
    )
}

/// The largest |a − b| over the elements; NaN if any difference is NaN (a NaN in either
/// tensor must not read as agreement).
fn max_abs(a: &Tensor<f32>, b: &Tensor<f32>) -> f64 {
    a.to_vec()
        .iter()
        .zip(b.to_vec())
        .map(|(x, y)| f64::from((x - y).abs()))
        .fold(0.0, |m, d| {
            if m.is_nan() || d.is_nan() {
                f64::NAN
            } else {
                m.max(d)
            }
        })
}

/// Word ids for the classifier: every training word gets an id from 2 (0 padding, 1
/// unknown).
fn word_ids(data: &EmotionData) -> (usize, impl Fn(&str) -> Vec<i64>) {
    let mut vocab = std::collections::HashMap::new();
    for e in &data.train {
        for w in e.text.split_whitespace() {
            let next = vocab.len() as i64 + 2;
            vocab.entry(w.to_string()).or_insert(next);
        }
    }
    let size = vocab.len() + 2;
    let encode = move |text: &str| -> Vec<i64> {
        let mut v: Vec<i64> = text
            .split_whitespace()
            .map(|w| *vocab.get(w).unwrap_or(&1))
            .collect();
        v.truncate(63); // + the eos id when pretraining: the 64-token context
        if v.is_empty() {
            v.push(1);
        }
        v
    };
    (size, encode)
}

fn padded(rows: &[&Vec<i64>]) -> Result<(IdTensor, IdTensor)> {
    let t = rows.iter().map(|r| r.len()).max().unwrap_or(1);
    let (mut ids, mut mask) = (Vec::new(), Vec::new());
    for r in rows {
        ids.extend(r.iter());
        ids.extend(std::iter::repeat_n(0, t - r.len()));
        mask.extend(std::iter::repeat_n(1, r.len()));
        mask.extend(std::iter::repeat_n(0, t - r.len()));
    }
    Ok((
        IdTensor::new(ids, &[rows.len(), t])?,
        IdTensor::new(mask, &[rows.len(), t])?,
    ))
}

/// Trains a classifier's trainable parameters (batches of 32, AdamW); returns the test
/// accuracy and the training seconds.
#[allow(clippy::too_many_arguments)]
fn train_classifier(
    model: &Gpt2ForSequenceClassification<f32>,
    x: &[Vec<i64>],
    y: &[i64],
    xt: &[Vec<i64>],
    yt: &[i64],
    lr: f64,
    epochs: usize,
    progress: &Progress,
    label: &str,
) -> Result<(f64, f64)> {
    model.eval();
    let mut opt = AdamW::new(model.trainable_parameters(), AdamWConfig::new(lr))?;
    let mut order: Vec<usize> = (0..x.len()).collect();
    let mut rng = Rng::new(9);
    let bar = progress.bar(epochs.saturating_mul(x.len().div_ceil(32)) as u64, label);
    let start = Instant::now();
    for _ in 0..epochs {
        rng.shuffle(&mut order);
        for chunk in order.chunks(32) {
            let rows: Vec<&Vec<i64>> = chunk.iter().map(|&i| &x[i]).collect();
            let (ids, mask) = padded(&rows)?;
            let labels = IdTensor::from(chunk.iter().map(|&i| y[i]).collect::<Vec<_>>());
            let loss = model.loss(&model.logits(&ids, Some(&mask))?, &labels)?;
            opt.step(&loss.backward_free()?)?;
            bar.inc(1);
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let mut correct = 0.0;
    for (rows, labels) in xt.chunks(128).zip(yt.chunks(128)) {
        let refs: Vec<&Vec<i64>> = rows.iter().collect();
        let (ids, mask) = padded(&refs)?;
        let a = no_grad(|| {
            accuracy(
                &model.logits(&ids, Some(&mask))?,
                &IdTensor::from(labels.to_vec()),
            )
        })?;
        correct += a * rows.len() as f64;
    }
    Ok((correct / xt.len().max(1) as f64, seconds))
}

/// §5.3.1 and §5.6: the bag-of-words baseline, a small GPT-2-shaped model trained as a
/// classifier from random weights, and the same shape pretrained as a language model on
/// the training texts then adapted with LoRA (r = 8 on `c_attn`, the head trainable).
///
/// # Errors
/// Data or training errors.
pub fn classifier(options: &Options, progress: &Progress, t: &mut String) -> Result<Value> {
    let data = emotion_data(options)?;
    let counts = data.counts(&data.test);
    let majority = *counts.iter().max().unwrap_or(&0) as f64 / data.test.len().max(1) as f64;
    let _ = writeln!(
        t,
        "data: {} ({} train, {} test; majority class {majority:.3})",
        data.source,
        data.train.len(),
        data.test.len()
    );

    let start = Instant::now();
    let bow = BowVectorizer::fit(data.train.iter().map(|e| e.text.as_str()), 10_000);
    let rows = |ex: &[Example]| -> (Vec<Vec<usize>>, Vec<usize>) {
        (
            ex.iter().map(|e| bow.transform(&e.text)).collect(),
            ex.iter().map(|e| e.label).collect(),
        )
    };
    let (xtr, ytr) = rows(&data.train);
    let (xte, yte) = rows(&data.test);
    let lr = LogisticRegression::fit(
        &xtr,
        &ytr,
        data.labels.len(),
        bow.len(),
        &LogisticOptions::default(),
    )?;
    let base_acc = lr.accuracy(&xte, &yte);
    let base_s = start.elapsed().as_secs_f64();
    let _ = writeln!(
        t,
        "bag of words ({} words, binary) + logistic regression: test accuracy {base_acc:.4} in {base_s:.1} s (book: 0.8855)",
        bow.len()
    );

    let (vocab, encode) = word_ids(&data);
    let x: Vec<Vec<i64>> = data.train.iter().map(|e| encode(&e.text)).collect();
    let y: Vec<i64> = data.train.iter().map(|e| e.label as i64).collect();
    let xt: Vec<Vec<i64>> = data.test.iter().map(|e| encode(&e.text)).collect();
    let yt: Vec<i64> = data.test.iter().map(|e| e.label as i64).collect();
    let config = Gpt2Config::small(vocab, 64, 32, 2, 4);
    let classes = data.labels.len();

    let full =
        Gpt2ForSequenceClassification::<f32>::new(&config, classes, &mut Rng::new(options.seed))?;
    let (full_acc, full_s) = train_classifier(
        &full,
        &x,
        &y,
        &xt,
        &yt,
        3e-3,
        options.epochs,
        progress,
        "classifier",
    )?;
    let _ = writeln!(
        t,
        "GPT-2-shaped classifier (2 layers, d 32, 4 heads, vocabulary {vocab}; {} parameters), all trained, {} epochs: accuracy {full_acc:.4} in {full_s:.1} s",
        full.num_parameters(),
        options.epochs
    );

    // Pretrain the same shape as a language model on the training texts, then LoRA.
    let (pretrain_epochs, lora_epochs) = (
        options.epochs.saturating_mul(5),
        options.epochs.saturating_mul(2),
    );
    let lm = Gpt2LmHeadModel::<f32>::new(&config, &mut Rng::new(options.seed.wrapping_add(1)))?;
    let examples: Vec<SftExample> = x.iter().map(|r| SftExample::new(&[], r, 0)).collect();
    let start = Instant::now();
    sft_epochs(
        &lm,
        &examples,
        0,
        3e-3,
        pretrain_epochs,
        options.seed,
        progress,
        "pretrain",
    )?;
    let pretrain_s = start.elapsed().as_secs_f64();
    let body = StateDict::from_module(&lm.transformer);
    let fresh = Gpt2LmHeadModel::<f32>::new(&config, &mut Rng::new(options.seed.wrapping_add(1)))?;
    ferrograd::nn::load_state_dict(
        &fresh.transformer,
        &body,
        &ferrograd::nn::LoadOptions::strict(),
    )?;
    let mut lora = Gpt2ForSequenceClassification::with_body(
        fresh.transformer,
        classes,
        &mut Rng::new(options.seed),
    )?;
    lora.add_lora(
        &LoraConfig::new(8, 16.0).targets(&["c_attn"]),
        &mut Rng::new(options.seed.wrapping_add(2)),
    )?;
    let (lora_acc, lora_s) =
        train_classifier(&lora, &x, &y, &xt, &yt, 5e-3, lora_epochs, progress, "lora")?;
    let _ = writeln!(
        t,
        "the same shape pretrained as an LM ({} epochs, {pretrain_s:.1} s), then LoRA r 8 on c_attn + head ({} trainable), {} epochs: accuracy {lora_acc:.4} in {lora_s:.1} s",
        pretrain_epochs,
        lora.num_trainable_parameters(),
        lora_epochs
    );
    Ok(json!({
        "data": data.source,
        "train_examples": data.train.len(),
        "test_examples": data.test.len(),
        "majority": majority,
        "bow_logistic": { "vocabulary": bow.len(), "test_accuracy": base_acc, "seconds": base_s, "book": 0.8855 },
        "gpt2_classifier": { "parameters": full.num_parameters(), "epochs": options.epochs, "test_accuracy": full_acc, "seconds": full_s },
        "gpt2_lora": { "trainable": lora.num_trainable_parameters(), "epochs": lora_epochs, "pretrain_epochs": pretrain_epochs, "pretrain_seconds": pretrain_s, "test_accuracy": lora_acc, "seconds": lora_s },
    }))
}

/// Runs `section`: computes its numbers (writing its files under `figures`' directory) and
/// formats the report.
///
/// # Errors
/// A [`BookError`] when a checkpoint or the data cannot be read or a model rejects its
/// input.
pub fn run(
    section: Section,
    options: &Options,
    figures: &Figures,
    progress: &Progress,
) -> Result<Output> {
    let mut t = String::new();
    let results = match section {
        Section::Gpt2 => gpt2(options, figures, &mut t)?,
        Section::Sampling => sampling(options, &mut t)?,
        Section::Finetune => finetune(options, figures, progress, &mut t)?,
        Section::Lora => lora(options, figures, progress, &mut t)?,
        Section::Classifier => classifier(options, progress, &mut t)?,
    };
    let files: Vec<PathBuf> = results
        .get("files")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(PathBuf::from))
                .collect()
        })
        .unwrap_or_default();
    Ok(Output {
        section,
        json: json!({ "section": section.name(), "title": section.title(), "results": results }),
        text: t,
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_abs_is_the_largest_difference_and_nan_is_not_agreement() {
        let a = Tensor::<f32>::from(vec![1.0, 2.0, 3.0]);
        let b = Tensor::<f32>::from(vec![1.5, 2.0, 1.0]);
        assert_eq!(max_abs(&a, &b), 2.0);
        // A NaN anywhere, first, middle or last: the result is NaN, never 0 or 2.
        for at in 0..3 {
            let mut v = vec![1.0, 2.0, 3.0];
            v[at] = f32::NAN;
            let n = Tensor::<f32>::from(v);
            assert!(max_abs(&n, &b).is_nan(), "NaN at {at}");
            assert!(max_abs(&b, &n).is_nan(), "NaN at {at}");
        }
    }

    #[test]
    fn the_adapter_names_the_model_it_was_trained_on() {
        let builtin = Options::default();
        assert_eq!(
            base_model_name(&builtin),
            "hf-internal-testing/tiny-random-gpt2"
        );
        let given = Options {
            model: Some(PathBuf::from("checkpoints/gpt2")),
            ..Options::default()
        };
        assert_eq!(base_model_name(&given), "checkpoints/gpt2");
    }
}
