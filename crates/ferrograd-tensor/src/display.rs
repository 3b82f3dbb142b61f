//! `Display` for tensors, in PyTorch's style: `tensor([[1.0000, 2.5000], …])`.

use crate::tensor::Tensor;
use ferrograd_linalg::Scalar;
use std::fmt;

/// Above this many elements, each axis shows its first and last [`EDGE_ITEMS`] entries.
const SUMMARIZE_ABOVE: usize = 1000;
const EDGE_ITEMS: usize = 3;

enum Style {
    /// All values whole: `1.`, `-3.`
    Whole,
    /// Four decimals.
    Fixed,
    /// Scientific with four decimals, when magnitudes span a large range.
    Scientific,
}

fn choose_style(values: &[f64]) -> Style {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.iter().all(|v| v.fract() == 0.0) {
        let max = finite.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        return if max < 1e8 {
            Style::Whole
        } else {
            Style::Scientific
        };
    }
    let nonzero: Vec<f64> = finite
        .iter()
        .map(|v| v.abs())
        .filter(|&v| v > 0.0)
        .collect();
    let max = nonzero.iter().copied().fold(0.0, f64::max);
    let min = nonzero.iter().copied().fold(f64::INFINITY, f64::min);
    if max > 1e8 || min < 1e-4 || max / min > 1000.0 {
        Style::Scientific
    } else {
        Style::Fixed
    }
}

fn format_value(v: f64, style: &Style) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    match style {
        Style::Whole => format!("{v:.0}."),
        Style::Fixed => format!("{v:.4}"),
        Style::Scientific => {
            let s = format!("{v:.4e}");
            // Rust prints `1.0000e0`; PyTorch prints `1.0000e+00`.
            match s.split_once('e') {
                Some((mantissa, exp)) => {
                    let (sign, digits) = exp.strip_prefix('-').map_or(("+", exp), |d| ("-", d));
                    format!("{mantissa}e{sign}{digits:0>2}")
                }
                None => s,
            }
        }
    }
}

struct Printer<'a> {
    values: &'a [String],
    shape: &'a [usize],
    width: usize,
    summarize: bool,
}

impl Printer<'_> {
    fn visible(&self, size: usize) -> Vec<Option<usize>> {
        if self.summarize && size > 2 * EDGE_ITEMS {
            let mut v: Vec<Option<usize>> = (0..EDGE_ITEMS).map(Some).collect();
            v.push(None);
            v.extend((size - EDGE_ITEMS..size).map(Some));
            v
        } else {
            (0..size).map(Some).collect()
        }
    }

    fn write(&self, out: &mut String, dim: usize, offset: usize, indent: usize) {
        if dim == self.shape.len() {
            out.push_str(&format!("{:>w$}", self.values[offset], w = self.width));
            return;
        }
        let inner: usize = self.shape[dim + 1..].iter().product();
        out.push('[');
        let items = self.visible(self.shape[dim]);
        for (n, item) in items.iter().enumerate() {
            if n > 0 {
                out.push(',');
                if dim + 1 == self.shape.len() {
                    out.push(' ');
                } else {
                    let blank_lines = self.shape.len() - dim - 1;
                    out.push_str(&"\n".repeat(blank_lines));
                    out.push_str(&" ".repeat(indent + 1));
                }
            }
            match item {
                Some(i) => self.write(out, dim + 1, offset + i * inner, indent + 1),
                None => out.push_str("..."),
            }
        }
        out.push(']');
    }
}

/// Writes `values` (formatted, row-major) as `tensor([...])` in PyTorch's layout, with
/// `suffix` (e.g. `, dtype=torch.int64`) before the closing parenthesis.
fn write_tensor(
    f: &mut fmt::Formatter<'_>,
    shape: &[usize],
    values: &[String],
    suffix: &str,
) -> fmt::Result {
    // Zero-aware: an empty [4, 2^64 − 1, 0] holds nothing, and its count must not wrap.
    let numel = crate::layout::checked_numel(shape).unwrap_or(usize::MAX);
    let width = values.iter().map(String::len).max().unwrap_or(0);
    let printer = Printer {
        values,
        shape,
        width,
        summarize: numel > SUMMARIZE_ABOVE,
    };
    let mut body = String::new();
    if numel == 0 {
        body.push_str("[]");
    } else {
        printer.write(&mut body, 0, 0, "tensor(".len());
    }
    write!(f, "tensor({body}")?;
    if numel == 0 && shape.len() != 1 {
        write!(f, ", size=(")?;
        for (i, d) in shape.iter().enumerate() {
            write!(f, "{}{d}", if i > 0 { ", " } else { "" })?;
        }
        write!(f, ")")?;
    }
    write!(f, "{suffix})")
}

/// `Display` of an id tensor: PyTorch's `tensor([1, 2], dtype=torch.int64)` without the
/// dtype (it is always int64 here, PyTorch's default integer type, which it omits).
pub(crate) fn write_nested(
    f: &mut fmt::Formatter<'_>,
    shape: &[usize],
    values: &[String],
) -> fmt::Result {
    write_tensor(f, shape, values, "")
}

impl<T: Scalar> fmt::Display for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let data: Vec<f64> = self.contiguous_data().iter().map(|v| v.to_f64()).collect();
        let style = choose_style(&data);
        let values: Vec<String> = data.iter().map(|&v| format_value(v, &style)).collect();
        let mut suffix = String::new();
        if T::DTYPE != "float32" {
            suffix.push_str(&format!(", dtype=torch.{}", T::DTYPE));
        }
        if let Some(op) = self.op_name() {
            suffix.push_str(&format!(", grad_fn=<{op}>"));
        } else if self.is_leaf() {
            suffix.push_str(", requires_grad=True");
        }
        write_tensor(f, self.shape(), &values, &suffix)
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    #[test]
    fn prints_like_pytorch() {
        // Strings as PyTorch 2.x prints these tensors.
        let t = Tensor::<f32>::from([[1.0, 2.0], [3.0, 4.0]]);
        assert_eq!(t.to_string(), "tensor([[1., 2.],\n        [3., 4.]])");
        let t = Tensor::<f32>::from([0.5, -1.25]);
        assert_eq!(t.to_string(), "tensor([ 0.5000, -1.2500])");
        let t = Tensor::<f64>::from([1e-5, 1.0]);
        assert_eq!(
            t.to_string(),
            "tensor([1.0000e-05, 1.0000e+00], dtype=torch.float64)"
        );
        assert_eq!(Tensor::<f32>::scalar(3.5).to_string(), "tensor(3.5000)");
        let t = Tensor::<f32>::zeros(&[2, 1, 2]);
        assert_eq!(t.to_string(), "tensor([[[0., 0.]],\n\n        [[0., 0.]]])");
        let w = Tensor::<f32>::from([1.0]).set_requires_grad(true);
        assert_eq!(w.to_string(), "tensor([1.], requires_grad=True)");
    }

    #[test]
    fn summarizes_large_tensors() {
        let t = Tensor::<f32>::zeros(&[2000]);
        assert_eq!(t.to_string(), "tensor([0., 0., 0., ..., 0., 0., 0.])");
    }
}
