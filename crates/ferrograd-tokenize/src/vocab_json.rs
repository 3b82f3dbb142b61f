//! Reading `encoder.json` / `vocab.json` style vocabularies (a JSON object from token to
//! id) with duplicate tokens and duplicate ids reported as errors, and finding the line of
//! an element of a JSON array for error messages.

use crate::error::{Result, TokenizeError};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use std::collections::HashMap;
use std::fmt;

/// A vocabulary in file order: `(token, id)`.
#[derive(Debug, Default)]
pub(crate) struct Vocab(pub(crate) Vec<(String, u32)>);

impl<'de> de::Deserialize<'de> for Vocab {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_map(VocabVisitor)
    }
}

struct VocabVisitor;

impl<'de> Visitor<'de> for VocabVisitor {
    type Value = Vocab;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object mapping tokens to integer ids")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Vocab, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
        let mut by_token: HashMap<String, u32> = HashMap::new();
        let mut by_id: HashMap<u32, String> = HashMap::new();
        while let Some(token) = map.next_key::<String>()? {
            let id: u32 = map.next_value()?;
            if let Some(first) = by_token.get(&token) {
                return Err(de::Error::custom(format!(
                    "duplicate token {token:?} (ids {first} and {id})"
                )));
            }
            if let Some(other) = by_id.get(&id) {
                return Err(de::Error::custom(format!(
                    "tokens {other:?} and {token:?} both have id {id}"
                )));
            }
            by_token.insert(token.clone(), id);
            by_id.insert(id, token.clone());
            entries.push((token, id));
        }
        Ok(Vocab(entries))
    }
}

/// Parses a whole vocabulary file.
pub(crate) fn parse_vocab(bytes: &[u8], file: &str) -> Result<Vocab> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let vocab = de::Deserialize::deserialize(&mut de).map_err(|e| TokenizeError::json(file, &e))?;
    de.end().map_err(|e| TokenizeError::json(file, &e))?;
    Ok(vocab)
}

/// 1-based line of element `index` of the array under the first key `key` in a JSON text
/// (best effort, for error messages; 0 when it cannot be found).
pub(crate) fn array_element_line(text: &[u8], key: &str, index: usize) -> usize {
    let needle = format!("\"{key}\"");
    let Some(at) = find(text, needle.as_bytes()) else {
        return 0;
    };
    let mut i = at + needle.len();
    while i < text.len() && text[i] != b'[' {
        if !matches!(text[i], b' ' | b'\t' | b'\n' | b'\r' | b':') {
            return 0;
        }
        i += 1;
    }
    i += 1;
    let mut element = 0;
    let mut depth = 0usize;
    let mut expecting_element = true;
    while i < text.len() {
        match text[i] {
            b' ' | b'\t' | b'\n' | b'\r' => {}
            b',' if depth == 0 => expecting_element = true,
            b']' if depth == 0 => return 0,
            b'"' => {
                if expecting_element && depth == 0 {
                    if element == index {
                        return line_of(text, i);
                    }
                    element += 1;
                    expecting_element = false;
                }
                i += 1;
                while i < text.len() && text[i] != b'"' {
                    if text[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'[' | b'{' => {
                if expecting_element && depth == 0 {
                    if element == index {
                        return line_of(text, i);
                    }
                    element += 1;
                    expecting_element = false;
                }
                depth += 1;
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {
                if expecting_element && depth == 0 {
                    if element == index {
                        return line_of(text, i);
                    }
                    element += 1;
                    expecting_element = false;
                }
            }
        }
        i += 1;
    }
    0
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn line_of(text: &[u8], offset: usize) -> usize {
    1 + text[..offset].iter().filter(|&&b| b == b'\n').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_errors_with_lines() {
        let err = parse_vocab(b"{\"a\": 0,\n\"b\": 1,\n\"a\": 2}", "v.json").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("v.json:3: "), "{text}");
        assert!(
            text.contains("duplicate token \"a\" (ids 0 and 2)"),
            "{text}"
        );
        let err = parse_vocab(b"{\"a\": 0,\n\"b\": 0}", "v.json").unwrap_err();
        assert!(err.to_string().contains("both have id 0"), "{err}");
        let err = parse_vocab(b"{\"a\": -1}", "v.json").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("v.json:1: invalid value: integer `-1`"),
            "{err}"
        );
        assert_eq!(parse_vocab(b"{}", "v").unwrap().0.len(), 0);
    }

    #[test]
    fn array_lines() {
        let text = b"{\"x\": 1,\n \"merges\": [\n  \"a b\",\n  [\"c\", \"d\"],\n  \"e \\\" f\", \"g h\"\n]}";
        assert_eq!(array_element_line(text, "merges", 0), 3);
        assert_eq!(array_element_line(text, "merges", 1), 4);
        assert_eq!(array_element_line(text, "merges", 2), 5);
        assert_eq!(array_element_line(text, "merges", 3), 5);
        assert_eq!(array_element_line(text, "merges", 4), 0);
        assert_eq!(array_element_line(text, "nope", 0), 0);
    }
}
