//! `ferrograd_tensor::io`: safetensors bytes read with `load_safetensors_bytes`, every
//! tensor converted to `f32` and `f64` (`to_tensor`, and `to_tensor_converted` from any
//! float type) and read as ids (`to_ids`), and what loads written back and read again.
//!
//! Checked beyond "no panic": errors name the source; a converted tensor has the stored
//! shape and as many elements as the stored bytes hold; `to_tensor_converted` agrees
//! with `to_tensor` bit for bit where both apply; writing the loaded tensors and reading
//! them back gives the same names, shapes and bits.

use crate::{Rng, Target, formats};
use ferrograd_tensor::io::{StoredTensor, load_safetensors_bytes, save_safetensors_bytes};
use ferrograd_tensor::{Scalar, Tensor};
use std::path::Path;

/// The target.
pub const TARGET: Target = Target {
    name: "safetensors",
    about: "ferrograd_tensor::io safetensors reading, conversion and round trip",
    run,
    seeds,
    dictionary: DICTIONARY,
    mutate: Some(mutate),
    max_len: 4096,
};

const NAME: &str = "fuzz.safetensors";

const DICTIONARY: &[&[u8]] = &[
    b"\"dtype\"",
    b"\"shape\"",
    b"\"data_offsets\"",
    b"\"__metadata__\"",
    b"\"F32\"",
    b"\"F64\"",
    b"\"BF16\"",
    b"\"F16\"",
    b"\"U8\"",
    b"\"BOOL\"",
    b"\"F4\"",
    b"[]",
    b"[0,0]",
    b"{}",
    b"\\u0000",
    b"\\\"",
];

fn mutate(data: &mut Vec<u8>, rng: &mut Rng) {
    formats::mutate_safetensors(data, rng, &["weight", "bias"]);
}

/// Files written by ferrograd: f32 and f64, scalars, empty tensors, several entries.
pub fn seeds() -> Vec<Vec<u8>> {
    let f32s = Tensor::<f32>::from_vec(vec![1.5, -2.0, 0.0, f32::MAX, f32::MIN_POSITIVE, -0.0], &[2, 3])
        .expect("6 values fill [2, 3]");
    let f64s = Tensor::<f64>::from_vec(vec![0.1, -1e300, 3.0], &[3]).expect("3 values fill [3]");
    let scalar = Tensor::<f32>::from_vec(vec![7.0], &[]).expect("a scalar");
    let empty = Tensor::<f64>::from_vec(Vec::new(), &[0, 4]).expect("an empty tensor");
    [
        save_safetensors_bytes(&[("weight", &f32s), ("bias", &scalar)]),
        save_safetensors_bytes(&[("w", &f64s), ("empty", &empty)]),
        save_safetensors_bytes::<f32>(&[]),
    ]
    .into_iter()
    .map(|r| r.expect("seeds encode"))
    .collect()
}

/// Feeds `data` to the safetensors reader and checks what comes back.
pub fn run(data: &[u8]) {
    let stored = match load_safetensors_bytes(data, NAME) {
        Ok(stored) => stored,
        Err(e) => {
            let text = e.to_string();
            assert!(text.contains(NAME), "error does not name the source: {text}");
            return;
        }
    };
    crate::accepted();
    assert!(
        stored.windows(2).all(|w| w[0].name < w[1].name),
        "tensors not sorted by unique name"
    );
    for entry in &stored {
        converted::<f32>(entry);
        converted::<f64>(entry);
        if let Ok(ids) = entry.to_ids(NAME) {
            assert_eq!(ids.shape(), entry.shape.as_slice(), "{}: ids changed shape", entry.name);
        }
    }
    round_trip::<f32>(&stored);
    round_trip::<f64>(&stored);
}

/// `to_tensor_converted` keeps the shape, and equals `to_tensor` where the stored type
/// is `T`'s own.
fn converted<T: Scalar>(entry: &StoredTensor) {
    let Ok(t) = entry.to_tensor_converted::<T>(NAME) else {
        return;
    };
    assert_eq!(t.shape(), entry.shape.as_slice(), "{}: converted shape", entry.name);
    if let Ok(direct) = entry.to_tensor::<T>(Path::new(NAME)) {
        assert!(
            same_bits(&direct.to_vec(), &t.to_vec()),
            "{}: to_tensor and to_tensor_converted disagree",
            entry.name
        );
    }
}

fn convert<T: Scalar>(entry: &StoredTensor) -> Option<Tensor<T>> {
    match entry.to_tensor::<T>(Path::new(NAME)) {
        Ok(t) => {
            assert_eq!(t.shape(), entry.shape.as_slice(), "{}: shape changed", entry.name);
            assert_eq!(
                t.numel() * size_of::<T>(),
                entry.bytes.len(),
                "{}: element count does not match the stored bytes",
                entry.name
            );
            Some(t)
        }
        Err(e) => {
            let text = e.to_string();
            assert!(text.contains(NAME), "error does not name the source: {text}");
            None
        }
    }
}

fn same_bits<T: Scalar>(a: &[T], b: &[T]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            let (x, y) = (x.to_f64(), y.to_f64());
            x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
        })
}

/// The entries that convert to `T`, written back and read again, must come back equal.
fn round_trip<T: Scalar>(stored: &[StoredTensor]) {
    let loaded: Vec<(&str, Tensor<T>)> = stored
        .iter()
        .filter_map(|e| convert::<T>(e).map(|t| (e.name.as_str(), t)))
        .collect();
    let refs: Vec<(&str, &Tensor<T>)> = loaded.iter().map(|(n, t)| (*n, t)).collect();
    let bytes = save_safetensors_bytes(&refs).expect("loaded tensors can be written back");
    let again = load_safetensors_bytes(&bytes, NAME).expect("written tensors can be read back");
    assert_eq!(again.len(), loaded.len(), "round trip lost entries");
    for (entry, (name, tensor)) in again.iter().zip(&loaded) {
        assert_eq!(&entry.name, name, "round trip renamed an entry");
        let back = entry
            .to_tensor::<T>(Path::new(NAME))
            .expect("a written tensor converts back");
        assert_eq!(back.shape(), tensor.shape(), "{name}: round trip changed the shape");
        assert!(
            same_bits(&back.to_vec(), &tensor.to_vec()),
            "{name}: round trip changed values"
        );
    }
}
