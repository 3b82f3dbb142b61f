//! The decoder block of the book's §4.1–4.7: pre-norm residual sub-blocks
//! `x + MHA(RMSNorm(x))` then `x + MLP(RMSNorm(x))`, with the notebook's RMSNorm (its
//! parameter named `scale`, ε inside the square root) and position-wise MLP
//! (`relu(x W_1 + B_1) W_2 + B_2`, hidden size 4d).

use super::attention::MultiHeadAttention;
use super::kv_cache::LayerKvCache;
use crate::error::{NnError, Result, shape_of};
use crate::functional::rms_norm;
use crate::init::xavier_uniform;
use crate::module::{Forward, Module, Visitor};
use ferrograd_tensor::{IdTensor, Parameter, Rng, Scalar, Tensor};

/// The book's RMSNorm: `x / √(mean(x²) + ε) · scale` over the last axis, its parameter
/// named `scale` as in the notebook, ε = 1e-8 by default. The same fused kernel as
/// [`crate::RmsNorm`] (which follows `torch.nn.RMSNorm` and names its parameter `weight`).
///
/// ```
/// use ferrograd_nn::{BookRmsNorm, Forward, Module};
/// use ferrograd_tensor::Tensor;
/// let norm = BookRmsNorm::<f64>::new(2);
/// assert_eq!(norm.named_parameters()[0].0, "scale");
/// let y = norm.forward(&Tensor::from([[3.0, 4.0]]))?.to_vec();
/// let rms = (12.5f64 + 1e-8).sqrt();
/// assert!((y[0] - 3.0 / rms).abs() < 1e-15 && (y[1] - 4.0 / rms).abs() < 1e-15);
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
///
/// `.clone()` shares the parameters: the clone is tied to this layer (one update
/// changes both). [`Module::deep_clone`] makes an
/// independent copy.
#[derive(Debug, Clone)]
pub struct BookRmsNorm<T: Scalar = f32> {
    /// The learned scale, `[dim]`, starting at ones.
    pub scale: Parameter<T>,
    eps: f64,
}

impl<T: Scalar> BookRmsNorm<T> {
    /// RMS normalisation over `dim` features with ε = 1e-8 (the notebook's).
    pub fn new(dim: usize) -> Self {
        Self::with_eps(dim, 1e-8)
    }

    /// The same with another ε.
    pub fn with_eps(dim: usize, eps: f64) -> Self {
        Self {
            scale: Parameter::new(Tensor::ones(&[dim])),
            eps,
        }
    }

    /// The ε added to the mean square.
    pub fn eps(&self) -> f64 {
        self.eps
    }
}

impl<T: Scalar> Module<T> for BookRmsNorm<T> {
    fn visit(&self, v: &mut dyn Visitor<T>) {
        v.param("scale", &self.scale);
    }
}

impl<T: Scalar> Forward<&Tensor<T>> for BookRmsNorm<T> {
    type Output = Tensor<T>;
    fn forward(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        let dim = self.scale.shape()[0];
        rms_norm(x, &[dim], Some(&self.scale.tensor()), Some(self.eps))
    }
}

/// The position-wise MLP of the book's decoder block: `relu(x W_1 + B_1) W_2 + B_2`,
/// `W_1 [d, hidden]`, `W_2 [hidden, d]` (the notebook's names and layout).
///
/// ```
/// use ferrograd_nn::{Forward, Module, PositionwiseMlp};
/// use ferrograd_tensor::{Rng, Tensor};
/// let mlp = PositionwiseMlp::<f32>::new(128, 512, &mut Rng::new(0))?; // the book's 128 → 512 → 128
/// assert_eq!(mlp.num_parameters(), 128 * 512 + 512 + 512 * 128 + 128);
/// assert_eq!(mlp.forward(&Tensor::ones(&[2, 3, 128]))?.shape(), &[2, 3, 128]);
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
///
/// `.clone()` shares the parameters: the clone is tied to this layer (one update
/// changes both). [`Module::deep_clone`] makes an
/// independent copy.
#[derive(Debug, Clone)]
pub struct PositionwiseMlp<T: Scalar = f32> {
    /// `W_1 [d, hidden]`.
    pub w_1: Parameter<T>,
    /// `B_1 [hidden]`.
    pub b_1: Parameter<T>,
    /// `W_2 [hidden, d]`.
    pub w_2: Parameter<T>,
    /// `B_2 [d]`.
    pub b_2: Parameter<T>,
}

impl<T: Scalar> PositionwiseMlp<T> {
    /// `d → hidden → d` with the book's initialisation: Xavier-uniform matrices, zero
    /// biases.
    ///
    /// # Errors
    /// [`NnError::InvalidArgument`] when a size is zero.
    pub fn new(d: usize, hidden: usize, rng: &mut Rng) -> Result<Self> {
        if d == 0 || hidden == 0 {
            return Err(NnError::InvalidArgument {
                op: "PositionwiseMlp::new",
                reason: format!("sizes must be positive, got d {d} and hidden {hidden}"),
            });
        }
        Ok(Self {
            w_1: Parameter::new(xavier_uniform(&[d, hidden], 1.0, rng)?),
            b_1: Parameter::new(Tensor::zeros(&[hidden])),
            w_2: Parameter::new(xavier_uniform(&[hidden, d], 1.0, rng)?),
            b_2: Parameter::new(Tensor::zeros(&[d])),
        })
    }
}

impl<T: Scalar> Module<T> for PositionwiseMlp<T> {
    fn visit(&self, v: &mut dyn Visitor<T>) {
        v.param("W_1", &self.w_1);
        v.param("B_1", &self.b_1);
        v.param("W_2", &self.w_2);
        v.param("B_2", &self.b_2);
    }
}

impl<T: Scalar> Forward<&Tensor<T>> for PositionwiseMlp<T> {
    type Output = Tensor<T>;
    fn forward(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        let d = self.w_1.shape()[0];
        if x.rank() == 0 || x.shape()[x.rank() - 1] != d {
            return Err(NnError::BadInput {
                op: "PositionwiseMlp::forward",
                expected: format!("[..., {d}]"),
                got: shape_of(x.shape()),
            });
        }
        let hidden = x
            .matmul(&self.w_1.tensor())?
            .add(&self.b_1.tensor())?
            .relu();
        Ok(hidden.matmul(&self.w_2.tensor())?.add(&self.b_2.tensor())?)
    }
}

/// The book's pre-norm decoder block: `x + MHA(RMSNorm₁(x))`, then
/// `x + MLP(RMSNorm₂(x))`; names `norm1`, `attn`, `norm2`, `mlp` as in the notebook.
///
/// ```
/// use ferrograd_nn::{DecoderBlock, Forward, Module};
/// use ferrograd_tensor::{Rng, Tensor};
/// let block = DecoderBlock::<f32>::new(128, 8, &mut Rng::new(0))?;
/// // 2 scales + 8 heads × 3 × 128 × 16 + W_O + MLP
/// assert_eq!(block.num_parameters(), 2 * 128 + 8 * 3 * 128 * 16 + 128 * 128 + 128 * 512 + 512 + 512 * 128 + 128);
/// let x = Tensor::randn(&[2, 10, 128], 0.0, 1.0, &mut Rng::new(1));
/// assert_eq!(block.forward(&x)?.shape(), &[2, 10, 128]);
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
///
/// `.clone()` shares the parameters: the clone is tied to this layer (one update
/// changes both). [`Module::deep_clone`] makes an
/// independent copy.
#[derive(Debug, Clone)]
pub struct DecoderBlock<T: Scalar = f32> {
    /// Norm before attention.
    pub norm1: BookRmsNorm<T>,
    /// Causal multi-head self-attention.
    pub attn: MultiHeadAttention<T>,
    /// Norm before the MLP.
    pub norm2: BookRmsNorm<T>,
    /// Position-wise MLP.
    pub mlp: PositionwiseMlp<T>,
}

impl<T: Scalar> DecoderBlock<T> {
    /// A block of width `d` with `num_heads` heads, the book's MLP (hidden 4d), RMSNorm
    /// ε = 1e-8, RoPE, and the book's initialisation.
    ///
    /// # Errors
    /// As [`MultiHeadAttention::new`].
    pub fn new(d: usize, num_heads: usize, rng: &mut Rng) -> Result<Self> {
        Self::with_hidden(d, num_heads, 4 * d, rng)
    }

    /// The same with another MLP hidden size.
    ///
    /// # Errors
    /// As [`MultiHeadAttention::new`] and [`PositionwiseMlp::new`].
    pub fn with_hidden(d: usize, num_heads: usize, hidden: usize, rng: &mut Rng) -> Result<Self> {
        let attn = MultiHeadAttention::new(d, num_heads, rng)?;
        let mlp = PositionwiseMlp::new(d, hidden, rng)?;
        Ok(Self {
            norm1: BookRmsNorm::new(d),
            attn,
            norm2: BookRmsNorm::new(d),
            mlp,
        })
    }

    /// The block on `x [B, T, d]` with an optional key padding mask and KV cache (see
    /// [`MultiHeadAttention::forward_with`]).
    ///
    /// # Errors
    /// As [`MultiHeadAttention::forward_with`].
    pub fn forward_with(
        &self,
        x: &Tensor<T>,
        key_padding_mask: Option<&IdTensor>,
        cache: Option<&mut LayerKvCache<T>>,
    ) -> Result<Tensor<T>> {
        let attended = self
            .attn
            .forward_with(&self.norm1.forward(x)?, key_padding_mask, cache)?;
        let x = x.add(&attended)?;
        let mlp = self.mlp.forward(&self.norm2.forward(&x)?)?;
        Ok(x.add(&mlp)?)
    }
}

impl<T: Scalar> Module<T> for DecoderBlock<T> {
    fn visit(&self, v: &mut dyn Visitor<T>) {
        v.module("norm1", &self.norm1);
        v.module("attn", &self.attn);
        v.module("norm2", &self.norm2);
        v.module("mlp", &self.mlp);
    }
}

impl<T: Scalar> Forward<&Tensor<T>> for DecoderBlock<T> {
    type Output = Tensor<T>;
    fn forward(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        self.forward_with(x, None, None)
    }
}

impl<T: Scalar> Forward<(&Tensor<T>, &mut LayerKvCache<T>)> for DecoderBlock<T> {
    type Output = Tensor<T>;
    fn forward(&self, (x, cache): (&Tensor<T>, &mut LayerKvCache<T>)) -> Result<Tensor<T>> {
        self.forward_with(x, None, Some(cache))
    }
}
