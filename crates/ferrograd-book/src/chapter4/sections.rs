//! §4.2/4.5 causal self-attention, §4.4 RoPE, §4.6–4.7 the decoder language model and
//! §4.8 generation with the KV cache: the book's worked values and the model's numbers.

use std::fmt::Write as _;
use std::time::Instant;

use ferrograd::lm::{CachedLm, DecoderConfig, DecoderLanguageModel};
use ferrograd::nn::{Module, MultiHeadAttention, Rope};
use ferrograd::tensor::{AttentionOptions, IdTensor, Rng, Tensor, no_grad};
use serde::Serialize;

use super::training::Settings;
use crate::error::{BookError, Result};

/// §4.2/4.5's numbers.
#[derive(Debug, Clone, Serialize)]
pub struct AttentionNumbers {
    /// The book's scores of one query against four keys.
    pub scores: Vec<f64>,
    /// The query's position (0-based): keys after it are masked.
    pub query_index: usize,
    /// The causal softmax of the scores (the book prints 0.0067, 0.9933, 0, 0).
    pub weights: Vec<f64>,
    /// The same weights from the formula exp(s_j) / Σ_{i ≤ q} exp(s_i).
    pub by_hand: Vec<f64>,
    /// The book's layer (d = 128, 8 heads of 16) on a random 6-token input: the first
    /// head's weights, row by row (zero above the diagonal, rows sum to one).
    pub head0_weights: Vec<Vec<f64>>,
    /// Largest |row sum − 1| over every head and row.
    pub row_sum_error: f64,
    /// Largest weight above the diagonal (a future position).
    pub future_weight: f64,
    /// Parameters of the layer: 8 × 3 × (128 × 16) + 128 × 128.
    pub layer_parameters: usize,
}

/// The book's causal-softmax example through the fused attention op (keys of dimension
/// one holding the scores, a query of one, identity values: the output row is the
/// weights), and the book's multi-head layer on a random input.
///
/// # Errors
/// Never with these fixed shapes.
pub fn attention() -> Result<AttentionNumbers> {
    let scores = vec![2.0, 7.0, 4.0, 5.0];
    let query_index = 1;
    let n = scores.len();
    let k = Tensor::<f64>::from_vec(scores.clone(), &[1, 1, n, 1])?;
    let v = Tensor::<f64>::eye(n).reshape(&[1, 1, n, n])?;
    let q = Tensor::<f64>::ones(&[1, 1, n, 1]);
    let out =
        q.scaled_dot_product_attention(&k, &v, &AttentionOptions::causal().with_scale(1.0))?;
    let weights = out.select(2, query_index)?.to_vec();
    let z: f64 = scores[..=query_index].iter().map(|s| s.exp()).sum();
    let by_hand = scores
        .iter()
        .enumerate()
        .map(|(j, s)| if j <= query_index { s.exp() / z } else { 0.0 })
        .collect();

    let mut rng = Rng::new(4);
    let mha = MultiHeadAttention::<f64>::new(128, 8, &mut rng)?;
    let x = Tensor::<f64>::randn(&[1, 6, 128], 0.0, 1.0, &mut rng);
    let w = no_grad(|| mha.attention_weights(&x))?; // [1, 8, 6, 6]
    let data = w.contiguous_data();
    let (mut row_sum_error, mut future_weight) = (0.0f64, 0.0f64);
    for h in 0..8 {
        for i in 0..6 {
            let row = &data[(h * 6 + i) * 6..(h * 6 + i + 1) * 6];
            row_sum_error = row_sum_error.max((row.iter().sum::<f64>() - 1.0).abs());
            for &x in &row[i + 1..] {
                future_weight = future_weight.max(x.abs());
            }
        }
    }
    let head0_weights = (0..6).map(|i| data[i * 6..i * 6 + 6].to_vec()).collect();
    Ok(AttentionNumbers {
        scores,
        query_index,
        weights,
        by_hand,
        head0_weights,
        row_sum_error,
        future_weight,
        layer_parameters: mha.num_parameters(),
    })
}

fn fmt(v: &[f64]) -> String {
    let parts: Vec<String> = v.iter().map(|x| format!("{x:.4}")).collect();
    format!("[{}]", parts.join(", "))
}

/// Writes §4.2/4.5's report.
pub fn report_attention(a: &AttentionNumbers, t: &mut String) {
    let _ = writeln!(
        t,
        "scores {:?} of the query at position {} (keys after it masked to −∞):",
        a.scores,
        a.query_index + 1
    );
    let _ = writeln!(
        t,
        "  causal softmax {}   (book: [0.0067, 0.9933, 0, 0]; by hand {})",
        fmt(&a.weights),
        fmt(&a.by_hand)
    );
    let _ = writeln!(
        t,
        "the book's layer, 8 heads of 16 on d = 128 ({} parameters = 8·3·128·16 + 128·128), on 6 random tokens; head 1's weights:",
        a.layer_parameters
    );
    for row in &a.head0_weights {
        let _ = writeln!(t, "  {}", fmt(row));
    }
    let _ = writeln!(
        t,
        "  every head: rows sum to 1 within {:.1e}, largest weight on a future position {:.1e}",
        a.row_sum_error, a.future_weight
    );
}

/// §4.4's numbers.
#[derive(Debug, Clone, Serialize)]
pub struct RopeNumbers {
    /// The book's query vector.
    pub q: Vec<f64>,
    /// Its position.
    pub position: usize,
    /// The rotated vector (the book: ≈ [0.9937, 0.1123, 0.2497, −0.7195, 0.4029, 0.4976]).
    pub rotated: Vec<f64>,
    /// θ_p = 10000^(−2(p−1)/d) for p = 1..d/2.
    pub thetas: Vec<f64>,
    /// |q| and |RoPE(q)| (a rotation keeps the length).
    pub norms: (f64, f64),
    /// q·k of two vectors rotated at positions (m, n) for several pairs with the same
    /// distance m − n = 3: the same number (relative positions).
    pub relative: Vec<(usize, usize, f64)>,
}

/// The book's RoPE example and the relative-position property.
///
/// # Errors
/// Never with these fixed shapes.
pub fn rope() -> Result<RopeNumbers> {
    let q = vec![0.8, 0.6, 0.7, 0.3, 0.5, 0.4];
    let position = 100;
    let rope = Rope::new(6)?;
    let x = Tensor::<f64>::from_vec(q.clone(), &[1, 6])?;
    let rotated = rope.apply(&x, &[position])?.to_vec();
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let k = Tensor::<f64>::from_vec(vec![0.1, -0.4, 0.9, 0.2, -0.3, 0.5], &[1, 6])?;
    let relative = [(3, 0), (10, 7), (103, 100)]
        .iter()
        .map(|&(m, n)| -> Result<(usize, usize, f64)> {
            let a = rope.apply(&x, &[m])?.to_vec();
            let b = rope.apply(&k, &[n])?.to_vec();
            Ok((m, n, a.iter().zip(&b).map(|(x, y)| x * y).sum()))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RopeNumbers {
        norms: (norm(&q), norm(&rotated)),
        thetas: rope.frequencies::<f64>(),
        q,
        position,
        rotated,
        relative,
    })
}

/// Writes §4.4's report.
pub fn report_rope(r: &RopeNumbers, t: &mut String) {
    let _ = writeln!(t, "θ_p = 10000^(−2(p−1)/d), d = 6: {}", fmt(&r.thetas));
    let _ = writeln!(
        t,
        "q = {} at position {} → {}",
        fmt(&r.q),
        r.position,
        fmt(&r.rotated)
    );
    let _ = writeln!(
        t,
        "  (book: [0.9937, 0.1123, 0.2497, −0.7195, 0.4029, 0.4976]); |q| = {:.6}, |RoPE(q)| = {:.6}",
        r.norms.0, r.norms.1
    );
    for (m, n, dot) in &r.relative {
        let _ = writeln!(t, "  RoPE(q, {m})·RoPE(k, {n}) = {dot:.12}");
    }
}

/// §4.6–4.7's numbers.
#[derive(Debug, Clone, Serialize)]
pub struct ModelNumbers {
    /// `(V, parameters)` of the book's model (d = 128, 8 heads, 2 blocks) for some
    /// vocabularies, and the formula's value 256·V + 395,008.
    pub counts: Vec<(usize, usize, usize)>,
    /// This run's model: V, d, heads, blocks, parameters.
    pub this_run: (usize, usize, usize, usize, usize),
    /// Parameter names and shapes (the notebook's state_dict keys).
    pub names: Vec<(String, Vec<usize>)>,
    /// Logits' shape for ids [2, 5].
    pub logits_shape: Vec<usize>,
    /// The loss of a random batch at initialisation and ln V.
    pub initial_loss: (f64, f64),
}

/// Parameter counts of the book's model and one forward pass of this run's model.
///
/// # Errors
/// Invalid settings.
pub fn model(settings: &Settings) -> Result<ModelNumbers> {
    let counts = [1000, 8192, 50_257]
        .iter()
        .map(|&v| {
            (
                v,
                DecoderConfig::book(v, Some(0)).num_parameters(),
                256 * v + 395_008,
            )
        })
        .collect();
    let v = settings.run.tokenizer.model_vocab_size()?;
    let config = settings.decoder_config(v, Some(0));
    let model = DecoderLanguageModel::<f32>::new(&config, &mut Rng::new(settings.run.seed))?;
    let names = model
        .named_parameters()
        .into_iter()
        .map(|(n, p)| (n, p.shape()))
        .collect();
    let mut rng = Rng::new(1);
    let ids: Vec<i64> = (0..2 * 6).map(|_| 1 + rng.below(v - 1) as i64).collect();
    let input = IdTensor::new(
        ids.chunks(6).flat_map(|c| c[..5].to_vec()).collect(),
        &[2, 5],
    )?;
    let target = IdTensor::new(
        ids.chunks(6).flat_map(|c| c[1..].to_vec()).collect(),
        &[2, 5],
    )?;
    let logits_shape = no_grad(|| model.forward_ids(&input))?.shape().to_vec();
    let loss = no_grad(|| model.loss(&input, &target))?.item()?;
    Ok(ModelNumbers {
        counts,
        this_run: (
            v,
            settings.emb_dim,
            settings.num_heads,
            settings.num_blocks,
            model.num_parameters(),
        ),
        names,
        logits_shape,
        initial_loss: (f64::from(loss), (v as f64).ln()),
    })
}

/// Writes §4.6–4.7's report.
pub fn report_model(m: &ModelNumbers, t: &mut String) {
    let _ = writeln!(
        t,
        "Embedding(V, 128, pad) → 2 × [x + MHA(RMSNorm(x)), x + MLP(RMSNorm(x))] → x·output (128 × V): 256·V + 395,008"
    );
    for (v, n, formula) in &m.counts {
        let _ = writeln!(t, "  V = {v:>6}: {n:>10} parameters (formula {formula})");
    }
    let (v, d, h, b, n) = m.this_run;
    let _ = writeln!(
        t,
        "this run's model: V = {v}, d = {d}, {h} heads, {b} blocks: {n} parameters"
    );
    for (name, shape) in &m.names {
        let _ = writeln!(t, "  {name:<28} {shape:?}");
    }
    let _ = writeln!(
        t,
        "ids [2, 5] → logits {:?}; loss of a random batch at initialisation {:.3} (ln V = {:.3})",
        m.logits_shape, m.initial_loss.0, m.initial_loss.1
    );
}

/// §4.8's numbers.
#[derive(Debug, Clone, Serialize)]
pub struct GenerationNumbers {
    /// The model: V, d, heads, blocks.
    pub model: (usize, usize, usize, usize),
    /// Prompt length and new tokens.
    pub prompt: usize,
    /// New tokens generated.
    pub new_tokens: usize,
    /// Greedy tokens with the cache equal those without it.
    pub same_tokens: bool,
    /// Seconds per new token at each position, with the cache.
    pub cached_seconds: Vec<f64>,
    /// Seconds per new token at each position, re-running the whole sequence.
    pub uncached_seconds: Vec<f64>,
    /// Tokens per second with and without the cache (the prompt's prefill included).
    pub tokens_per_second: (f64, f64),
    /// Median seconds per token with the cache over the first and the last quarter of the
    /// positions (flat: about equal).
    pub cached_first_last: (f64, f64),
    /// Times the cache reallocated (0: written in place).
    pub reallocations: usize,
}

/// Greedy generation of `new_tokens` tokens after a random prompt of `prompt` tokens by
/// this run's model (random weights: speed does not depend on them), with the KV cache
/// and by re-running the sequence, timing every token.
///
/// # Errors
/// Invalid settings; a context shorter than prompt + new tokens.
pub fn generation(
    settings: &Settings,
    prompt: usize,
    new_tokens: usize,
) -> Result<GenerationNumbers> {
    let v = settings.run.tokenizer.model_vocab_size()?;
    let mut config = settings.decoder_config(v, Some(0));
    config.max_positions = config.max_positions.max(prompt + new_tokens);
    let model = DecoderLanguageModel::<f32>::new(&config, &mut Rng::new(settings.run.seed))?;
    let mut rng = Rng::new(7);
    let ids: Vec<i64> = (0..prompt).map(|_| 1 + rng.below(v - 1) as i64).collect();
    let argmax = |logits: &[f64]| ferrograd::lm::train::argmax_first(logits) as i64;

    // With the cache: the prompt in one pass, then one token at a time.
    let start = Instant::now();
    let mut cache = model.new_cache(prompt + new_tokens)?;
    let mut logits = model.last_logits(&ids, Some(&mut cache))?;
    let mut cached = ids.clone();
    let mut cached_seconds = Vec::with_capacity(new_tokens);
    for _ in 0..new_tokens {
        let t0 = Instant::now();
        let next = argmax(&logits);
        cached.push(next);
        if cached.len() < prompt + new_tokens {
            logits = model.last_logits(&[next], Some(&mut cache))?;
        }
        cached_seconds.push(t0.elapsed().as_secs_f64());
    }
    let cached_total = start.elapsed().as_secs_f64();

    // Without: the whole sequence again for every token.
    let start = Instant::now();
    let mut plain = ids.clone();
    let mut uncached_seconds = Vec::with_capacity(new_tokens);
    let mut logits = model.last_logits(&plain, None)?;
    for _ in 0..new_tokens {
        let t0 = Instant::now();
        let next = argmax(&logits);
        plain.push(next);
        if plain.len() < prompt + new_tokens {
            logits = model.last_logits(&plain, None)?;
        }
        uncached_seconds.push(t0.elapsed().as_secs_f64());
    }
    let uncached_total = start.elapsed().as_secs_f64();
    let quarter = (new_tokens / 4).max(1);
    // Medians: a loaded machine adds rare long pauses that would dominate a mean.
    let median = |s: &[f64]| {
        let mut v = s.to_vec();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    if new_tokens == 0 {
        return Err(BookError::Input(
            "generation needs at least one new token".into(),
        ));
    }
    Ok(GenerationNumbers {
        model: (v, config.emb_dim, config.num_heads, config.num_blocks),
        prompt,
        new_tokens,
        same_tokens: cached == plain,
        cached_first_last: (
            median(&cached_seconds[..quarter.min(new_tokens)]),
            median(&cached_seconds[new_tokens.saturating_sub(quarter)..]),
        ),
        tokens_per_second: (
            new_tokens as f64 / cached_total,
            new_tokens as f64 / uncached_total,
        ),
        cached_seconds,
        uncached_seconds,
        reallocations: cache.reallocations(),
    })
}

/// Writes §4.8's report.
pub fn report_generation(g: &GenerationNumbers, t: &mut String) {
    let (v, d, h, b) = g.model;
    let _ = writeln!(
        t,
        "greedy, {} new tokens after a {}-token prompt; model V = {v}, d = {d}, {h} heads, {b} blocks (random weights)",
        g.new_tokens, g.prompt
    );
    let _ = writeln!(
        t,
        "  with the KV cache {:.0} tokens/s, re-running the sequence {:.0} tokens/s ({:.1}×); same tokens: {}",
        g.tokens_per_second.0,
        g.tokens_per_second.1,
        g.tokens_per_second.0 / g.tokens_per_second.1.max(1e-12),
        g.same_tokens
    );
    let _ = writeln!(
        t,
        "  per token with the cache (median): {:.3} ms over the first quarter of positions, {:.3} ms over the last; the cache reallocated {} times",
        g.cached_first_last.0 * 1e3,
        g.cached_first_last.1 * 1e3,
        g.reallocations
    );
}

/// Draws the milliseconds per generated token against its position, with the KV cache
/// and re-running the sequence (`decoder_generation.png`).
///
/// # Errors
/// When the figure cannot be written.
pub fn draw_generation(
    g: &GenerationNumbers,
    figures: &crate::plot::Figures,
) -> Result<std::path::PathBuf> {
    use crate::plot::{self, palette, size};
    use plotters::prelude::*;
    let path = figures.path("decoder_generation.png");
    plot::draw_png(&path, size::CHART, |root| {
        let series = |s: &[f64]| -> Vec<(f64, f64)> {
            s.iter()
                .enumerate()
                .map(|(i, &x)| ((g.prompt + i + 1) as f64, x * 1e3))
                .collect()
        };
        let cached = series(&g.cached_seconds);
        let plain = series(&g.uncached_seconds);
        let hi = cached
            .iter()
            .chain(&plain)
            .map(|p| p.1)
            .fold(0.0f64, f64::max)
            .max(1e-3);
        let end = (g.prompt + g.new_tokens) as f64;
        let mut chart = plot::chart(
            root,
            figures,
            "§4.8 cost of a generated token by position",
            g.prompt as f64..end + 1.0,
            0.0..hi * 1.05,
        )?;
        plot::mesh(
            &mut chart,
            figures,
            "position of the new token",
            "ms per token",
        )?;
        chart
            .draw_series(LineSeries::new(plain, palette::ORANGE.stroke_width(2)))?
            .label("re-running the whole sequence")
            .legend(plot::legend_line(palette::ORANGE));
        chart
            .draw_series(LineSeries::new(cached, palette::BLUE.stroke_width(2)))?
            .label("with the KV cache")
            .legend(plot::legend_line(palette::BLUE));
        plot::legend(&mut chart, figures, SeriesLabelPosition::UpperLeft)?;
        Ok(())
    })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use crate::lm_run::TokenizerChoice;

    #[test]
    fn no_model_is_built_for_a_bpe_smaller_than_its_bytes() {
        let mut settings = crate::chapter4::training::Settings::default();
        settings.run.tokenizer = TokenizerChoice::Trained(1);
        assert!(super::model(&settings).is_err());
        assert!(super::generation(&settings, 4, 2).is_err());
    }
}
