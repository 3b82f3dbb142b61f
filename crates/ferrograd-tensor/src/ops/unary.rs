//! Element-wise functions of one tensor. Each row of `Unary` defines the function and,
//! right beside it, its derivative; backward is `grad_in = grad_out * f'(x)`.

use super::{map1, map3};
use crate::autograd::BackwardOp;
use crate::error::Result;
use crate::tensor::Tensor;
use ferrograd_linalg::Scalar;

/// √(2/π), GELU's tanh-approximation constant.
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
/// The cubic coefficient of GELU's tanh approximation.
const GELU_CUBIC: f64 = 0.044_715;

/// σ(2u) = ½(1 + tanh u) for GELU's tanh form, u = √(2/π)(x + 0.044715·x³), as
/// `1 / (1 + e^(−2u))` with [`Scalar::exp_fast`] (no library call, so loops vectorise).
/// Saturates to 0 (e^(−2u) = inf) and 1 (e^(−2u) = 0) without NaN for infinite x.
/// Within a few ulps of ½(1 + tanh u) for `f32` (`exp_fast` is within 2).
#[inline(always)]
fn gelu_tanh_gate<T: Scalar>(x: T) -> T {
    let minus_2k = T::from_f64(-2.0 * SQRT_2_OVER_PI);
    let e = (minus_2k * (x + T::from_f64(GELU_CUBIC) * x * x * x)).exp_fast();
    T::ONE / (T::ONE + e)
}

/// An element-wise function with its derivative.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Unary<T> {
    /// `x + c`.
    Add(T),
    /// `x * c` (keeps the sign of zero, as PyTorch).
    Mul(T),
    /// `x / c` (a true division, not a multiplication by 1/c, to match PyTorch bit for bit).
    Div(T),
    /// `c - x` (`-x` is `Mul(-1)`).
    RSub(T),
    Abs,
    Exp,
    Log,
    Sqrt,
    Tanh,
    Sigmoid,
    Relu,
    /// Exact GELU, `x * Φ(x)`, as PyTorch's default (`approximate='none'`).
    Gelu,
    /// GELU's tanh approximation (`approximate='tanh'`, GPT-2's activation).
    GeluTanh,
    /// SiLU (swish), `x * σ(x)`.
    Silu,
    Sin,
    Cos,
    Powf(T),
    /// `x²` (a multiplication, not a call to `powf`).
    Square,
}

impl<T: Scalar> Unary<T> {
    #[inline]
    fn forward(self, x: T) -> T {
        match self {
            Unary::Add(c) => x + c,
            Unary::Mul(c) => x * c,
            Unary::Div(c) => x / c,
            Unary::RSub(c) => c - x,
            Unary::Abs => x.abs(),
            Unary::Exp => x.exp(),
            Unary::Log => x.ln(),
            Unary::Sqrt => x.sqrt(),
            Unary::Tanh => x.tanh(),
            Unary::Sigmoid => x.sigmoid(),
            // NaN stays NaN, as in PyTorch (`x > 0 ? x : 0` would hide it as 0).
            Unary::Relu => {
                if x <= T::ZERO {
                    T::ZERO
                } else {
                    x
                }
            }
            Unary::Gelu => {
                T::from_f64(0.5)
                    * x
                    * (T::ONE + (x * T::from_f64(std::f64::consts::FRAC_1_SQRT_2)).erf())
            }
            // ½x(1 + tanh u) = x·σ(2u), with σ from the vectorising `exp_fast`: the
            // library `tanh` is a scalar call that kept this loop from vectorising (~10% of
            // a GPT-2 training step). x·σ(2u) also avoids 1 + tanh u's cancellation for
            // negative x; ±inf and NaN give what the tanh form gives (inf, NaN, NaN).
            Unary::GeluTanh => x * gelu_tanh_gate(x),
            Unary::Silu => x * x.sigmoid(),
            Unary::Sin => x.sin(),
            Unary::Cos => x.cos(),
            Unary::Powf(p) => x.powf(p),
            Unary::Square => x * x,
        }
    }

    /// d forward / dx, given the input `x` and the output `y = forward(x)` (the backward
    /// pass uses [`Unary::backward`], which writes `Div`, `Log`, `Sqrt` and `Sigmoid` as
    /// PyTorch does).
    #[inline]
    fn derivative(self, x: T, y: T) -> T {
        match self {
            Unary::Add(_) => T::ONE,
            Unary::Mul(c) => c,
            Unary::Div(c) => T::ONE / c,
            Unary::RSub(_) => -T::ONE,
            // sign(x), with 0 at 0 as PyTorch's `sgn`.
            Unary::Abs => {
                if x > T::ZERO {
                    T::ONE
                } else if x < T::ZERO {
                    -T::ONE
                } else {
                    T::ZERO
                }
            }
            Unary::Exp => y,
            Unary::Log => T::ONE / x,
            Unary::Sqrt => T::from_f64(0.5) / y,
            Unary::Tanh => T::ONE - y * y,
            Unary::Sigmoid => y * (T::ONE - y),
            // 0 at the kink, as PyTorch.
            Unary::Relu => {
                if x > T::ZERO {
                    T::ONE
                } else {
                    T::ZERO
                }
            }
            // Φ(x) + x φ(x)
            Unary::Gelu => {
                let cdf = T::from_f64(0.5)
                    * (T::ONE + (x * T::from_f64(std::f64::consts::FRAC_1_SQRT_2)).erf());
                let pdf = (T::from_f64(-0.5) * x * x).exp() * T::from_f64(0.398_942_280_401_432_7);
                cdf + x * pdf
            }
            // ½(1 + tanh u) + ½x(1 − tanh²u)·u' = s + 2x·s(1 − s)·u', s = σ(2u),
            // u = k(x + c·x³), u' = k(1 + 3c·x²).
            Unary::GeluTanh => {
                let (k, c) = (T::from_f64(SQRT_2_OVER_PI), T::from_f64(GELU_CUBIC));
                let s = gelu_tanh_gate(x);
                let du = k * (T::ONE + T::from_f64(3.0) * c * x * x);
                s + (T::ONE + T::ONE) * x * s * (T::ONE - s) * du
            }
            // σ(x)·(1 + x·(1 − σ(x))).
            Unary::Silu => {
                let s = x.sigmoid();
                s * (T::ONE + x * (T::ONE - s))
            }
            Unary::Sin => x.cos(),
            Unary::Cos => -x.sin(),
            Unary::Powf(p) => {
                if p == T::ZERO {
                    T::ZERO
                } else {
                    p * x.powf(p - T::ONE)
                }
            }
            Unary::Square => (T::ONE + T::ONE) * x,
        }
    }

    /// The input's gradient `g · f'(x)` given the output's gradient `g`, the input `x` and
    /// the output `y`, written as PyTorch's backward formula writes it so the bits agree:
    /// a division where PyTorch divides (`g / c` for `x / c` and the mean, `g / x` for
    /// `ln x`, `g / (2y)` for `√x`; `g · (1/c)` differs in the last bit for about a third
    /// of the values), and PyTorch's association for the sigmoid (`(g · (1 − y)) · y`).
    #[inline]
    fn backward(self, g: T, x: T, y: T) -> T {
        match self {
            Unary::Div(c) => g / c,
            Unary::Log => g / x,
            Unary::Sqrt => g / (y + y),
            Unary::Sigmoid => g * (T::ONE - y) * y,
            _ => g * self.derivative(x, y),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Unary::Add(_) => "add_scalar",
            Unary::Mul(_) => "mul_scalar",
            Unary::Div(_) => "div_scalar",
            Unary::RSub(_) => "rsub_scalar",
            Unary::Abs => "abs",
            Unary::Exp => "exp",
            Unary::Log => "log",
            Unary::Sqrt => "sqrt",
            Unary::Tanh => "tanh",
            Unary::Sigmoid => "sigmoid",
            Unary::Relu => "relu",
            Unary::Gelu => "gelu",
            Unary::GeluTanh => "gelu_tanh",
            Unary::Silu => "silu",
            Unary::Sin => "sin",
            Unary::Cos => "cos",
            Unary::Powf(_) => "powf",
            Unary::Square => "square",
        }
    }
}

/// Runs `$body` with `$k` bound to a closure that rebuilds `$f` with its variant written
/// out, so that inside the element loop `$k()` has a variant the compiler can see, the
/// per-element `match` in `forward`/`derivative` folds away and the loop vectorises (a
/// loop over a runtime enum does not). A closure, not a value: a captured enum value is
/// read from memory inside the separately compiled SIMD kernel, and its `match` stays.
macro_rules! with_constant_variant {
    ($f:expr, |$k:ident| $body:expr) => {
        match $f {
            Unary::Add(c) => {
                let $k = move || Unary::Add(c);
                $body
            }
            Unary::Mul(c) => {
                let $k = move || Unary::Mul(c);
                $body
            }
            Unary::Div(c) => {
                let $k = move || Unary::Div(c);
                $body
            }
            Unary::RSub(c) => {
                let $k = move || Unary::RSub(c);
                $body
            }
            Unary::Abs => {
                let $k = move || Unary::Abs;
                $body
            }
            Unary::Exp => {
                let $k = move || Unary::Exp;
                $body
            }
            Unary::Log => {
                let $k = move || Unary::Log;
                $body
            }
            Unary::Sqrt => {
                let $k = move || Unary::Sqrt;
                $body
            }
            Unary::Tanh => {
                let $k = move || Unary::Tanh;
                $body
            }
            Unary::Sigmoid => {
                let $k = move || Unary::Sigmoid;
                $body
            }
            Unary::Relu => {
                let $k = move || Unary::Relu;
                $body
            }
            Unary::Gelu => {
                let $k = move || Unary::Gelu;
                $body
            }
            Unary::GeluTanh => {
                let $k = move || Unary::GeluTanh;
                $body
            }
            Unary::Silu => {
                let $k = move || Unary::Silu;
                $body
            }
            Unary::Sin => {
                let $k = move || Unary::Sin;
                $body
            }
            Unary::Cos => {
                let $k = move || Unary::Cos;
                $body
            }
            Unary::Powf(p) => {
                let $k = move || Unary::Powf(p);
                $body
            }
            Unary::Square => {
                let $k = move || Unary::Square;
                $body
            }
        }
    };
}

struct UnaryBackward<T>(Unary<T>);

impl<T: Scalar> BackwardOp<T> for UnaryBackward<T> {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn backward(
        &self,
        inputs: &[Tensor<T>],
        output: &Tensor<T>,
        grad: &Tensor<T>,
    ) -> Result<Vec<Option<Tensor<T>>>> {
        let f = self.0;
        let x = &inputs[0];
        let data = with_constant_variant!(f, |k| map3(
            self.0.name(),
            grad,
            x,
            output,
            x.shape(),
            move |g, x, y| k().backward(g, x, y)
        ))?;
        Ok(vec![Some(Tensor::from_vec_unchecked(data, x.shape()))])
    }
}

impl<T: Scalar> Tensor<T> {
    pub(crate) fn unary(&self, f: Unary<T>) -> Tensor<T> {
        let data = with_constant_variant!(f, |k| map1(self, move |x| k().forward(x)));
        Tensor::op_result(data, self.shape(), &[self], UnaryBackward(f))
    }

    /// `-x`.
    pub fn neg(&self) -> Tensor<T> {
        self.unary(Unary::Mul(-T::ONE))
    }

    /// `x + c` for a scalar `c`.
    pub fn add_scalar(&self, c: T) -> Tensor<T> {
        self.unary(Unary::Add(c))
    }

    /// `x - c` for a scalar `c`.
    pub fn sub_scalar(&self, c: T) -> Tensor<T> {
        self.unary(Unary::Add(-c))
    }

    /// `c - x` for a scalar `c`.
    pub fn rsub_scalar(&self, c: T) -> Tensor<T> {
        self.unary(Unary::RSub(c))
    }

    /// `x * c` for a scalar `c`.
    pub fn mul_scalar(&self, c: T) -> Tensor<T> {
        self.unary(Unary::Mul(c))
    }

    /// `x / c` for a scalar `c` (IEEE semantics: dividing by zero gives ±inf or NaN, as
    /// in PyTorch).
    pub fn div_scalar(&self, c: T) -> Tensor<T> {
        self.unary(Unary::Div(c))
    }

    /// `|x|`; the gradient at 0 is 0.
    pub fn abs(&self) -> Tensor<T> {
        self.unary(Unary::Abs)
    }

    /// `e^x`.
    pub fn exp(&self) -> Tensor<T> {
        self.unary(Unary::Exp)
    }

    /// Natural logarithm (NaN below 0 and -inf at 0, as in PyTorch).
    pub fn log(&self) -> Tensor<T> {
        self.unary(Unary::Log)
    }

    /// Square root (NaN below 0, as in PyTorch).
    pub fn sqrt(&self) -> Tensor<T> {
        self.unary(Unary::Sqrt)
    }

    /// Hyperbolic tangent.
    pub fn tanh(&self) -> Tensor<T> {
        self.unary(Unary::Tanh)
    }

    /// Logistic sigmoid `1 / (1 + e^-x)`, without overflow for large `|x|`.
    pub fn sigmoid(&self) -> Tensor<T> {
        self.unary(Unary::Sigmoid)
    }

    /// `max(x, 0)`; the gradient at 0 is 0, as in PyTorch.
    pub fn relu(&self) -> Tensor<T> {
        self.unary(Unary::Relu)
    }

    /// Exact GELU `x Φ(x)` (PyTorch's default `approximate='none'`).
    pub fn gelu(&self) -> Tensor<T> {
        self.unary(Unary::Gelu)
    }

    /// GELU's tanh approximation `x/2·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`,
    /// PyTorch's `gelu(x, approximate='tanh')` (GPT-2's activation).
    ///
    /// ```
    /// use ferrograd_tensor::Tensor;
    /// let x = Tensor::<f64>::from([-1.0, 0.5, 2.0]);
    /// for (e, a) in x.gelu().to_vec().iter().zip(x.gelu_tanh().to_vec()) {
    ///     assert!((e - a).abs() < 1e-3); // close to the exact form
    /// }
    /// ```
    pub fn gelu_tanh(&self) -> Tensor<T> {
        self.unary(Unary::GeluTanh)
    }

    /// SiLU (swish) `x·σ(x)`, PyTorch's `silu`.
    ///
    /// ```
    /// use ferrograd_tensor::Tensor;
    /// let y = Tensor::<f32>::from([0.0, 100.0]).silu().to_vec();
    /// assert_eq!(y, vec![0.0, 100.0]);
    /// ```
    pub fn silu(&self) -> Tensor<T> {
        self.unary(Unary::Silu)
    }

    /// Sine.
    pub fn sin(&self) -> Tensor<T> {
        self.unary(Unary::Sin)
    }

    /// Cosine.
    pub fn cos(&self) -> Tensor<T> {
        self.unary(Unary::Cos)
    }

    /// `x^p` for a scalar exponent.
    pub fn powf(&self, p: T) -> Tensor<T> {
        self.unary(Unary::Powf(p))
    }

    /// `x²`.
    pub fn square(&self) -> Tensor<T> {
        self.unary(Unary::Square)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ½x(1 + tanh u) and its derivative in f64 with the library `tanh`: the definition,
    /// independent of the σ form the f32 kernel uses.
    fn reference(x: f64) -> (f64, f64) {
        let (k, c) = (SQRT_2_OVER_PI, GELU_CUBIC);
        let t = (k * (x + c * x * x * x)).tanh();
        let du = k * (1.0 + 3.0 * c * x * x);
        (
            0.5 * x * (1.0 + t),
            0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du,
        )
    }

    #[test]
    fn relu_keeps_nan_as_pytorch_does() {
        let x = Tensor::<f32>::from_vec(vec![f32::NAN, -1.0, 0.0, 2.0, f32::NEG_INFINITY], &[5])
            .unwrap();
        let y = x.relu().to_vec();
        assert!(y[0].is_nan());
        assert_eq!(&y[1..], &[0.0, 0.0, 2.0, 0.0]);
    }

    #[test]
    fn f32_gelu_tanh_matches_the_tanh_definition() {
        let mut xs: Vec<f32> = (-2000..=2000).map(|i| i as f32 * 0.005).collect();
        xs.extend([
            -30.0, -15.0, -9.5, 9.5, 15.0, 30.0, 1e-20, -1e-20, 0.0, 1e30, -1e30,
        ]);
        for x in xs {
            let (e, de) = reference(f64::from(x));
            let xf = f64::from(x);
            let two_u = (2.0 * SQRT_2_OVER_PI * (xf + GELU_CUBIC * xf * xf * xf)).abs();
            let a = f64::from(Unary::GeluTanh.forward(x));
            // f32 rounding of the input-exact f64 value: 2⁻²⁴ relative; exp_fast adds ≤ 2
            // ulps, the division and products a few more: 8 ulps (4.8e-7) relative, times
            // 1 + |2u|: the f32 argument 2u is rounded (a few ulps of |2u|), which e^(−2u)
            // turns into a relative error of that absolute size (the f32 tanh form loses
            // everything there: 1 + tanh u cancels). The
            // f64 definition itself loses 1 + tanh u to cancellation for negative x (it
            // says −0 at x = −10, where x·σ(2u) ≈ −1.2e−37): 1e−15·|x| absolute.
            assert!(
                (a - e).abs() <= 4.8e-7 * (1.0 + two_u) * e.abs() + 1e-15 * f64::from(x).abs(),
                "gelu_tanh({x}) = {a}, definition {e}"
            );
            if x.abs() > 1e6 {
                // x³ overflows f32: the derivative is NaN (0·inf), as with the tanh form.
                continue;
            }
            let da = f64::from(Unary::GeluTanh.derivative(x, a as f32));
            assert!(
                (da - de).abs() <= 1e-6 * (1.0 + two_u) * de.abs().max(1.0),
                "gelu_tanh'({x}) = {da}, definition {de}"
            );
        }
        assert_eq!(Unary::GeluTanh.forward(f32::INFINITY), f32::INFINITY);
        assert!(Unary::GeluTanh.forward(f32::NAN).is_nan());
    }
}
