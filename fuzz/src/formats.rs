//! Structure-aware mutations for file formats shared by several targets.
//!
//! Byte-level mutations of a safetensors file almost always break its 8-byte header
//! length or its JSON, so the loader rejects them at the first check. The mutator here
//! parses the header, changes one thing in it (a bogus dtype, a huge or negative shape,
//! offsets that overlap, point past the end or run backwards, a renamed or duplicated
//! entry, odd metadata), writes it back with a length that fits, and so reaches the
//! checks behind the first ones.

use crate::mutate::{INTERESTING_NUMBERS, Rng};
use serde_json::{Map, Value, json};

/// The parts of a safetensors file: the header's JSON text and the data after it, or
/// `None` when the length prefix does not fit the bytes.
pub fn split_safetensors(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let n = u64::from_le_bytes(data.get(..8)?.try_into().ok()?);
    let end = usize::try_from(n).ok()?.checked_add(8)?;
    Some((data.get(8..end)?, &data[end..]))
}

/// Writes a safetensors file from a header (padded with spaces to a multiple of 8, as
/// the reference writer does) and data.
pub fn join_safetensors(header: &[u8], body: &[u8]) -> Vec<u8> {
    let padded = header.len().div_ceil(8) * 8;
    let mut out = Vec::with_capacity(8 + padded + body.len());
    out.extend_from_slice(&(padded as u64).to_le_bytes());
    out.extend_from_slice(header);
    out.resize(8 + padded, b' ');
    out.extend_from_slice(body);
    out
}

/// Recomputes the length prefix from where the header's JSON object ends (after
/// byte-level mutations moved it), keeping the data after it.
pub fn fix_length(data: &mut [u8]) {
    if data.len() < 9 || data[8] != b'{' {
        return;
    }
    let Some(end) = json_object_end(&data[8..]) else {
        return;
    };
    let mut end = 8 + end;
    while end < data.len() && data[end] == b' ' {
        end += 1;
    }
    let n = (end - 8) as u64;
    data[..8].copy_from_slice(&n.to_le_bytes());
}

/// The index just past the JSON object starting at `text[0]`, by brace matching outside
/// strings.
fn json_object_end(text: &[u8]) -> Option<usize> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, &b) in text.iter().enumerate() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// Element types safetensors knows, and some it does not.
const DTYPES: &[&str] = &[
    "F32", "F64", "F16", "BF16", "I8", "I16", "I32", "I64", "U8", "U16", "U32", "U64", "BOOL",
    "F8_E4M3", "F8_E5M2", "F4", "F6_E2M3", "E8M0", "C64", "f32", "F31", "", "FLOAT",
];

/// The entry `key` of a header as an object (replacing whatever else it was).
fn entry<'m>(map: &'m mut Map<String, Value>, key: &str) -> &'m mut Map<String, Value> {
    let value = map.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !value.is_object() {
        *value = Value::Object(Map::new());
    }
    value.as_object_mut().expect("made an object above")
}

fn interesting_number(rng: &mut Rng) -> Value {
    let text = *rng.pick(INTERESTING_NUMBERS);
    match text.parse::<u64>() {
        Ok(n) => json!(n),
        Err(_) => match text.parse::<i64>() {
            Ok(n) => json!(n),
            Err(_) => text
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .map_or_else(|| json!(text), |v| json!(v)),
        },
    }
}

fn small_or_interesting(rng: &mut Rng) -> Value {
    if rng.one_in(2) {
        json!(rng.below(9))
    } else {
        interesting_number(rng)
    }
}

/// Changes one thing in a safetensors header (or, for input that is no safetensors file
/// any more, repairs the length prefix); `names` are tensor names worth trying (a
/// target's own entry names, say).
pub fn mutate_safetensors(data: &mut Vec<u8>, rng: &mut Rng, names: &[&str]) {
    if rng.one_in(6) {
        fix_length(data);
        return;
    }
    let Some((header, body)) = split_safetensors(data) else {
        fix_length(data);
        return;
    };
    let Ok(Value::Object(mut map)) = serde_json::from_slice::<Value>(header) else {
        fix_length(data);
        return;
    };
    let mut body = body.to_vec();
    let keys: Vec<String> = map
        .keys()
        .filter(|k| *k != "__metadata__")
        .cloned()
        .collect();
    let key = (!keys.is_empty()).then(|| rng.pick(&keys).clone());
    match (rng.below(12), key) {
        (0, Some(k)) => {
            entry(&mut map, &k).insert("dtype".into(), json!(rng.pick(DTYPES)));
        }
        (1, Some(k)) => {
            if let Some(Value::Array(shape)) = entry(&mut map, &k).get_mut("shape") {
                if shape.is_empty() || rng.one_in(3) {
                    shape.push(small_or_interesting(rng));
                } else {
                    let i = rng.below(shape.len());
                    if rng.one_in(4) {
                        shape.remove(i);
                    } else {
                        shape[i] = small_or_interesting(rng);
                    }
                }
            }
        }
        (2, Some(k)) => {
            if let Some(Value::Array(offsets)) = entry(&mut map, &k).get_mut("data_offsets")
                && !offsets.is_empty()
            {
                let i = rng.below(offsets.len());
                offsets[i] = match rng.below(3) {
                    0 => interesting_number(rng),
                    1 => json!(body.len() + rng.below(3)),
                    _ => {
                        let v = offsets[i].as_u64().unwrap_or(0);
                        json!(v.wrapping_add(rng.below(9) as u64).wrapping_sub(4))
                    }
                };
            }
        }
        (3, Some(k)) => {
            // Offsets of two entries swapped: overlapping or out of order.
            let other = rng.pick(&keys).clone();
            let a = entry(&mut map, &k)
                .remove("data_offsets")
                .unwrap_or(Value::Null);
            let b = entry(&mut map, &other)
                .insert("data_offsets".into(), a)
                .unwrap_or(Value::Null);
            entry(&mut map, &k).insert("data_offsets".into(), b);
        }
        (4, Some(k)) => {
            // Rename: to a name the target looks for, to another entry's name, or odd.
            let entry = map.remove(&k).unwrap_or(Value::Null);
            let new = match rng.below(3) {
                0 if !names.is_empty() => rng.pick(names).to_string(),
                1 => format!("{k}\u{0}"),
                _ => rng.pick(&keys).clone(),
            };
            map.insert(new, entry);
        }
        (5, Some(k)) => {
            // A field of the wrong JSON type, or missing.
            let field = *rng.pick(&["dtype", "shape", "data_offsets"]);
            if rng.one_in(3) {
                entry(&mut map, &k).remove(field);
            } else {
                let odd = rng
                    .pick(&[json!(null), json!(-1), json!("x"), json!([[]]), json!({})])
                    .clone();
                entry(&mut map, &k).insert(field.into(), odd);
            }
        }
        (6, Some(k)) => {
            map.remove(&k);
        }
        (7, _) => {
            // A new entry appended at the end of the data.
            let n = rng.below(5);
            let dtype = *rng.pick(&["F32", "F64", "U8"]);
            let width = match dtype {
                "F32" => 4,
                "F64" => 8,
                _ => 1,
            };
            let start = body.len();
            body.extend((0..n * width).map(|_| rng.byte()));
            let name = if !names.is_empty() && rng.one_in(2) {
                rng.pick(names).to_string()
            } else {
                format!("t{}", rng.below(100))
            };
            map.insert(
                name,
                json!({"dtype": dtype, "shape": [n], "data_offsets": [start, body.len()]}),
            );
        }
        (8, _) => {
            let metadata = rng
                .pick(&[
                    json!({"format": "pt"}),
                    json!({"format": 1}),
                    json!(["pt"]),
                    json!(null),
                    json!({"": ""}),
                ])
                .clone();
            map.insert("__metadata__".to_owned(), metadata);
        }
        (9, _) => {
            // Data grows or shrinks without the header knowing.
            if rng.one_in(2) {
                body.truncate(rng.below(body.len() + 1));
            } else {
                body.extend((0..1 + rng.below(8)).map(|_| rng.byte()));
            }
        }
        (10, Some(k)) => {
            // One more axis: a shape that no longer fits its offsets unless the new axis
            // has size 1.
            let extra = rng.below(4);
            if let Some(Value::Array(shape)) = entry(&mut map, &k).get_mut("shape") {
                shape.insert(rng.below(shape.len() + 1), json!(extra));
            }
        }
        _ => {
            // The whole header replaced by something that is not a header object.
            let value = rng
                .pick(&[json!([]), json!(null), json!("x"), json!({"a": 1})])
                .clone();
            let header = serde_json::to_vec(&value).unwrap_or_default();
            *data = join_safetensors(&header, &body);
            return;
        }
    }
    let header = serde_json::to_vec(&Value::Object(map)).unwrap_or_default();
    *data = join_safetensors(&header, &body);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> Vec<u8> {
        let header = br#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
        join_safetensors(header, &[0; 8])
    }

    #[test]
    fn split_and_join_are_inverse() {
        let f = file();
        let (header, body) = split_safetensors(&f).unwrap();
        assert!(header.starts_with(b"{\"a\""));
        assert!(header.ends_with(b" "));
        assert_eq!(body, &[0; 8]);
        assert_eq!((f.len() - 8) % 8, 0);
        assert!(split_safetensors(&f[..12]).is_none());
    }

    #[test]
    fn fix_length_restores_a_moved_header_end() {
        let mut f = file();
        // Grow the header by a byte-level insertion: the prefix no longer fits.
        f.splice(10..10, *b"zz\":1,\"");
        assert!(
            split_safetensors(&f)
                .and_then(|(h, _)| serde_json::from_slice::<Value>(h).ok())
                .is_none()
        );
        fix_length(&mut f);
        let (header, body) = split_safetensors(&f).unwrap();
        let v: Value = serde_json::from_slice(header).unwrap();
        assert_eq!(v["zz"], json!(1));
        assert_eq!(v["a"]["dtype"], json!("F32"));
        assert_eq!(body.len(), 8);
    }

    #[test]
    fn header_mutations_keep_a_parseable_prefix() {
        let mut parsed = 0;
        for seed in 0..300 {
            let mut f = file();
            mutate_safetensors(&mut f, &mut Rng::new(seed), &["__kind__"]);
            if let Some((h, _)) = split_safetensors(&f)
                && serde_json::from_slice::<Value>(h).is_ok()
            {
                parsed += 1;
            }
        }
        // Every branch writes a header that parses and a prefix that fits it.
        assert_eq!(parsed, 300);
    }
}
