//! Seeded generators for the data the book plots: a noisy curve a line cannot fit
//! (§1.5), and two-class 2-D data (moons, spirals, blobs) for decision boundaries.
//!
//! Every generator draws from a [`Rng`] seeded with `seed`, so the same call gives the
//! same data on every machine. Classification generators assign example `i` to class
//! `i % classes`, so classes are balanced and interleaved.

use crate::dataset::TensorDataset;
use crate::error::{Result, invalid};
use ferrograd_tensor::{IdTensor, Rng, Scalar, Tensor};
use std::f64::consts::{PI, TAU};

fn check_noise(op: &'static str, noise: f64) -> Result<()> {
    if !(noise.is_finite() && noise >= 0.0) {
        return Err(invalid(
            op,
            format!("noise must be finite and >= 0, got {noise}"),
        ));
    }
    Ok(())
}

fn dataset_2d<T: Scalar>(
    points: Vec<f64>,
    classes: Vec<usize>,
) -> Result<TensorDataset<Tensor<T>, IdTensor>> {
    let n = classes.len();
    let x = Tensor::from_vec(points.into_iter().map(T::from_f64).collect(), &[n, 2])?;
    TensorDataset::new(x, IdTensor::from_indices(&classes, &[classes.len()])?)
}

/// §1.5: `n` points of `y = sin(x) + noise·ε` with `x` uniform on `[0, 2π)` and `ε`
/// standard normal: a curve no straight line fits (the best line leaves a mean squared
/// error of about 0.2 whatever the noise). Inputs `[n, 1]`, targets `[n, 1]`.
///
/// # Errors
/// [`crate::DataError::InvalidArgument`] for a negative or non-finite `noise`.
pub fn noisy_sine<T: Scalar>(
    n: usize,
    noise: f64,
    seed: u64,
) -> Result<TensorDataset<Tensor<T>, Tensor<T>>> {
    check_noise("noisy_sine", noise)?;
    let mut rng = Rng::new(seed);
    let mut xs = Vec::with_capacity(n);
    let mut ys = Vec::with_capacity(n);
    for _ in 0..n {
        let x = TAU * rng.next_f64();
        xs.push(T::from_f64(x));
        ys.push(T::from_f64(x.sin() + noise * rng.normal()));
    }
    TensorDataset::new(
        Tensor::from_vec(xs, &[n, 1])?,
        Tensor::from_vec(ys, &[n, 1])?,
    )
}

/// Two interleaving half circles (scikit-learn's `make_moons`): class 0 on the upper
/// unit half circle `(cos t, sin t)`, class 1 on the lower one `(1 − cos t, ½ − sin t)`,
/// `t` uniform on `[0, π]`, plus Gaussian noise of standard deviation `noise` on each
/// coordinate. Inputs `[n, 2]`, targets [`IdTensor`] `[n]`.
///
/// # Errors
/// [`crate::DataError::InvalidArgument`] for a negative or non-finite `noise`.
pub fn moons<T: Scalar>(
    n: usize,
    noise: f64,
    seed: u64,
) -> Result<TensorDataset<Tensor<T>, IdTensor>> {
    check_noise("moons", noise)?;
    let mut rng = Rng::new(seed);
    let mut points = Vec::with_capacity(2 * n);
    let mut classes = Vec::with_capacity(n);
    for i in 0..n {
        let class = i % 2;
        let t = PI * rng.next_f64();
        let (x, y) = if class == 0 {
            (t.cos(), t.sin())
        } else {
            (1.0 - t.cos(), 0.5 - t.sin())
        };
        points.push(x + noise * rng.normal());
        points.push(y + noise * rng.normal());
        classes.push(class);
    }
    dataset_2d(points, classes)
}

/// Two interleaved spiral arms of 1.5 turns: for `r` uniform on `(0, 1]`, class `c`
/// lies at radius `r` and angle `3π·r + c·π`, plus Gaussian noise of standard deviation
/// `noise` on each coordinate. Inputs `[n, 2]`, targets [`IdTensor`] `[n]`.
///
/// # Errors
/// [`crate::DataError::InvalidArgument`] for a negative or non-finite `noise`.
pub fn spirals<T: Scalar>(
    n: usize,
    noise: f64,
    seed: u64,
) -> Result<TensorDataset<Tensor<T>, IdTensor>> {
    check_noise("spirals", noise)?;
    let mut rng = Rng::new(seed);
    let mut points = Vec::with_capacity(2 * n);
    let mut classes = Vec::with_capacity(n);
    for i in 0..n {
        let class = i % 2;
        let r = 1.0 - rng.next_f64();
        let angle = 3.0 * PI * r + class as f64 * PI;
        points.push(r * angle.cos() + noise * rng.normal());
        points.push(r * angle.sin() + noise * rng.normal());
        classes.push(class);
    }
    dataset_2d(points, classes)
}

/// Gaussian blobs: example `i` belongs to class `i % centers.len()` and is drawn from a
/// normal distribution around `centers[class]` with standard deviation `std` on every
/// axis. Inputs `[n, D]`, targets [`IdTensor`] `[n]`. Two centers give the two-class
/// data of a linear decision boundary.
///
/// ```
/// use ferrograd_data::{Dataset, generate::blobs};
/// let ds = blobs::<f32, 2>(100, &[[-2.0, 0.0], [2.0, 0.0]], 0.5, 1)?;
/// assert_eq!(ds.inputs().shape(), &[100, 2]);
/// # Ok::<(), ferrograd_data::DataError>(())
/// ```
///
/// # Errors
/// [`crate::DataError::InvalidArgument`] for no centers, a non-finite center, or a
/// negative or non-finite `std`.
pub fn blobs<T: Scalar, const D: usize>(
    n: usize,
    centers: &[[f64; D]],
    std: f64,
    seed: u64,
) -> Result<TensorDataset<Tensor<T>, IdTensor>> {
    const OP: &str = "blobs";
    check_noise(OP, std)?;
    if centers.is_empty() {
        return Err(invalid(OP, "no centers given"));
    }
    if let Some(c) = centers.iter().find(|c| c.iter().any(|v| !v.is_finite())) {
        return Err(invalid(OP, format!("center {c:?} is not finite")));
    }
    let mut rng = Rng::new(seed);
    let mut points = Vec::with_capacity(D * n);
    let mut classes = Vec::with_capacity(n);
    for i in 0..n {
        let class = i % centers.len();
        for &c in &centers[class] {
            points.push(T::from_f64(c + std * rng.normal()));
        }
        classes.push(class);
    }
    TensorDataset::new(
        Tensor::from_vec(points, &[n, D])?,
        IdTensor::from_indices(&classes, &[classes.len()])?,
    )
}
