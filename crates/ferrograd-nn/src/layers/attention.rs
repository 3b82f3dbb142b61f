//! Causal multi-head self-attention, the book's §4.2 and §4.5: per head `h`,
//! `Q = x W_Q[h]`, `K = x W_K[h]`, `V = x W_V[h]` (`[d, d_h]` each), RoPE on `Q` and `K`,
//! `softmax(Q Kᵀ / √d_h, causal) V`; the heads' outputs side by side times `W_O` (`[d, d]`).
//!
//! Parameters are held per head under the notebook's names
//! (`heads.{h}.W_Q`, `W_K`, `W_V`, and `W_O`), so a checkpoint of the book's model loads by
//! name. The computation is not per head: the heads' matrices are put side by side
//! (`[d, H·d_h]`) and each projection is one matrix product over every token, RoPE is one
//! pass over all heads, and attention is the fused kernel of
//! [`Tensor::scaled_dot_product_attention`], which reads the heads as views of the
//! projections and writes its output already concatenated for `W_O`.

use super::kv_cache::LayerKvCache;
use super::rope::Rope;
use crate::error::{NnError, Result, shape_of};
use crate::init::xavier_uniform;
use crate::module::{Forward, Module, Visitor};
use ferrograd_tensor::{
    AttentionOptions, IdTensor, Parameter, Rng, Scalar, Tensor, is_grad_enabled, no_grad,
};

/// One head's projections, `[d_model, head_dim]` each, used as `x · W` (the notebook's
/// `AttentionHead` parameters).
///
/// `.clone()` shares the parameters: the clone is tied to this layer (one update
/// changes both). [`Module::deep_clone`] makes an
/// independent copy.
#[derive(Debug, Clone)]
pub struct AttentionHead<T: Scalar = f32> {
    /// Query projection `W_Q`.
    pub w_q: Parameter<T>,
    /// Key projection `W_K`.
    pub w_k: Parameter<T>,
    /// Value projection `W_V`.
    pub w_v: Parameter<T>,
}

impl<T: Scalar> Module<T> for AttentionHead<T> {
    fn visit(&self, v: &mut dyn Visitor<T>) {
        v.param("W_Q", &self.w_q);
        v.param("W_K", &self.w_k);
        v.param("W_V", &self.w_v);
    }
}

/// Causal multi-head self-attention with RoPE (the book's `MultiHeadAttention`).
///
/// ```
/// use ferrograd_nn::{Forward, Module, MultiHeadAttention};
/// use ferrograd_tensor::{Rng, Tensor};
/// let attn = MultiHeadAttention::<f32>::new(128, 8, &mut Rng::new(0))?; // the book's sizes
/// assert_eq!(attn.head_dim(), 16);
/// assert_eq!(attn.num_parameters(), 8 * 3 * 128 * 16 + 128 * 128);
/// let x = Tensor::randn(&[2, 30, 128], 0.0, 1.0, &mut Rng::new(1));
/// assert_eq!(attn.forward(&x)?.shape(), &[2, 30, 128]);
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
///
/// `.clone()` shares the parameters: the clone is tied to this layer (one update
/// changes both). [`Module::deep_clone`] makes an
/// independent copy.
#[derive(Debug, Clone)]
pub struct MultiHeadAttention<T: Scalar = f32> {
    /// The heads, in the order their outputs are concatenated.
    pub heads: Vec<AttentionHead<T>>,
    /// Output projection `[d_model, d_model]`, used as `concat(heads) · W_O`.
    pub w_o: Parameter<T>,
    rope: Option<Rope>,
    d_model: usize,
}

impl<T: Scalar> MultiHeadAttention<T> {
    /// `num_heads` heads of `d_model / num_heads` features with the book's RoPE and its
    /// initialisation (Xavier-uniform for every matrix).
    ///
    /// # Errors
    /// [`NnError::InvalidArgument`] for zero heads, a `d_model` not divisible by
    /// `num_heads`, or an odd head dimension (RoPE rotates pairs).
    pub fn new(d_model: usize, num_heads: usize, rng: &mut Rng) -> Result<Self> {
        let head_dim = check_heads("MultiHeadAttention::new", d_model, num_heads)?;
        let rope = Rope::new(head_dim).map_err(|_| NnError::InvalidArgument {
            op: "MultiHeadAttention::new",
            reason: format!(
                "RoPE needs an even head dimension; d_model {d_model} / {num_heads} heads = {head_dim}"
            ),
        })?;
        let mut matrix = |rows: usize, cols: usize| -> Result<Parameter<T>> {
            Ok(Parameter::new(xavier_uniform(&[rows, cols], 1.0, rng)?))
        };
        let heads = (0..num_heads)
            .map(|_| {
                Ok(AttentionHead {
                    w_q: matrix(d_model, head_dim)?,
                    w_k: matrix(d_model, head_dim)?,
                    w_v: matrix(d_model, head_dim)?,
                })
            })
            .collect::<Result<_>>()?;
        let w_o = matrix(d_model, d_model)?;
        Ok(Self {
            heads,
            w_o,
            rope: Some(rope),
            d_model,
        })
    }

    /// The same layer with another position embedding (`None`: no RoPE, positions play
    /// no part).
    ///
    /// # Errors
    /// [`NnError::InvalidArgument`] when the RoPE's head dimension is not this layer's.
    pub fn with_rope(mut self, rope: Option<Rope>) -> Result<Self> {
        if let Some(r) = rope.filter(|r| r.head_dim() != self.head_dim()) {
            return Err(NnError::InvalidArgument {
                op: "MultiHeadAttention::with_rope",
                reason: format!(
                    "RoPE over {} features given to heads of {}",
                    r.head_dim(),
                    self.head_dim()
                ),
            });
        }
        self.rope = rope;
        Ok(self)
    }

    /// Model width `d`.
    pub fn d_model(&self) -> usize {
        self.d_model
    }

    /// Number of heads.
    pub fn num_heads(&self) -> usize {
        self.heads.len()
    }

    /// Features per head, `d / H`.
    pub fn head_dim(&self) -> usize {
        self.d_model / self.heads.len().max(1)
    }

    /// The position embedding, if any.
    pub fn rope(&self) -> Option<&Rope> {
        self.rope.as_ref()
    }

    /// One projection for every head, side by side: `[d_model, H·d_h]`.
    fn stacked(&self, pick: fn(&AttentionHead<T>) -> &Parameter<T>) -> Result<Tensor<T>> {
        let parts: Vec<Tensor<T>> = self.heads.iter().map(|h| pick(h).tensor()).collect();
        let refs: Vec<&Tensor<T>> = parts.iter().collect();
        Ok(Tensor::concat(&refs, 1)?)
    }

    fn check_input(&self, x: &Tensor<T>) -> Result<(usize, usize)> {
        match *x.shape() {
            [b, t, d] if d == self.d_model => Ok((b, t)),
            _ => Err(NnError::BadInput {
                op: "MultiHeadAttention::forward",
                expected: format!("[batch, time, {}]", self.d_model),
                got: shape_of(x.shape()),
            }),
        }
    }

    /// `W_Q`, `W_K`, `W_V` of every head side by side, `[d, H·d_h]` each.
    fn stacked_projections(&self) -> Result<Vec<Tensor<T>>> {
        Ok(vec![
            self.stacked(|h| &h.w_q)?,
            self.stacked(|h| &h.w_k)?,
            self.stacked(|h| &h.w_v)?,
        ])
    }

    /// Queries, keys and values `[B, H, T, d_h]` (views of `[B, T, d]` projections), RoPE
    /// applied from position `start`.
    fn project(&self, x: &Tensor<T>, start: usize, w: &[Tensor<T>]) -> Result<[Tensor<T>; 3]> {
        let (b, t) = self.check_input(x)?;
        let (h, dh) = (self.num_heads(), self.head_dim());
        let mut q = x.matmul(&w[0])?;
        let mut k = x.matmul(&w[1])?;
        let v = x.matmul(&w[2])?;
        if let Some(rope) = &self.rope {
            q = rope.apply_from(&q, start)?;
            k = rope.apply_from(&k, start)?;
        }
        let split =
            |y: Tensor<T>| -> Result<Tensor<T>> { Ok(y.reshape(&[b, t, h, dh])?.transpose(1, 2)?) };
        Ok([split(q)?, split(k)?, split(v)?])
    }

    /// Attention over `x [B, T, d]` with an optional key padding mask (`[B, T_k]`,
    /// non-zero for real tokens; with a cache `T_k` counts the cached positions too) and
    /// an optional KV cache: the new tokens take positions `cache.len()..`, their keys
    /// and values are appended, and they attend to everything cached before them. The
    /// cache is for inference: with it, gradients must not be recorded (`no_grad`, or a
    /// frozen model and a constant input).
    ///
    /// # Errors
    /// [`NnError::BadInput`] for an input that is not `[B, T, d]`, a mask that is not
    /// `[B, cache.len() + T]` (the cache is left unchanged then), or a cache of another
    /// batch or head geometry; [`NnError::CacheFull`] when
    /// the new tokens do not fit in the cache; [`NnError::InvalidArgument`] for a cache
    /// while gradients are recorded.
    pub fn forward_with(
        &self,
        x: &Tensor<T>,
        key_padding_mask: Option<&IdTensor>,
        cache: Option<&mut LayerKvCache<T>>,
    ) -> Result<Tensor<T>> {
        let (b, t) = self.check_input(x)?;
        let start = cache.as_ref().map_or(0, |c| c.len());
        // Checked before anything is appended, so a bad mask leaves the cache as it was.
        if let Some(mask) = key_padding_mask
            && mask.shape() != [b, start + t]
        {
            return Err(NnError::BadInput {
                op: "MultiHeadAttention::forward_with",
                expected: format!(
                    "a key padding mask [{b}, {}] (batch, {start} cached + {t} new positions)",
                    start + t
                ),
                got: shape_of(mask.shape()),
            });
        }
        if let Some(c) = &cache
            && t > c.remaining()
        {
            return Err(NnError::CacheFull {
                op: "MultiHeadAttention::forward_with",
                stored: c.len(),
                adding: t,
                capacity: c.capacity(),
            });
        }
        let (q, k, v) = match cache {
            Some(c) => {
                let records = is_grad_enabled()
                    && (x.requires_grad()
                        || self.heads.iter().any(|h| {
                            h.w_q.is_trainable() || h.w_k.is_trainable() || h.w_v.is_trainable()
                        }));
                if records {
                    return Err(NnError::InvalidArgument {
                        op: "MultiHeadAttention::forward_with",
                        reason: "the KV cache is for inference: gradients cannot flow through \
                                 cached keys and values (run generation under no_grad, or \
                                 freeze the model)"
                            .into(),
                    });
                }
                // Generation: stack the heads' matrices once per cache, not per token.
                if c.projections.is_none() {
                    c.projections = Some(self.stacked_projections()?);
                }
                let w = c.projections.as_deref().unwrap_or_default();
                let [q, k, v] = self.project(x, start, w)?;
                let (k, v) = c.append(&k, &v)?;
                (q, k, v)
            }
            None => {
                let [q, k, v] = self.project(x, start, &self.stacked_projections()?)?;
                (q, k, v)
            }
        };
        let mut options = AttentionOptions::causal();
        if let Some(mask) = key_padding_mask {
            options = options.with_key_padding_mask(mask);
        }
        let heads = q.scaled_dot_product_attention(&k, &v, &options)?;
        drop((k, v)); // release the cache's buffers before the next append
        let merged = heads.transpose(1, 2)?.reshape(&[b, t, self.d_model])?;
        Ok(merged.matmul(&self.w_o.tensor())?)
    }

    /// The attention weights `[B, H, T, T]` of every head on `x [B, T, d]` (positions
    /// `0..T`, causal), for plotting. Computed with the composed ops, without a graph.
    ///
    /// # Errors
    /// As [`MultiHeadAttention::forward_with`].
    pub fn attention_weights(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        no_grad(|| {
            let [q, k, _] = self.project(x, 0, &self.stacked_projections()?)?;
            let t = q.shape()[2];
            let scale = T::ONE / T::from_usize(self.head_dim()).sqrt();
            let future = Tensor::<T>::ones(&[t, t]).triu(1)?;
            let scores = q.matmul(&k.transpose(-2, -1)?)?.mul_scalar(scale);
            Ok(scores.masked_fill(&future, T::NEG_INFINITY)?.softmax(-1)?)
        })
    }
}

/// The head dimension `d_model / num_heads`, or an error naming the sizes.
pub(crate) fn check_heads(op: &'static str, d_model: usize, num_heads: usize) -> Result<usize> {
    if num_heads == 0 {
        return Err(NnError::InvalidArgument {
            op,
            reason: "the number of heads must be at least 1, got 0".into(),
        });
    }
    if d_model == 0 || !d_model.is_multiple_of(num_heads) {
        return Err(NnError::InvalidArgument {
            op,
            reason: format!(
                "the model width {d_model} must be a positive multiple of the number of heads {num_heads}"
            ),
        });
    }
    Ok(d_model / num_heads)
}

impl<T: Scalar> Module<T> for MultiHeadAttention<T> {
    fn visit(&self, v: &mut dyn Visitor<T>) {
        // PyTorch lists a module's own parameters before its children's.
        v.param("W_O", &self.w_o);
        v.modules("heads", &self.heads);
    }
}

impl<T: Scalar> Forward<&Tensor<T>> for MultiHeadAttention<T> {
    type Output = Tensor<T>;
    /// Causal self-attention over `x [B, T, d]`, positions `0..T`.
    fn forward(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        self.forward_with(x, None, None)
    }
}

impl<T: Scalar> Forward<(&Tensor<T>, &mut LayerKvCache<T>)> for MultiHeadAttention<T> {
    type Output = Tensor<T>;
    /// Causal self-attention of new tokens over the cached ones and themselves.
    fn forward(&self, (x, cache): (&Tensor<T>, &mut LayerKvCache<T>)) -> Result<Tensor<T>> {
        self.forward_with(x, None, Some(cache))
    }
}
