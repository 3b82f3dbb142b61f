//! GPT-2's byte-level BPE: loading OpenAI's and Hugging Face's files, encoding, decoding.

use crate::error::{Result, TokenizeError, read_file};
use crate::hash::FxHashMap;
use crate::merge::MergeTable;
use crate::pretokenize::piece_end;
use crate::vocab_json::parse_vocab;
use std::fmt;
use std::path::Path;

pub(crate) const NONE: u32 = u32::MAX;

/// GPT-2's table from bytes to printable characters: the printable Latin-1 bytes
/// (`!`–`~`, `¡`–`¬`, `®`–`ÿ`) stand for themselves, the other 68 bytes for U+0100
/// onwards in byte order (so a space is `Ġ`, U+0120, and a newline `Ċ`, U+010A).
///
/// ```
/// use ferrograd_tokenize::byte_to_char;
/// assert_eq!(byte_to_char(b'a'), 'a');
/// assert_eq!(byte_to_char(b' '), '\u{120}');
/// assert_eq!(byte_to_char(b'\n'), '\u{10A}');
/// ```
pub fn byte_to_char(byte: u8) -> char {
    BYTE_TO_CHAR[byte as usize]
}

/// The inverse of [`byte_to_char`]: `None` for a character outside the 256 it uses.
pub fn char_to_byte(c: char) -> Option<u8> {
    let u = c as u32;
    match u {
        0x21..=0x7E | 0xA1..=0xAC | 0xAE..=0xFF => Some(u as u8),
        0x100..=0x143 => Some(UNPRINTABLE[(u - 0x100) as usize]),
        _ => None,
    }
}

const fn printable(b: u8) -> bool {
    matches!(b, 0x21..=0x7E | 0xA1..=0xAC | 0xAE..=0xFF)
}

const fn build_byte_to_char() -> ([char; 256], [u8; 68]) {
    let mut table = ['\0'; 256];
    let mut unprintable = [0u8; 68];
    let mut extra = 0u32;
    let mut b = 0usize;
    while b < 256 {
        if printable(b as u8) {
            table[b] = match char::from_u32(b as u32) {
                Some(c) => c,
                None => '\0',
            };
        } else {
            table[b] = match char::from_u32(0x100 + extra) {
                Some(c) => c,
                None => '\0',
            };
            unprintable[extra as usize] = b as u8;
            extra += 1;
        }
        b += 1;
    }
    (table, unprintable)
}

const TABLES: ([char; 256], [u8; 68]) = build_byte_to_char();
static BYTE_TO_CHAR: [char; 256] = TABLES.0;
static UNPRINTABLE: [u8; 68] = TABLES.1;

/// The byte-level string of some bytes (each byte as its [`byte_to_char`] character).
pub(crate) fn bytes_to_token_string(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| byte_to_char(b)).collect()
}

/// The bytes a byte-level token string stands for, or `None` if it has a character outside
/// the table.
pub(crate) fn token_string_to_bytes(token: &str) -> Option<Vec<u8>> {
    token.chars().map(char_to_byte).collect()
}

/// A token recognised in the text before byte-level BPE, such as `<|endoftext|>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddedToken {
    /// Its text.
    pub content: String,
    /// Its id.
    pub id: u32,
    /// Whether it is a special (control) token; decoders may skip those.
    pub special: bool,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    pub(crate) id: u32,
    /// Whether BPE on this token's bytes gives this token alone, so that a pre-token equal
    /// to it can skip the merge loop.
    pub(crate) whole: bool,
}

/// The result of encoding one text with offsets (and, in a batch, padding).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Encoding {
    /// Token ids.
    pub ids: Vec<u32>,
    /// For each token, the byte range `(start, end)` of the input it came from. A token
    /// that holds part of a multi-byte character gives the bytes it holds, so a range need
    /// not fall on character boundaries. Padding gets `(0, 0)`.
    pub offsets: Vec<(usize, usize)>,
    /// 1 for a real token, 0 for padding.
    pub attention_mask: Vec<u8>,
}

/// GPT-2's byte-level byte-pair encoding.
///
/// Text is cut into pre-tokens by GPT-2's pattern ([`Gpt2Splits`](crate::Gpt2Splits)), each
/// pre-token's UTF-8 bytes become one symbol per byte, and the merges are applied, lowest
/// rank first and leftmost among equals (OpenAI's `encoder.py`, tiktoken and HF
/// tokenizers agree on this for GPT-2's files). Every string round-trips through
/// [`encode`](Self::encode) and [`decode`](Self::decode). Special tokens such as
/// `<|endoftext|>` are recognised only by the methods that say so, so text from users
/// cannot inject them by accident.
///
/// Load GPT-2's vocabulary from OpenAI's files ([`from_openai_files`](Self::from_openai_files)),
/// Hugging Face's `vocab.json` + `merges.txt` ([`from_hf_files`](Self::from_hf_files)) or a
/// `tokenizer.json` ([`from_tokenizer_json_file`](Self::from_tokenizer_json_file)); each has
/// an in-memory twin that takes the files' contents. Train a new one with
/// [`ByteLevelTrainer`](crate::ByteLevelTrainer).
///
/// ```
/// use ferrograd_tokenize::ByteLevelBpe;
///
/// let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/gpt2");
/// let gpt2 = ByteLevelBpe::from_openai_files(
///     format!("{dir}/encoder.json"),
///     format!("{dir}/vocab.bpe"),
/// )?;
/// let ids = gpt2.encode("Hello world, let's test GPT-2's BPE!");
/// assert_eq!(ids, [15496, 995, 11, 1309, 338, 1332, 402, 11571, 12, 17, 338, 347, 11401, 0]);
/// assert_eq!(gpt2.decode(&ids)?, "Hello world, let's test GPT-2's BPE!");
///
/// // Special tokens only when asked for.
/// assert_eq!(gpt2.encode_with_special("a<|endoftext|>"), [64, 50256]);
/// assert_eq!(gpt2.encode("a<|endoftext|>"), [64, 27, 91, 437, 1659, 5239, 91, 29]);
/// # Ok::<(), ferrograd_tokenize::TokenizeError>(())
/// ```
#[derive(Clone)]
pub struct ByteLevelBpe {
    /// id → bytes (None for ids no token has).
    pub(crate) tokens: Vec<Option<Box<[u8]>>>,
    /// id → the token's name in vocabulary files (byte-level string, or an added token's
    /// content).
    pub(crate) names: Vec<Option<Box<str>>>,
    /// Model tokens by their bytes.
    pub(crate) vocab: FxHashMap<Box<[u8]>, Entry>,
    /// Model token names → id (for vocabulary lookups by name).
    pub(crate) by_name: FxHashMap<Box<str>, u32>,
    pub(crate) byte_ids: [u32; 256],
    pub(crate) merges: MergeTable,
    /// Merges in rank order.
    pub(crate) merge_list: Vec<(u32, u32)>,
    pub(crate) added: Vec<AddedToken>,
    pub(crate) unk: Option<u32>,
    pub(crate) fuse_unk: bool,
    pub(crate) add_prefix_space: bool,
    pub(crate) ignore_merges: bool,
}

impl fmt::Debug for ByteLevelBpe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ByteLevelBpe")
            .field("vocab_size", &self.vocab_size())
            .field("merges", &self.merge_list.len())
            .field("added_tokens", &self.added)
            .field("unk", &self.unk)
            .field("add_prefix_space", &self.add_prefix_space)
            .finish_non_exhaustive()
    }
}

/// Parses a merges file (`vocab.bpe` / `merges.txt`): an optional `#version` first line,
/// then one merge per line, two tokens separated by one space. Blank lines are skipped.
pub(crate) fn parse_merges_text(bytes: &[u8], file: &str) -> Result<Vec<(usize, String, String)>> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        TokenizeError::parse(file, line, "not UTF-8")
    })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if (i == 0 && line.starts_with("#version")) || line.trim().is_empty() {
            continue;
        }
        let mut parts = line.split(' ');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(a), Some(b), None) if !a.is_empty() && !b.is_empty() => {
                out.push((i + 1, a.to_string(), b.to_string()))
            }
            _ => {
                return Err(TokenizeError::parse(
                    file,
                    i + 1,
                    format!("expected two tokens separated by one space, found {line:?}"),
                ));
            }
        }
    }
    Ok(out)
}

/// Where a merge came from, for error messages.
pub(crate) enum MergeSource<'a> {
    /// A line of a text file.
    Lines,
    /// Elements of the `merges` array of a JSON file (text for line lookup).
    JsonArray(&'a [u8]),
}

impl ByteLevelBpe {
    /// Builds a tokenizer from a vocabulary (token name → id, in file order) and merges
    /// (`(line, left, right)`), checking everything. A pair listed twice takes its later
    /// rank, as in HF tokenizers and the book's `build_merge_map` (a trainer that
    /// identifies tokens by their text can merge the same pair twice).
    pub(crate) fn build(
        vocab: Vec<(String, u32)>,
        vocab_file: &str,
        merges: Vec<(usize, String, String)>,
        merges_file: &str,
        source: MergeSource<'_>,
    ) -> Result<Self> {
        let size = vocab
            .iter()
            .map(|&(_, id)| id as usize + 1)
            .max()
            .unwrap_or(0);
        if size > max_ids(vocab.len()) {
            return Err(TokenizeError::parse(
                vocab_file,
                0,
                format!(
                    "ids are not dense: the largest is {} but there are only {} tokens",
                    size - 1,
                    vocab.len()
                ),
            ));
        }
        let mut tokens: Vec<Option<Box<[u8]>>> = vec![None; size];
        let mut names: Vec<Option<Box<str>>> = vec![None; size];
        let mut by_name = FxHashMap::default();
        by_name.reserve(vocab.len());
        let mut map: FxHashMap<Box<[u8]>, Entry> = FxHashMap::default();
        map.reserve(vocab.len());
        for (name, id) in vocab {
            let bytes: Box<[u8]> = match token_string_to_bytes(&name) {
                Some(b) => b.into(),
                None => name.as_bytes().into(),
            };
            map.entry(bytes.clone())
                .or_insert(Entry { id, whole: false });
            by_name.insert(name.clone().into_boxed_str(), id);
            tokens[id as usize] = Some(bytes);
            names[id as usize] = Some(name.into_boxed_str());
        }
        let mut byte_ids = [NONE; 256];
        for (b, slot) in byte_ids.iter_mut().enumerate() {
            if let Some(e) = map.get(&[b as u8][..]) {
                *slot = e.id;
            }
        }
        let mut table = MergeTable::with_capacity(merges.len());
        let mut merge_list = Vec::with_capacity(merges.len());
        for (rank, (line, a, b)) in merges.into_iter().enumerate() {
            let line_no = line;
            let where_ = |msg: String| match source {
                MergeSource::Lines => TokenizeError::parse(merges_file, line_no, msg),
                // The line is looked up only on error, as it rescans the file.
                MergeSource::JsonArray(text) => TokenizeError::parse(
                    merges_file,
                    crate::vocab_json::array_element_line(text, "merges", rank),
                    format!("model.merges[{rank}]: {msg}"),
                ),
            };
            let id_of = |t: &str| by_name.get(t).copied();
            let Some(ia) = id_of(&a) else {
                return Err(where_(format!(
                    "merge {a:?} {b:?}: {a:?} is not in the vocabulary"
                )));
            };
            let Some(ib) = id_of(&b) else {
                return Err(where_(format!(
                    "merge {a:?} {b:?}: {b:?} is not in the vocabulary"
                )));
            };
            let joined = format!("{a}{b}");
            let Some(im) = id_of(&joined) else {
                return Err(where_(format!(
                    "merge {a:?} {b:?}: the merged token {joined:?} is not in the vocabulary"
                )));
            };
            let rank = u32::try_from(rank).map_err(|_| where_("too many merges".into()))?;
            table.insert(ia, ib, rank, im);
            merge_list.push((ia, ib));
        }
        let mut bpe = ByteLevelBpe {
            tokens,
            names,
            vocab: map,
            by_name,
            byte_ids,
            merges: table,
            merge_list,
            added: Vec::new(),
            unk: None,
            fuse_unk: false,
            add_prefix_space: false,
            ignore_merges: false,
        };
        bpe.compute_whole();
        Ok(bpe)
    }

    /// Marks the tokens that BPE on their own bytes reproduces.
    pub(crate) fn compute_whole(&mut self) {
        let mut scratch = Vec::new();
        let mut updates = Vec::new();
        for (bytes, e) in &self.vocab {
            scratch.clear();
            self.bpe_symbols(bytes, &mut scratch, None);
            updates.push((bytes.clone(), scratch.len() == 1 && scratch[0] == e.id));
        }
        for (bytes, whole) in updates {
            if let Some(e) = self.vocab.get_mut(&bytes) {
                e.whole = whole;
            }
        }
    }

    /// GPT-2 from OpenAI's `encoder.json` and `vocab.bpe` contents; `<|endoftext|>` (when
    /// in the vocabulary) is registered as a special token.
    pub fn from_openai(encoder_json: &[u8], vocab_bpe: &[u8]) -> Result<Self> {
        Self::from_vocab_and_merges(encoder_json, "encoder.json", vocab_bpe, "vocab.bpe")
    }

    /// [`from_openai`](Self::from_openai) from files.
    pub fn from_openai_files(
        encoder_json: impl AsRef<Path>,
        vocab_bpe: impl AsRef<Path>,
    ) -> Result<Self> {
        let (a, b) = (encoder_json.as_ref(), vocab_bpe.as_ref());
        Self::from_vocab_and_merges(
            &read_file(a)?,
            &a.display().to_string(),
            &read_file(b)?,
            &b.display().to_string(),
        )
    }

    /// From Hugging Face's `vocab.json` and `merges.txt` contents (the same formats as
    /// OpenAI's files); `<|endoftext|>` (when in the vocabulary) is registered as special.
    pub fn from_hf(vocab_json: &[u8], merges_txt: &[u8]) -> Result<Self> {
        Self::from_vocab_and_merges(vocab_json, "vocab.json", merges_txt, "merges.txt")
    }

    /// [`from_hf`](Self::from_hf) from files.
    pub fn from_hf_files(
        vocab_json: impl AsRef<Path>,
        merges_txt: impl AsRef<Path>,
    ) -> Result<Self> {
        Self::from_openai_files(vocab_json, merges_txt)
    }

    fn from_vocab_and_merges(
        vocab: &[u8],
        vocab_file: &str,
        merges: &[u8],
        merges_file: &str,
    ) -> Result<Self> {
        let vocab = parse_vocab(vocab, vocab_file)?;
        let merges = parse_merges_text(merges, merges_file)?;
        let mut bpe = Self::build(vocab.0, vocab_file, merges, merges_file, MergeSource::Lines)?;
        if let Some(&id) = bpe.by_name.get("<|endoftext|>") {
            bpe.added.push(AddedToken {
                content: "<|endoftext|>".into(),
                id,
                special: true,
            });
        }
        Ok(bpe)
    }

    /// Number of ids: one more than the largest id of any token.
    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }

    /// Whether a space is put in front of text that does not start with one (a
    /// `tokenizer.json` whose ByteLevel pre-tokenizer sets `add_prefix_space`; GPT-2's
    /// own files do not). The space's offsets are those of the first character it
    /// precedes, as in HF tokenizers.
    pub fn add_prefix_space(&self) -> bool {
        self.add_prefix_space
    }

    /// Number of merges.
    pub fn num_merges(&self) -> usize {
        self.merge_list.len()
    }

    /// The merges in rank order, as token names (`("Ġ", "t")` is GPT-2's first).
    pub fn merges(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.merge_list.iter().map(|&(a, b)| {
            (
                self.id_to_token(a).unwrap_or_default(),
                self.id_to_token(b).unwrap_or_default(),
            )
        })
    }

    /// The id of a token given by its name in the vocabulary file (byte-level string, e.g.
    /// `"Ġthe"`) or an added token's content.
    pub fn token_to_id(&self, name: &str) -> Option<u32> {
        self.by_name
            .get(name)
            .copied()
            .or_else(|| self.added.iter().find(|t| t.content == name).map(|t| t.id))
    }

    /// The name of a token in vocabulary files (`"Ġthe"` for `" the"`).
    pub fn id_to_token(&self, id: u32) -> Option<&str> {
        self.names.get(id as usize)?.as_deref()
    }

    /// The bytes a token stands for.
    pub fn token_bytes(&self, id: u32) -> Option<&[u8]> {
        self.tokens.get(id as usize)?.as_deref()
    }

    /// Added tokens (special tokens such as `<|endoftext|>`).
    pub fn added_tokens(&self) -> &[AddedToken] {
        &self.added
    }

    /// Registers `content` as a special token, with the id it has in the vocabulary or a
    /// new id after the last one; returns the id. Registering it again returns its id.
    pub fn add_special_token(&mut self, content: &str) -> u32 {
        if let Some(t) = self.added.iter().find(|t| t.content == content) {
            return t.id;
        }
        let id = match self.by_name.get(content) {
            Some(&id) => id,
            None => {
                let id = self.tokens.len() as u32;
                self.tokens.push(Some(content.as_bytes().into()));
                self.names.push(Some(content.into()));
                id
            }
        };
        self.added.push(AddedToken {
            content: content.to_string(),
            id,
            special: true,
        });
        id
    }

    /// Applies the merges to the bytes of one pre-token, leaving its symbol ids in `sym`
    /// (bytes without a token become the unknown token, or are dropped when there is none,
    /// as HF tokenizers does). `starts` receives each symbol's start offset in `piece`.
    fn bpe_symbols(&self, piece: &[u8], sym: &mut Vec<u32>, mut starts: Option<&mut Vec<u32>>) {
        sym.clear();
        if let Some(s) = starts.as_deref_mut() {
            s.clear();
        }
        let mut last_unk = false;
        for (i, &b) in piece.iter().enumerate() {
            let id = self.byte_ids[b as usize];
            let id = if id != NONE {
                last_unk = false;
                id
            } else if let Some(unk) = self.unk {
                if self.fuse_unk && last_unk {
                    continue;
                }
                last_unk = true;
                unk
            } else {
                continue;
            };
            sym.push(id);
            if let Some(s) = starts.as_deref_mut() {
                s.push(i as u32);
            }
        }
        self.merges.apply(sym, starts);
    }

    /// Encodes one pre-token.
    #[inline]
    fn encode_piece(&self, piece: &[u8], out: &mut Vec<u32>, st: &mut EncodeState) {
        if let Some(e) = self.vocab.get(piece)
            && (e.whole || self.ignore_merges)
        {
            out.push(e.id);
            return;
        }
        let cacheable = piece.len() <= CACHE_MAX_PIECE;
        if cacheable && let Some(&(start, len)) = st.cache.get(piece) {
            out.extend_from_slice(&st.cache_ids[start as usize..(start + len) as usize]);
            return;
        }
        self.bpe_symbols(piece, &mut st.scratch, None);
        out.extend_from_slice(&st.scratch);
        if cacheable {
            if st.cache.len() >= CACHE_MAX_ENTRIES {
                st.cache.clear();
                st.cache_ids.clear();
            }
            let start = st.cache_ids.len() as u32;
            st.cache_ids.extend_from_slice(&st.scratch);
            st.cache
                .insert(piece.into(), (start, st.scratch.len() as u32));
        }
    }

    fn encode_piece_offsets(
        &self,
        piece: &[u8],
        base: usize,
        enc: &mut Encoding,
        scratch: &mut Scratch,
    ) {
        if let Some(e) = self.vocab.get(piece)
            && (e.whole || self.ignore_merges)
        {
            enc.ids.push(e.id);
            enc.offsets.push((base, base + piece.len()));
            return;
        }
        self.bpe_symbols(piece, &mut scratch.sym, Some(&mut scratch.starts));
        let n = scratch.sym.len();
        enc.ids.extend_from_slice(&scratch.sym);
        for k in 0..n {
            let s = scratch.starts[k] as usize;
            let e = if k + 1 < n {
                scratch.starts[k + 1] as usize
            } else {
                piece.len()
            };
            enc.offsets.push((base + s, base + e));
        }
    }

    /// Calls `segment` for each stretch of ordinary text and `special` for each added token
    /// (found leftmost-first, longest among those starting at the same place).
    fn split_added(
        &self,
        text: &str,
        mut segment: impl FnMut(usize, usize),
        mut special: impl FnMut(u32, usize, usize),
    ) {
        if self.added.is_empty() {
            segment(0, text.len());
            return;
        }
        let mut next: Vec<Option<usize>> = self
            .added
            .iter()
            .map(|t| find_from(text, &t.content, 0))
            .collect();
        let mut pos = 0;
        loop {
            let mut best: Option<(usize, usize, usize)> = None; // (start, -len as ordering, index)
            for (k, at) in next.iter().enumerate() {
                if let Some(at) = *at {
                    let len = self.added[k].content.len();
                    let better = match best {
                        None => true,
                        Some((bs, bl, _)) => at < bs || (at == bs && len > bl),
                    };
                    if better {
                        best = Some((at, len, k));
                    }
                }
            }
            let Some((at, len, k)) = best else { break };
            if at > pos {
                segment(pos, at);
            }
            special(self.added[k].id, at, at + len);
            pos = at + len;
            for (j, slot) in next.iter_mut().enumerate() {
                if matches!(slot, Some(p) if *p < pos) {
                    *slot = find_from(text, &self.added[j].content, pos);
                }
            }
        }
        if pos < text.len() {
            segment(pos, text.len());
        }
    }

    pub(crate) fn encode_segment(&self, text: &str, out: &mut Vec<u32>, st: &mut EncodeState) {
        // HF tokenizers adds the prefix space to non-empty text only: "" gives no ids.
        if self.add_prefix_space && !text.is_empty() && !text.starts_with(' ') {
            let spaced = format!(" {text}");
            return self.encode_segment_raw(spaced.as_bytes(), out, st);
        }
        self.encode_segment_raw(text.as_bytes(), out, st)
    }

    #[inline]
    fn encode_segment_raw(&self, s: &[u8], out: &mut Vec<u32>, st: &mut EncodeState) {
        let mut p = 0;
        while p < s.len() {
            let e = piece_end(s, p);
            self.encode_piece(&s[p..e], out, st);
            p = e;
        }
    }

    fn encode_segment_offsets(
        &self,
        text: &str,
        base: usize,
        enc: &mut Encoding,
        scratch: &mut Scratch,
    ) {
        let prefixed = self.add_prefix_space && !text.is_empty() && !text.starts_with(' ');
        let (s, shift) = if prefixed {
            (std::borrow::Cow::Owned(format!(" {text}")), 1)
        } else {
            (std::borrow::Cow::Borrowed(text), 0)
        };
        // The added space stands for the first character of `text` (HF tokenizers aligns
        // it so): a token that holds it covers at least that character's bytes.
        let first_char = text.chars().next().map_or(0, char::len_utf8);
        let s = s.as_bytes();
        let mut p = 0;
        while p < s.len() {
            let e = piece_end(s, p);
            let first = enc.offsets.len();
            self.encode_piece_offsets(&s[p..e], base + p, enc, scratch);
            if shift == 1 {
                for o in &mut enc.offsets[first..] {
                    *o = if o.0 == base {
                        (base, (o.1 - 1).max(base + first_char))
                    } else {
                        (o.0 - 1, o.1 - 1)
                    };
                }
            }
            p = e;
        }
    }

    /// Encodes `text`; special tokens in it are encoded as ordinary text (tiktoken's
    /// `encode_ordinary`).
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::with_capacity(text.len() / 3 + 8);
        self.encode_segment(text, &mut out, &mut EncodeState::default());
        out
    }

    /// Encodes `text`, recognising the added tokens (`<|endoftext|>`) in it (tiktoken's
    /// `encode(text, allowed_special="all")`, HF tokenizers' `encode`).
    pub fn encode_with_special(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::with_capacity(text.len() / 3 + 8);
        self.encode_into(text, true, &mut out);
        out
    }

    /// Appends the ids of `text` to `out`; `special` says whether added tokens are
    /// recognised.
    pub fn encode_into(&self, text: &str, special: bool, out: &mut Vec<u32>) {
        self.encode_with_state(text, special, out, &mut EncodeState::default())
    }

    /// [`encode_into`](Self::encode_into) with a reusable state (scratch space and a
    /// cache of pre-tokens already encoded), as one batch thread uses for all its texts.
    pub(crate) fn encode_with_state(
        &self,
        text: &str,
        special: bool,
        out: &mut Vec<u32>,
        st: &mut EncodeState,
    ) {
        if !special {
            return self.encode_segment(text, out, st);
        }
        let cell = std::cell::RefCell::new((out, st));
        self.split_added(
            text,
            |a, b| {
                let (out, st) = &mut *cell.borrow_mut();
                self.encode_segment(&text[a..b], out, st)
            },
            |id, _, _| cell.borrow_mut().0.push(id),
        );
    }

    /// Encodes `text` with the byte range each token came from; `special` says whether
    /// added tokens are recognised.
    ///
    /// ```
    /// # use ferrograd_tokenize::ByteLevelBpe;
    /// # let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/gpt2");
    /// # let gpt2 = ByteLevelBpe::from_openai_files(format!("{dir}/encoder.json"), format!("{dir}/vocab.bpe"))?;
    /// let text = "Hi 😀";
    /// let enc = gpt2.encode_with_offsets(text, false);
    /// // "Hi", " \xF0\x9F\x98", "\x80": the emoji is split inside its bytes.
    /// assert_eq!(enc.offsets, [(0, 2), (2, 6), (6, 7)]);
    /// assert_eq!(enc.attention_mask, [1, 1, 1]);
    /// # Ok::<(), ferrograd_tokenize::TokenizeError>(())
    /// ```
    pub fn encode_with_offsets(&self, text: &str, special: bool) -> Encoding {
        let mut enc = Encoding::default();
        let mut scratch = Scratch::default();
        if special {
            let cell = std::cell::RefCell::new((&mut enc, &mut scratch));
            self.split_added(
                text,
                |a, b| {
                    let (enc, scratch) = &mut *cell.borrow_mut();
                    self.encode_segment_offsets(&text[a..b], a, enc, scratch)
                },
                |id, a, b| {
                    let (enc, _) = &mut *cell.borrow_mut();
                    enc.ids.push(id);
                    enc.offsets.push((a, b));
                },
            );
        } else {
            self.encode_segment_offsets(text, 0, &mut enc, &mut scratch);
        }
        enc.attention_mask = vec![1; enc.ids.len()];
        enc
    }

    /// The bytes of a sequence of ids (added tokens give their content).
    pub fn decode_bytes(&self, ids: &[u32]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(ids.len() * 4);
        for &id in ids {
            match self.tokens.get(id as usize) {
                Some(Some(bytes)) => out.extend_from_slice(bytes),
                _ => {
                    return Err(TokenizeError::UnknownId {
                        id,
                        vocab_size: self.tokens.len(),
                    });
                }
            }
        }
        Ok(out)
    }

    /// Decodes ids to text; bytes that are not valid UTF-8 (ids that end inside a
    /// character) are an error ([`TokenizeError::InvalidUtf8`], which carries the bytes).
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        let bytes = self.decode_bytes(ids)?;
        String::from_utf8(bytes).map_err(|e| {
            let byte_offset = e.utf8_error().valid_up_to();
            TokenizeError::InvalidUtf8 {
                byte_offset,
                bytes: e.into_bytes(),
            }
        })
    }

    /// Decodes ids to text, replacing invalid UTF-8 with U+FFFD as Python's
    /// `errors="replace"` does.
    pub fn decode_lossy(&self, ids: &[u32]) -> Result<String> {
        let bytes = self.decode_bytes(ids)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// Pre-tokens up to this many bytes are cached during one encoding (longer ones are rare
/// and would make the cache a memory risk on hostile input).
const CACHE_MAX_PIECE: usize = 64;
/// The cache is emptied when it reaches this many entries (a few MB at most).
const CACHE_MAX_ENTRIES: usize = 1 << 15;

/// Scratch space and a cache of pre-tokens that BPE had to merge, kept for the length of
/// one encode call (or one batch thread): text repeats its words, and a cache hit costs
/// one hash lookup instead of the merge loop.
#[derive(Debug, Default)]
pub(crate) struct EncodeState {
    scratch: Vec<u32>,
    cache: FxHashMap<Box<[u8]>, (u32, u32)>,
    cache_ids: Vec<u32>,
}

/// The largest id space accepted for `n` tokens: room for gaps, but no gigabyte tables
/// from a file that names id 4,000,000,000.
pub(crate) fn max_ids(n: usize) -> usize {
    n.saturating_mul(4).saturating_add(1 << 16)
}

#[derive(Debug, Default)]
pub(crate) struct Scratch {
    sym: Vec<u32>,
    starts: Vec<u32>,
}

fn find_from(text: &str, needle: &str, from: usize) -> Option<usize> {
    if needle.is_empty() || from > text.len() {
        return None;
    }
    text.as_bytes()[from..]
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
        .map(|p| p + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_table_is_a_bijection() {
        let mut seen = std::collections::HashSet::new();
        for b in 0..=255u8 {
            let c = byte_to_char(b);
            assert!(seen.insert(c));
            assert_eq!(char_to_byte(c), Some(b));
        }
        assert_eq!(byte_to_char(0), '\u{100}');
        assert_eq!(byte_to_char(0xAD), '\u{143}');
        assert_eq!(char_to_byte('\u{144}'), None);
        assert_eq!(char_to_byte(' '), None);
    }

    #[test]
    fn merges_file_errors_name_the_line() {
        let err = parse_merges_text(b"#version: 0.2\na b\nc d e\n", "m.txt").unwrap_err();
        assert!(
            err.to_string().starts_with("m.txt:3: expected two tokens"),
            "{err}"
        );
        let err = parse_merges_text(b"a b\n\xff\n", "m.txt").unwrap_err();
        assert_eq!(err.to_string(), "m.txt:2: not UTF-8");
        let ok = parse_merges_text(b"#version: 0.2\na b\n\nc d\n", "m.txt").unwrap();
        assert_eq!(
            ok,
            [(2, "a".into(), "b".into()), (4, "c".into(), "d".into())]
        );
    }

    #[test]
    fn bad_merges_are_errors() {
        let vocab = br#"{"a": 0, "b": 1, "ab": 2}"#;
        let err = ByteLevelBpe::from_hf(vocab, b"a b\na c\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "merges.txt:2: merge \"a\" \"c\": \"c\" is not in the vocabulary"
        );
        let err = ByteLevelBpe::from_hf(vocab, b"b a\n").unwrap_err();
        assert!(
            err.to_string()
                .contains("merged token \"ba\" is not in the vocabulary"),
            "{err}"
        );
        assert!(ByteLevelBpe::from_hf(vocab, b"a b\n").is_ok());
    }
}
