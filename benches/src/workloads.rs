//! The workloads. [`build`] returns a closure that runs one unit of work (one training
//! step, one product…) on state prepared beforehand, so that only the work is timed.

use ferrograd::nn::{
    BceLoss, CrossEntropyLoss, Embedding, Forward, LayerNorm, Linear, Module, Relu, Sequential,
    Sigmoid,
};
use ferrograd::optim::{Adam, AdamConfig, AdamW, AdamWConfig, Optimizer, Sgd, SgdConfig};
use ferrograd::prelude::*;
use ferrograd::tensor::AttentionOptions;

/// A prepared workload: call it to run one unit of work.
pub type Workload = Box<dyn FnMut()>;

/// Names of every workload, as `benches/pytorch/workloads.py` spells them.
pub const NAMES: &[&str] = &[
    "logreg_loop",
    "mlp_step",
    "lm_step",
    "lm_step_sdpa",
    "matmul_64",
    "matmul_256",
    "matmul_512",
    "matmul_1024",
    "add_1m",
    "softmax_64x32000",
    "rnn_lm_step",
    "rnn_lm_step_torch_rnn",
    "linear_backward_trainable",
    "linear_backward_frozen",
    "mlp_step_graph_kept",
    "decoder_step_30",
    "decoder_step_30_sdpa",
    "decoder_step_128",
    "decoder_step_128_sdpa",
    "decoder_generate",
    "sum_124m",
];

/// The GPT-2 workloads (issue 17): heavy (a 124M-parameter model takes seconds per step on
/// two cores), so `cargo bench` and `bench-compare`'s default list leave them out; name
/// them with `--workloads`.
pub const GPT2_NAMES: &[&str] = &[
    "gpt2_124m_step",
    "gpt2_124m_lora_step",
    "gpt2_tiny_generate",
    "gpt2_124m_generate",
];

/// Tokens added by one call of the generation workloads.
pub const GENERATE_NEW_TOKENS: usize = 32;
/// Prompt length of the generation workloads.
pub const GENERATE_PROMPT: usize = 8;

/// Prepares the named workload, or `None` for an unknown name.
pub fn build(name: &str) -> Option<Workload> {
    Some(match name {
        "logreg_loop" => logreg_loop(),
        "mlp_step" => mlp_step(),
        // One ferrograd model (fused attention, fused head + loss); PyTorch writes
        // attention with composed ops for `lm_step`, with F.scaled_dot_product_attention
        // for `lm_step_sdpa`.
        "lm_step" | "lm_step_sdpa" => lm_step(),
        "matmul_64" => matmul(64),
        "matmul_256" => matmul(256),
        "matmul_512" => matmul(512),
        "matmul_1024" => matmul(1024),
        "add_1m" => add_1m(),
        "softmax_64x32000" => softmax(),
        // One ferrograd model; PyTorch runs the notebook's loop over time steps for the
        // first name and `torch.nn.RNN` for the second.
        "rnn_lm_step" | "rnn_lm_step_torch_rnn" => rnn_lm_step(),
        "linear_backward_trainable" => linear_backward(false),
        "linear_backward_frozen" => linear_backward(true),
        "mlp_step_graph_kept" => mlp_step_graph_kept(),
        // One ferrograd model (the fused attention op); PyTorch writes attention as the
        // book does for the first name of each pair, with F.scaled_dot_product_attention
        // for the `_sdpa` one.
        "decoder_step_30" | "decoder_step_30_sdpa" => decoder_step(30),
        "decoder_step_128" | "decoder_step_128_sdpa" => decoder_step(128),
        "decoder_generate" => decoder_generate(),
        "sum_124m" => sum_124m(),
        "gpt2_124m_step" => gpt2_step(false),
        "gpt2_124m_lora_step" => gpt2_step(true),
        "gpt2_tiny_generate" => gpt2_generate(true),
        "gpt2_124m_generate" => gpt2_generate(false),
        _ => return None,
    })
}

/// What one call of the workload does, for tables.
pub fn unit(name: &str) -> &'static str {
    match name {
        "logreg_loop" => "500 steps",
        "mlp_step"
        | "lm_step"
        | "lm_step_sdpa"
        | "rnn_lm_step"
        | "rnn_lm_step_torch_rnn"
        | "mlp_step_graph_kept"
        | "gpt2_124m_step"
        | "gpt2_124m_lora_step" => "step",
        "gpt2_tiny_generate" | "gpt2_124m_generate" => "32 tokens",
        n if n.starts_with("linear_backward") => "backward",
        n if n.starts_with("decoder_step") => "step",
        "decoder_generate" => "256 tokens",
        n if n.starts_with("matmul") => "product",
        "add_1m" => "add",
        "sum_124m" => "sum",
        _ => "softmax",
    }
}

fn matmul(n: usize) -> Workload {
    let mut rng = Rng::new(0);
    let a = Tensor::<f32>::randn(&[n, n], 0.0, 1.0, &mut rng);
    let b = Tensor::<f32>::randn(&[n, n], 0.0, 1.0, &mut rng);
    Box::new(move || {
        std::hint::black_box(a.matmul(&b).expect("square shapes"));
    })
}

fn add_1m() -> Workload {
    let mut rng = Rng::new(0);
    let a = Tensor::<f32>::randn(&[1_000_000], 0.0, 1.0, &mut rng);
    let b = Tensor::<f32>::randn(&[1_000_000], 0.0, 1.0, &mut rng);
    Box::new(move || {
        std::hint::black_box(a.add(&b).expect("same shapes"));
    })
}

/// The sum of 124,439,808 `f32` values (GPT-2 124M's parameter count): reading every
/// weight once from memory, the floor under one generated token at batch 1.
fn sum_124m() -> Workload {
    let x = Tensor::<f32>::full(&[124_439_808], 1.0);
    Box::new(move || {
        std::hint::black_box(x.sum_all());
    })
}

fn softmax() -> Workload {
    let mut rng = Rng::new(0);
    let x = Tensor::<f32>::randn(&[64, 32000], 0.0, 1.0, &mut rng);
    Box::new(move || {
        std::hint::black_box(x.softmax(-1).expect("axis exists"));
    })
}

/// The backward pass of a `Linear(1024, 1024)` on a batch of 256 whose input requires
/// gradients (a layer inside a network), with the weight trainable or frozen. The forward
/// pass runs once; each call backpropagates a fixed output gradient through the kept
/// graph. Trainable: two products (input and weight gradients) and the bias sum; frozen:
/// the weight-gradient product is never computed, so about half the time.
fn linear_backward(frozen: bool) -> Workload {
    let mut rng = Rng::new(0);
    let layer = Linear::new(1024, 1024, &mut rng);
    if frozen {
        Module::<f32>::freeze(&layer);
    }
    let x = Tensor::<f32>::randn(&[256, 1024], 0.0, 1.0, &mut rng).set_requires_grad(true);
    let g = Tensor::<f32>::randn(&[256, 1024], 0.0, 1.0, &mut rng);
    let y = layer.forward(&x).expect("shapes fit");
    Box::new(move || {
        let grads = y.backward_with_grad(&g).expect("graph kept");
        debug_assert_eq!(grads.get(&layer.weight).is_none(), frozen);
        std::hint::black_box(grads);
    })
}

/// [`mlp_step`] with the loop every guide used before `backward_free`:
/// `optimizer.step(&loss.backward()?)` with the loss (and so the graph, which holds the
/// parameters' values) alive during the step, so that every update copies its parameter
/// instead of writing in place.
fn mlp_step_graph_kept() -> Workload {
    let mut rng = Rng::new(0);
    let x = Tensor::<f32>::randn(&[128, 784], 0.0, 1.0, &mut rng);
    let y = IdTensor::from((0..128).map(|_| rng.below(10) as i64).collect::<Vec<_>>());
    let model = Sequential::new()
        .push(Linear::new(784, 256, &mut rng))
        .push(Relu)
        .push(Linear::new(256, 256, &mut rng))
        .push(Relu)
        .push(Linear::new(256, 10, &mut rng));
    let criterion = CrossEntropyLoss::default();
    let mut optimizer = Adam::new(model.parameters(), AdamConfig::new(1e-3)).expect("valid config");
    Box::new(move || {
        let loss = criterion
            .forward(&model.forward(&x).expect("shapes fit"), &y)
            .expect("targets fit");
        optimizer
            .step(&loss.backward().expect("graph"))
            .expect("step");
    })
}

/// The book's §1.8 loop: `Linear(2,1)` + sigmoid, BCE, SGD lr 0.001, 500 full-batch steps.
fn logreg_loop() -> Workload {
    // The book's 12 buy/no-buy examples, from their one home in ferrograd-data.
    let data = ferrograd::data::book::buy_no_buy::<f32>();
    let (x, y) = (data.inputs().clone(), data.targets().clone());
    let model = Sequential::new()
        .push(Linear::new(2, 1, &mut Rng::new(0)))
        .push(Sigmoid);
    let criterion = BceLoss::default();
    let mut optimizer = Sgd::new(model.parameters(), SgdConfig::new(0.001)).expect("valid lr");
    Box::new(move || {
        for _ in 0..500 {
            let grads = {
                let loss = criterion
                    .forward(&model.forward(&x).expect("shapes fit"), &y)
                    .expect("probabilities");
                loss.backward_free().expect("graph")
            };
            optimizer.step(&grads).expect("step");
        }
    })
}

/// One step of a 784-256-256-10 ReLU MLP, cross-entropy, Adam, batch 128.
fn mlp_step() -> Workload {
    let mut rng = Rng::new(0);
    let x = Tensor::<f32>::randn(&[128, 784], 0.0, 1.0, &mut rng);
    let y = IdTensor::from((0..128).map(|_| rng.below(10) as i64).collect::<Vec<_>>());
    let model = Sequential::new()
        .push(Linear::new(784, 256, &mut rng))
        .push(Relu)
        .push(Linear::new(256, 256, &mut rng))
        .push(Relu)
        .push(Linear::new(256, 10, &mut rng));
    let criterion = CrossEntropyLoss::default();
    let mut optimizer = Adam::new(model.parameters(), AdamConfig::new(1e-3)).expect("valid config");
    Box::new(move || {
        let grads = {
            let loss = criterion
                .forward(&model.forward(&x).expect("shapes fit"), &y)
                .expect("targets fit");
            loss.backward_free().expect("graph")
        };
        optimizer.step(&grads).expect("step");
    })
}

/// A pre-norm decoder block: 4-head causal self-attention and a 4·d ReLU MLP.
#[derive(Debug)]
struct Block {
    norm1: LayerNorm,
    qkv: Linear,
    proj: Linear,
    norm2: LayerNorm,
    fc1: Linear,
    fc2: Linear,
    heads: usize,
}

impl Block {
    fn new(d: usize, heads: usize, rng: &mut Rng) -> Self {
        Self {
            norm1: LayerNorm::new(&[d]),
            qkv: Linear::new(d, 3 * d, rng),
            proj: Linear::new(d, d, rng),
            norm2: LayerNorm::new(&[d]),
            fc1: Linear::new(d, 4 * d, rng),
            fc2: Linear::new(4 * d, d, rng),
            heads,
        }
    }

    /// `x + proj(attention(norm1(x)))`, then `x + fc2(relu(fc1(norm2(x))))`; the causal
    /// attention is the library's fused op (`softmax(q·kᵀ/√d_h + causal mask)·v` over all
    /// heads at once): q, k, v are views of the qkv projection and the heads come out
    /// concatenated, so no copy is made either way.
    fn forward(&self, x: &Tensor) -> ferrograd::nn::Result<Tensor> {
        let (b, t, d) = (x.shape()[0], x.shape()[1], x.shape()[2]);
        let (h, dh) = (self.heads, d / self.heads);
        let qkv = self.qkv.forward(&self.norm1.forward(x)?)?;
        let split = |i: usize| -> ferrograd::nn::Result<Tensor> {
            Ok(qkv
                .narrow(-1, i * d, d)?
                .reshape(&[b, t, h, dh])?
                .transpose(1, 2)?)
        };
        let (q, k, v) = (split(0)?, split(1)?, split(2)?);
        let out = q
            .scaled_dot_product_attention(&k, &v, &AttentionOptions::causal())?
            .transpose(1, 2)?
            .reshape(&[b, t, d])?;
        let x = x.add(&self.proj.forward(&out)?)?;
        let hidden = Relu.forward(&self.fc1.forward(&self.norm2.forward(&x)?)?)?;
        Ok(x.add(&self.fc2.forward(&hidden)?)?)
    }

    fn parameters(&self) -> Vec<Parameter> {
        [
            &self.norm1 as &dyn Module,
            &self.qkv,
            &self.proj,
            &self.norm2,
            &self.fc1,
            &self.fc2,
        ]
        .iter()
        .flat_map(|m| m.parameters())
        .collect()
    }
}

/// One step of a small decoder-only LM: vocabulary 256, d = 128, 2 pre-norm blocks
/// (LayerNorm, 4-head causal self-attention, LayerNorm, 4·d ReLU MLP), learned positions,
/// a final LayerNorm and a head with bias, context 64, batch 16, AdamW lr 3e-4.
///
/// The ferrograd side is written as a ferrograd user would: the attention is the fused
/// `scaled_dot_product_attention` (causal) and the head and the loss are the fused
/// `linear_cross_entropy` (the `[1024, 256]` logits are never stored). Until 2026-12-06
/// it composed `matmul`, `div_scalar`, `masked_fill`, `softmax`, `matmul` and
/// `Linear` → `CrossEntropyLoss`; the model and the arithmetic are the same. PyTorch:
/// `lm_step` writes attention with those composed ops (eager), `lm_step_sdpa` with
/// `F.scaled_dot_product_attention(is_causal=True)`.
fn lm_step() -> Workload {
    use ferrograd::lm::train_loss::linear_cross_entropy;
    let (vocab, d, context, batch) = (256, 128, 64, 16);
    let mut rng = Rng::new(0);
    let embed = Embedding::new(vocab, d, None, &mut rng);
    let pos = Embedding::new(context, d, None, &mut rng);
    let blocks: Vec<Block> = (0..2).map(|_| Block::new(d, 4, &mut rng)).collect();
    let norm = LayerNorm::new(&[d]);
    let head = Linear::new(d, vocab, &mut rng);
    let ids: Vec<i64> = (0..batch * (context + 1))
        .map(|_| rng.below(vocab) as i64)
        .collect();
    let inputs = IdTensor::new(
        (0..batch)
            .flat_map(|r| ids[r * (context + 1)..r * (context + 1) + context].to_vec())
            .collect(),
        &[batch, context],
    )
    .expect("sizes agree");
    let targets = IdTensor::new(
        (0..batch)
            .flat_map(|r| ids[r * (context + 1) + 1..(r + 1) * (context + 1)].to_vec())
            .collect(),
        &[batch * context],
    )
    .expect("sizes agree");
    let positions = IdTensor::arange(0, context as i64).expect("small range");
    let mut params = embed.parameters();
    params.extend(pos.parameters());
    for block in &blocks {
        params.extend(block.parameters());
    }
    params.extend(norm.parameters());
    params.extend(head.parameters());
    let mut optimizer = AdamW::new(params, AdamWConfig::new(3e-4)).expect("valid config");
    Box::new(move || {
        let grads = {
            let mut x = embed
                .lookup(&inputs)
                .expect("ids fit")
                .add(&pos.lookup(&positions).expect("fit"))
                .expect("broadcast");
            for block in &blocks {
                x = block.forward(&x).expect("shapes fit");
            }
            let hidden = norm
                .forward(&x)
                .expect("fits")
                .reshape(&[batch * context, d])
                .expect("fits");
            let bias = head.bias.as_ref().map(|b| b.tensor());
            let loss = linear_cross_entropy(
                &hidden,
                &head.weight.tensor(),
                bias.as_ref(),
                &targets,
                -100,
            )
            .expect("fits");
            loss.backward_free().expect("graph")
        };
        optimizer.step(&grads).expect("step");
    })
}

/// One training step of the chapter-3 notebook's RNN language model at its shapes with
/// V = 8,192: `Embedding(8192, 128)` → 2 Elman layers of 128 → `Linear(128, 8192)`,
/// batch 128 of 29 input tokens (the notebook's context of 30, full length: no
/// padding), cross-entropy with the pad id 0 ignored, AdamW lr 1e-3.
fn rnn_lm_step() -> Workload {
    use ferrograd::data::text::LmBatch;
    use ferrograd::lm::rnn::{RnnConfig, RnnLanguageModel};
    use ferrograd::lm::train::{TrainConfig, Trainer};
    let (vocab, batch, time) = (8192, 128, 29);
    let mut rng = Rng::new(0);
    let model: &'static RnnLanguageModel = Box::leak(Box::new(
        RnnLanguageModel::new(&RnnConfig::new(vocab).with_pad_index(0), &mut rng).expect("valid"),
    ));
    let ids: Vec<i64> = (0..batch * (time + 1))
        .map(|_| 1 + rng.below(vocab - 1) as i64)
        .collect();
    let rows = |offset: usize| -> Vec<i64> {
        (0..batch)
            .flat_map(|r| ids[r * (time + 1) + offset..r * (time + 1) + offset + time].to_vec())
            .collect()
    };
    let lm_batch = LmBatch {
        inputs: IdTensor::new(rows(0), &[batch, time]).expect("sizes agree"),
        targets: IdTensor::new(rows(1), &[batch, time]).expect("sizes agree"),
        lengths: vec![time; batch],
    };
    let config = TrainConfig {
        lr: 1e-3,
        ignore_index: 0,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(model, config).expect("valid config");
    Box::new(move || {
        trainer.step(&lm_batch).expect("step");
    })
}

/// One training step of the book's decoder language model (chapter 4) with V = 8,192:
/// d = 128, 8 heads, 2 blocks, MLP 512, batch 32 of `context` input tokens (full length),
/// cross-entropy with the pad id 0 ignored, AdamW lr 1e-3.
fn decoder_step(context: usize) -> Workload {
    use ferrograd::data::text::LmBatch;
    use ferrograd::lm::train::{TrainConfig, Trainer};
    use ferrograd::lm::{DecoderConfig, DecoderLanguageModel};
    let (vocab, batch) = (8192, 32);
    let mut rng = Rng::new(0);
    let model: &'static DecoderLanguageModel = Box::leak(Box::new(
        DecoderLanguageModel::new(&DecoderConfig::book(vocab, Some(0)), &mut rng).expect("valid"),
    ));
    let ids: Vec<i64> = (0..batch * (context + 1))
        .map(|_| 1 + rng.below(vocab - 1) as i64)
        .collect();
    let rows = |offset: usize| -> Vec<i64> {
        (0..batch)
            .flat_map(|r| {
                ids[r * (context + 1) + offset..r * (context + 1) + offset + context].to_vec()
            })
            .collect()
    };
    let lm_batch = LmBatch {
        inputs: IdTensor::new(rows(0), &[batch, context]).expect("sizes agree"),
        targets: IdTensor::new(rows(1), &[batch, context]).expect("sizes agree"),
        lengths: vec![context; batch],
    };
    let config = TrainConfig {
        lr: 1e-3,
        ignore_index: 0,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(model, config).expect("valid config");
    Box::new(move || {
        trainer.step(&lm_batch).expect("step");
    })
}

/// Greedy generation of 256 tokens after a 64-token prompt, batch 1, with the KV cache,
/// by the book's decoder (V = 8,192, random weights).
fn decoder_generate() -> Workload {
    use ferrograd::lm::{DecoderConfig, DecoderLanguageModel, GenerateOptions, Greedy, generate};
    let vocab = 8192;
    let mut rng = Rng::new(0);
    let model = DecoderLanguageModel::<f32>::new(&DecoderConfig::book(vocab, Some(0)), &mut rng)
        .expect("valid");
    let prompt: Vec<i64> = (0..64).map(|_| 1 + rng.below(vocab - 1) as i64).collect();
    let options = GenerateOptions::new(256);
    Box::new(move || {
        let out = generate(&model, &prompt, &mut Greedy, &options).expect("generate");
        assert_eq!(out.tokens.len(), 256);
    })
}

/// The ids both sides use for GPT-2 inputs: `(i·37 + 11) mod vocab`.
fn gpt2_ids(batch: usize, len: usize, vocab: usize) -> IdTensor {
    IdTensor::new(
        (0..batch * len)
            .map(|i| ((i * 37 + 11) % vocab) as i64)
            .collect(),
        &[batch, len],
    )
    .expect("sizes agree")
}

/// One training step of the GPT-2 124M shape (Hugging Face's `GPT2Config()`, random
/// weights, no dropout), batch 4, context 64 (llm.c's `train_gpt2.c` configuration), the
/// language-model loss with the ids as labels (`GPT2LMHeadModel(ids, labels=ids).loss`),
/// AdamW lr 3e-4 with PyTorch's default weight decay 0.01. With `lora`, PEFT's LoRA
/// (r = 16, alpha = 32, no dropout) on every `c_attn`, the base frozen, AdamW over the
/// adapters only.
fn gpt2_step(lora: bool) -> Workload {
    use ferrograd::lm::gpt2::{Gpt2Config, Gpt2LmHeadModel};
    let config = Gpt2Config::gpt2_124m().without_dropout();
    let mut rng = Rng::new(0);
    let mut model = Gpt2LmHeadModel::<f32>::new(&config, &mut rng).expect("valid config");
    if lora {
        model
            .add_lora(
                &ferrograd::nn::LoraConfig::new(16, 32.0).targets(&["c_attn"]),
                &mut rng,
            )
            .expect("c_attn exists");
    }
    let ids = gpt2_ids(4, 64, config.vocab_size);
    let mut optimizer =
        AdamW::new(model.trainable_parameters(), AdamWConfig::new(3e-4)).expect("valid config");
    Box::new(move || {
        let grads = {
            let logits = model.logits(&ids).expect("ids fit");
            let loss = model.loss(&logits, &ids).expect("labels fit");
            loss.backward_free().expect("graph")
        };
        optimizer.step(&grads).expect("step");
    })
}

/// Greedy generation with the key-value cache of [`GENERATE_NEW_TOKENS`] tokens after a
/// prompt of [`GENERATE_PROMPT`] ids, batch 1, no stop id: the tiny random GPT-2
/// checkpoint of the lm crate's test data (`hf-internal-testing/tiny-random-gpt2`: 5
/// blocks, d = 32, vocabulary 1000), or the 124M shape with random weights.
fn gpt2_generate(tiny: bool) -> Workload {
    use ferrograd::lm::gpt2::{Gpt2Config, Gpt2LmHeadModel};
    use ferrograd::lm::gpt2_generate::{GenerationConfig, generate};
    use ferrograd::lm::sampling::Sampler;
    let model = if tiny {
        Gpt2LmHeadModel::<f32>::from_pretrained(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../crates/ferrograd-lm/tests/data/tiny-random-gpt2"
        ))
        .expect("the tiny checkpoint of the lm crate's test data")
    } else {
        let config = Gpt2Config::gpt2_124m().without_dropout();
        let model = Gpt2LmHeadModel::<f32>::new(&config, &mut Rng::new(0)).expect("valid");
        model.eval();
        model
    };
    let prompt = gpt2_ids(1, GENERATE_PROMPT, model.config().vocab_size);
    let config = GenerationConfig::new(GENERATE_NEW_TOKENS);
    Box::new(move || {
        let out =
            generate(&model, &prompt, None, &mut Sampler::greedy(), &config).expect("generation");
        debug_assert_eq!(out.new_tokens[0].len(), GENERATE_NEW_TOKENS);
        std::hint::black_box(out);
    })
}

#[cfg(test)]
mod tests {
    use ferrograd::data::book::{BUY_FEATURES, BUY_LABELS};

    /// The numbers of a Python list literal that follows `name = ` in `text`.
    fn python_list(text: &str, name: &str) -> Vec<f64> {
        let start = text
            .find(&format!("\n{name} = ["))
            .unwrap_or_else(|| panic!("{name} not found"));
        let rest = &text[start + name.len() + 4..];
        let mut depth = 0;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                depth += match c {
                    '[' => 1,
                    ']' => -1,
                    _ => 0,
                };
                depth == 0
            })
            .map(|(i, _)| i)
            .expect("a closed list");
        rest[..=end]
            .split(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().expect("a number"))
            .collect()
    }

    #[test]
    fn python_side_uses_the_book_data_of_ferrograd_data() {
        let script = include_str!("../pytorch/workloads.py");
        let x: Vec<f64> = BUY_FEATURES.iter().flatten().copied().collect();
        let y: Vec<f64> = BUY_LABELS.iter().map(|&l| l as f64).collect();
        assert_eq!(python_list(script, "BUY_X"), x);
        assert_eq!(python_list(script, "BUY_Y"), y);
    }
}
