//! Hugging Face `tokenizer.json` for byte-level BPE: reading (GPT-2-style files: a BPE
//! model with the ByteLevel pre-tokenizer; see
//! [`ByteLevelBpe::from_tokenizer_json`] for what is read and what refused) and writing (loadable by HF tokenizers and
//! `transformers`).

use crate::byte_level::{AddedToken, ByteLevelBpe, MergeSource};
use crate::error::{Result, TokenizeError, read_file, write_atomic};
use crate::vocab_json::{Vocab, array_element_line};
use serde::Deserialize;
use serde_json::Value;
use std::fmt::Write as _;
use std::path::Path;

#[derive(Deserialize)]
struct TokenizerFile {
    #[serde(default)]
    added_tokens: Vec<HfAddedToken>,
    #[serde(default)]
    normalizer: Option<Value>,
    #[serde(default)]
    pre_tokenizer: Option<Value>,
    #[serde(default)]
    post_processor: Option<Value>,
    #[serde(default)]
    decoder: Option<Value>,
    model: HfModel,
}

#[derive(Deserialize)]
struct HfAddedToken {
    id: u32,
    content: String,
    #[serde(default)]
    single_word: bool,
    #[serde(default)]
    lstrip: bool,
    #[serde(default)]
    rstrip: bool,
    #[serde(default)]
    special: bool,
}

#[derive(Deserialize)]
struct HfModel {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    dropout: Option<f64>,
    #[serde(default)]
    unk_token: Option<String>,
    #[serde(default)]
    continuing_subword_prefix: Option<String>,
    #[serde(default)]
    end_of_word_suffix: Option<String>,
    #[serde(default)]
    fuse_unk: bool,
    #[serde(default)]
    byte_fallback: bool,
    #[serde(default)]
    ignore_merges: bool,
    vocab: Vocab,
    merges: Vec<MergeEntry>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum MergeEntry {
    Joined(String),
    Pair([String; 2]),
}

fn kind_of(v: &Value) -> Option<&str> {
    v.get("type").and_then(Value::as_str)
}

impl ByteLevelBpe {
    /// From the contents of a Hugging Face `tokenizer.json` whose model is BPE with the
    /// ByteLevel pre-tokenizer: GPT-2's own file and GPT-2-style ones (such as
    /// tiny-random-gpt2) and the files this crate writes.
    ///
    /// Read: a BPE model (`unk_token`, `fuse_unk`, `ignore_merges`, merges as strings or
    /// pairs), a ByteLevel pre-tokenizer with `use_regex` (alone or as the only member of
    /// a Sequence; its `add_prefix_space` is honoured), a ByteLevel decoder, a ByteLevel
    /// post-processor without `trim_offsets`, and added tokens without `lstrip`, `rstrip`
    /// or `single_word`.
    ///
    /// Refused with an [`Unsupported`](TokenizeError::Unsupported) error rather than
    /// silently different ids or offsets: a normalizer; any other pre-tokenizer, or
    /// ByteLevel without `use_regex`; any other post-processor or decoder, among them
    /// RoBERTa's `RobertaProcessing` and `TemplateProcessing`; a ByteLevel
    /// post-processor with `trim_offsets: true`; added tokens with `lstrip`, `rstrip` or
    /// `single_word` (RoBERTa's `<mask>` has `lstrip`); a model other than BPE, BPE
    /// dropout, `byte_fallback`, `continuing_subword_prefix` or `end_of_word_suffix`. So
    /// RoBERTa's own `tokenizer.json` does not load.
    ///
    /// ```
    /// use ferrograd_tokenize::ByteLevelBpe;
    ///
    /// let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/tiny-random-gpt2/tokenizer.json");
    /// let tok = ByteLevelBpe::from_tokenizer_json_file(path)?;
    /// assert_eq!(tok.vocab_size(), 1000);
    /// assert_eq!(tok.encode("Hello world"), [40, 416, 79, 206, 750]); // HF tokenizers' ids
    /// # Ok::<(), ferrograd_tokenize::TokenizeError>(())
    /// ```
    pub fn from_tokenizer_json(json: &[u8]) -> Result<Self> {
        Self::parse_tokenizer_json(json, "tokenizer.json")
    }

    /// [`from_tokenizer_json`](Self::from_tokenizer_json) from a file.
    pub fn from_tokenizer_json_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        Self::parse_tokenizer_json(&read_file(path)?, &path.display().to_string())
    }

    fn parse_tokenizer_json(json: &[u8], file: &str) -> Result<Self> {
        let doc: TokenizerFile =
            serde_json::from_slice(json).map_err(|e| TokenizeError::json(file, &e))?;
        let unsupported = |what: String| TokenizeError::Unsupported {
            file: file.to_string(),
            what,
        };
        if let Some(n) = doc.normalizer.as_ref().filter(|v| !v.is_null()) {
            return Err(unsupported(format!(
                "normalizer {}",
                kind_of(n).unwrap_or("?")
            )));
        }
        let mut pre = doc.pre_tokenizer.clone().unwrap_or(Value::Null);
        if kind_of(&pre) == Some("Sequence")
            && let Some([only]) = pre
                .get("pretokenizers")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
        {
            pre = only.clone();
        }
        if kind_of(&pre) != Some("ByteLevel") {
            return Err(unsupported(format!(
                "pre_tokenizer {} (only ByteLevel)",
                kind_of(&pre).unwrap_or("null")
            )));
        }
        if pre.get("use_regex").and_then(Value::as_bool) == Some(false) {
            return Err(unsupported(
                "ByteLevel pre_tokenizer without use_regex".into(),
            ));
        }
        let add_prefix_space = pre
            .get("add_prefix_space")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        for (what, v) in [
            ("post_processor", &doc.post_processor),
            ("decoder", &doc.decoder),
        ] {
            if let Some(v) = v.as_ref().filter(|v| !v.is_null())
                && kind_of(v) != Some("ByteLevel")
            {
                return Err(unsupported(format!("{what} {}", kind_of(v).unwrap_or("?"))));
            }
        }
        // The post-processor's trim_offsets moves token offsets past the spaces a token
        // starts or ends with; `encode_with_offsets` does not, so such a file would give
        // other offsets than HF tokenizers (the ids would agree).
        if let Some(v) = doc.post_processor.as_ref().filter(|v| !v.is_null())
            && v.get("trim_offsets").and_then(Value::as_bool) == Some(true)
        {
            return Err(unsupported(
                "ByteLevel post_processor with trim_offsets (offsets would differ)".into(),
            ));
        }
        let m = doc.model;
        if let Some(kind) = m.kind.as_deref().filter(|k| *k != "BPE") {
            return Err(unsupported(format!("model type {kind}")));
        }
        if m.dropout.is_some_and(|d| d != 0.0) {
            return Err(unsupported("BPE dropout".into()));
        }
        if m.byte_fallback {
            return Err(unsupported("byte_fallback".into()));
        }
        for (what, v) in [
            ("continuing_subword_prefix", &m.continuing_subword_prefix),
            ("end_of_word_suffix", &m.end_of_word_suffix),
        ] {
            if v.as_deref().is_some_and(|s| !s.is_empty()) {
                return Err(unsupported(what.into()));
            }
        }
        let mut merges = Vec::with_capacity(m.merges.len());
        for (i, entry) in m.merges.into_iter().enumerate() {
            match entry {
                MergeEntry::Pair([a, b]) => merges.push((i + 1, a, b)),
                MergeEntry::Joined(s) => {
                    let mut parts = s.split(' ');
                    match (parts.next(), parts.next(), parts.next()) {
                        (Some(a), Some(b), None) if !a.is_empty() && !b.is_empty() => {
                            merges.push((i + 1, a.to_string(), b.to_string()))
                        }
                        _ => {
                            return Err(TokenizeError::parse(
                                file,
                                array_element_line(json, "merges", i),
                                format!("model.merges[{i}]: expected \"left right\", found {s:?}"),
                            ));
                        }
                    }
                }
            }
        }
        let mut bpe =
            ByteLevelBpe::build(m.vocab.0, file, merges, file, MergeSource::JsonArray(json))?;
        bpe.add_prefix_space = add_prefix_space;
        bpe.ignore_merges = m.ignore_merges;
        bpe.fuse_unk = m.fuse_unk;
        if let Some(unk) = m.unk_token {
            let id = bpe.by_name.get(unk.as_str()).copied().ok_or_else(|| {
                TokenizeError::parse(
                    file,
                    0,
                    format!("model.unk_token {unk:?} is not in the vocabulary"),
                )
            })?;
            bpe.unk = Some(id);
        }
        for (i, t) in doc.added_tokens.into_iter().enumerate() {
            if t.lstrip || t.rstrip || t.single_word {
                return Err(unsupported(format!(
                    "added token {:?} with lstrip, rstrip or single_word",
                    t.content
                )));
            }
            if t.content.is_empty() {
                return Err(TokenizeError::parse(
                    file,
                    array_element_line(json, "added_tokens", i),
                    format!("added_tokens[{i}]: empty content"),
                ));
            }
            let idx = t.id as usize;
            if idx >= crate::byte_level::max_ids(bpe.by_name.len() + i + 1) {
                return Err(TokenizeError::parse(
                    file,
                    array_element_line(json, "added_tokens", i),
                    format!("added_tokens[{i}]: id {} is too large", t.id),
                ));
            }
            match bpe.names.get(idx).and_then(|n| n.as_deref()) {
                Some(name) if bpe.by_name.get(name) == Some(&t.id) && name != t.content => {
                    return Err(TokenizeError::parse(
                        file,
                        array_element_line(json, "added_tokens", i),
                        format!(
                            "added_tokens[{i}]: id {} is {name:?} in the vocabulary, not {:?}",
                            t.id, t.content
                        ),
                    ));
                }
                _ => {}
            }
            if bpe
                .added
                .iter()
                .any(|a| a.content == t.content || a.id == t.id)
            {
                return Err(TokenizeError::parse(
                    file,
                    array_element_line(json, "added_tokens", i),
                    format!(
                        "added_tokens[{i}]: {:?} (id {}) is listed twice",
                        t.content, t.id
                    ),
                ));
            }
            if idx >= bpe.tokens.len() {
                bpe.tokens.resize(idx + 1, None);
                bpe.names.resize(idx + 1, None);
            }
            if bpe.tokens[idx].is_none() {
                bpe.tokens[idx] = Some(t.content.as_bytes().into());
                bpe.names[idx] = Some(t.content.clone().into_boxed_str());
            }
            bpe.added.push(AddedToken {
                content: t.content,
                id: t.id,
                special: t.special,
            });
        }
        Ok(bpe)
    }

    /// The tokenizer as a Hugging Face `tokenizer.json` document (BPE model, ByteLevel
    /// pre-tokenizer, post-processor and decoder), which `tokenizers.Tokenizer.from_file`
    /// and `transformers.PreTrainedTokenizerFast(tokenizer_file=...)` load.
    pub fn to_tokenizer_json(&self) -> String {
        let q = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
        let mut out = String::with_capacity(self.tokens.len() * 24 + self.merge_list.len() * 16);
        out.push_str("{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": [");
        for (i, t) in self.added.iter().enumerate() {
            let _ = write!(
                out,
                "{}\n    {{\"id\": {}, \"content\": {}, \"single_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": {}}}",
                if i == 0 { "" } else { "," },
                t.id,
                q(&t.content),
                t.special
            );
        }
        let aps = self.add_prefix_space;
        let _ = write!(
            out,
            "\n  ],\n  \"normalizer\": null,\n  \"pre_tokenizer\": {{\"type\": \"ByteLevel\", \"add_prefix_space\": {aps}, \"trim_offsets\": true, \"use_regex\": true}},\n  \"post_processor\": {{\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": false, \"use_regex\": true}},\n  \"decoder\": {{\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": true, \"use_regex\": true}},\n  \"model\": {{\n    \"type\": \"BPE\",\n    \"dropout\": null,\n    \"unk_token\": {},\n    \"continuing_subword_prefix\": \"\",\n    \"end_of_word_suffix\": \"\",\n    \"fuse_unk\": {},\n    \"byte_fallback\": false,\n    \"ignore_merges\": {},\n    \"vocab\": {{",
            match self.unk.and_then(|id| self.id_to_token(id)) {
                Some(name) => q(name),
                None => "null".into(),
            },
            self.fuse_unk,
            self.ignore_merges
        );
        let mut first = true;
        for (id, name) in self.names.iter().enumerate() {
            if let Some(name) = name
                && self.by_name.get(name.as_ref()) == Some(&(id as u32))
            {
                let _ = write!(
                    out,
                    "{}\n      {}: {id}",
                    if first { "" } else { "," },
                    q(name)
                );
                first = false;
            }
        }
        out.push_str("\n    },\n    \"merges\": [");
        let name = |id: u32| self.id_to_token(id).unwrap_or_default();
        // "left right" strings, which every version of HF tokenizers reads; pairs
        // `["left", "right"]` (newer versions) when a token name holds a space.
        let pairs = self
            .merge_list
            .iter()
            .any(|&(a, b)| name(a).contains(' ') || name(b).contains(' '));
        for (i, &(a, b)) in self.merge_list.iter().enumerate() {
            let entry = if pairs {
                format!("[{}, {}]", q(name(a)), q(name(b)))
            } else {
                q(&format!("{} {}", name(a), name(b)))
            };
            let _ = write!(out, "{}\n      {entry}", if i == 0 { "" } else { "," });
        }
        out.push_str("\n    ]\n  }\n}\n");
        out
    }

    /// Writes [`to_tokenizer_json`](Self::to_tokenizer_json) to `path` (through a temporary
    /// file and a rename).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomic(path.as_ref(), self.to_tokenizer_json().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINI: &str = r#"{
  "added_tokens": [{"id": 3, "content": "<s>", "special": true}],
  "normalizer": null,
  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false},
  "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "<s>": 3},
            "merges": ["a b"]}
}"#;

    #[test]
    fn reads_and_writes() {
        let tok = ByteLevelBpe::from_tokenizer_json(MINI.as_bytes()).unwrap();
        assert_eq!(tok.encode("abab"), [2, 2]);
        assert_eq!(tok.encode_with_special("a<s>b"), [0, 3, 1]);
        let again = ByteLevelBpe::from_tokenizer_json(tok.to_tokenizer_json().as_bytes()).unwrap();
        assert_eq!(again.to_tokenizer_json(), tok.to_tokenizer_json());
        assert_eq!(again.encode_with_special("ab<s>ba"), [2, 3, 1, 0]);
        // Token names with spaces (not byte-level, but allowed) are written as pairs.
        let spaced = MINI
            .replace("\"a\": 0", "\"a \": 0")
            .replace("\"ab\": 2", "\"a b\": 2");
        let spaced = spaced.replace("\"a b\"]", "[\"a \", \"b\"]]");
        let tok = ByteLevelBpe::from_tokenizer_json(spaced.as_bytes()).unwrap();
        let json = tok.to_tokenizer_json();
        assert!(json.contains("[\"a \", \"b\"]"), "{json}");
        let again = ByteLevelBpe::from_tokenizer_json(json.as_bytes()).unwrap();
        assert_eq!(again.merges().collect::<Vec<_>>(), [("a ", "b")]);
    }

    #[test]
    fn errors_name_file_line_and_problem() {
        let bad = MINI.replace("\"a b\"", "\"a c\"");
        let err = ByteLevelBpe::from_tokenizer_json(bad.as_bytes()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "tokenizer.json:6: model.merges[0]: merge \"a\" \"c\": \"c\" is not in the vocabulary"
        );
        let bad = MINI.replace("\"ab\": 2", "\"ab\": 2, \"a\": 5");
        let err = ByteLevelBpe::from_tokenizer_json(bad.as_bytes()).unwrap_err();
        assert!(err.to_string().starts_with("tokenizer.json:5: "), "{err}");
        assert!(err.to_string().contains("duplicate token \"a\""), "{err}");
        let bad = MINI.replace("\"merges\": [\"a b\"]", "\"merges\": [\"ab\"]");
        let err = ByteLevelBpe::from_tokenizer_json(bad.as_bytes()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("tokenizer.json:6: model.merges[0]: expected"),
            "{err}"
        );
        let err = ByteLevelBpe::from_tokenizer_json(b"{\"model\": [}").unwrap_err();
        assert!(
            err.to_string().starts_with("tokenizer.json:1: bad JSON"),
            "{err}"
        );
        let bad = MINI.replace(
            "\"normalizer\": null",
            "\"normalizer\": {\"type\": \"NFC\"}",
        );
        let err = ByteLevelBpe::from_tokenizer_json(bad.as_bytes()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "tokenizer.json: unsupported: normalizer NFC"
        );
    }

    #[test]
    fn trim_offsets_post_processor_is_refused() {
        // HF tokenizers 0.23.3, tiny-random-gpt2 with this post-processor, "a b": offsets
        // [(0, 1), (2, 3)] with trim_offsets, [(0, 1), (1, 3)] without (ours).
        let with = |trim: bool| {
            MINI.replace(
                "\"model\"",
                &format!(
                    "\"post_processor\": {{\"type\": \"ByteLevel\", \"add_prefix_space\": true, \
                     \"trim_offsets\": {trim}, \"use_regex\": true}},\n  \"model\""
                ),
            )
        };
        let err = ByteLevelBpe::from_tokenizer_json(with(true).as_bytes()).unwrap_err();
        assert!(matches!(err, TokenizeError::Unsupported { .. }), "{err}");
        assert!(err.to_string().contains("trim_offsets"), "{err}");
        let tok = ByteLevelBpe::from_tokenizer_json(with(false).as_bytes()).unwrap();
        assert_eq!(tok.encode("abab"), [2, 2]);
        // RoBERTa's post-processor stays refused.
        let roberta = MINI.replace(
            "\"model\"",
            "\"post_processor\": {\"type\": \"RobertaProcessing\", \"sep\": [\"</s>\", 2], \
             \"cls\": [\"<s>\", 0], \"trim_offsets\": true, \"add_prefix_space\": false},\n  \"model\"",
        );
        let err = ByteLevelBpe::from_tokenizer_json(roberta.as_bytes()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "tokenizer.json: unsupported: post_processor RobertaProcessing"
        );
    }
}
