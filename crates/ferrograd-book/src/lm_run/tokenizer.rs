//! [`Tokenizer`]: the tokenizer a training run reads its corpus with — GPT-2's, or a
//! byte-level BPE trained on the corpus.

use ferrograd::data::text::TextEncoder;
use ferrograd::tokenize::{ByteLevelBpe, ByteLevelTrainer};

use crate::error::{BookError, Result};

/// GPT-2's tokenizer files (OpenAI's `encoder.json` and `vocab.bpe`), embedded from the
/// tokenize crate's test data (MIT, see its `testdata/SOURCE.md`).
const GPT2_ENCODER: &[u8] =
    include_bytes!("../../../ferrograd-tokenize/testdata/gpt2/encoder.json");
const GPT2_MERGES: &[u8] = include_bytes!("../../../ferrograd-tokenize/testdata/gpt2/vocab.bpe");

/// GPT-2's end-of-text token, its id.
pub const GPT2_EOS: u32 = 50256;

/// Which tokenizer turns the corpus into ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum TokenizerChoice {
    /// GPT-2's byte-level BPE (50,257 ids; `<|endoftext|>` is the pad and end token, as the
    /// notebook's tokenizer uses one token for both).
    Gpt2,
    /// A byte-level BPE of this many ids trained on the training part of the corpus, with
    /// `<|endoftext|>` added as its pad and end token.
    Trained(usize),
}

impl TokenizerChoice {
    /// The number of ids this choice asks for: GPT-2's 50,257, or the size asked of the
    /// trained BPE (which a corpus with too few distinct pairs may leave short).
    pub fn vocab_size(self) -> usize {
        match self {
            TokenizerChoice::Gpt2 => GPT2_EOS as usize + 1,
            TokenizerChoice::Trained(n) => n,
        }
    }
}

/// The smallest `--vocab`: a byte-level BPE holds the 256 single bytes and
/// `<|endoftext|>` before any merge.
pub const MIN_TRAINED_VOCAB: usize = 257;

impl TokenizerChoice {
    /// [`TokenizerChoice::vocab_size`] for a section that builds a model of that size
    /// without training the tokenizer (the model and generation sections).
    ///
    /// # Errors
    /// [`BookError::Input`] for a trained BPE asked for fewer than
    /// [`MIN_TRAINED_VOCAB`] ids: it always has the 256 bytes and `<|endoftext|>`,
    /// so such a model would not be the one training builds.
    pub fn model_vocab_size(self) -> Result<usize> {
        let n = self.vocab_size();
        if matches!(self, TokenizerChoice::Trained(_)) && n < MIN_TRAINED_VOCAB {
            return Err(BookError::Input(format!(
                "a trained BPE of {n} ids: it has at least {} (the 256 bytes and \
                 <|endoftext|>; --vocab)",
                MIN_TRAINED_VOCAB
            )));
        }
        Ok(n)
    }
}

/// A tokenizer ready for the sections: the BPE, its size and its pad/end id.
#[derive(Debug, Clone)]
pub struct Tokenizer {
    /// The tokenizer.
    pub bpe: ByteLevelBpe,
    /// Its end-of-text id, also the padding id.
    pub eos: u32,
    /// How it was made.
    pub choice: TokenizerChoice,
}

impl Tokenizer {
    /// GPT-2's, or one trained on `text`.
    ///
    /// # Errors
    /// When the BPE cannot be trained (a corpus too small for the size asked).
    pub fn new(choice: TokenizerChoice, text: &str) -> Result<Self> {
        let tokenize = |e: ferrograd::tokenize::TokenizeError| BookError::Input(e.to_string());
        match choice {
            TokenizerChoice::Gpt2 => {
                let bpe = ByteLevelBpe::from_openai(GPT2_ENCODER, GPT2_MERGES).map_err(tokenize)?;
                Ok(Self {
                    bpe,
                    eos: GPT2_EOS,
                    choice,
                })
            }
            TokenizerChoice::Trained(size) => {
                let bpe = ByteLevelTrainer::new(size)
                    .special_tokens(["<|endoftext|>"])
                    .train(text)
                    .map_err(tokenize)?;
                let eos = bpe
                    .token_to_id("<|endoftext|>")
                    .ok_or_else(|| BookError::Input("the trained BPE has no end token".into()))?;
                Ok(Self { bpe, eos, choice })
            }
        }
    }

    /// Number of ids.
    pub fn vocab_size(&self) -> usize {
        self.bpe.vocab_size()
    }

    /// A short description for reports.
    pub fn describe(&self) -> String {
        match self.choice {
            TokenizerChoice::Gpt2 => format!("GPT-2 BPE ({} ids)", self.vocab_size()),
            TokenizerChoice::Trained(_) => {
                format!(
                    "byte-level BPE trained on the corpus ({} ids)",
                    self.vocab_size()
                )
            }
        }
    }

    /// The tokenizer as the text pipeline's encoder.
    pub fn encoder(&self) -> &dyn TextEncoder {
        &self.bpe
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_is_not_built_for_a_bpe_smaller_than_its_bytes() {
        for n in [0, 1, 256] {
            let message = TokenizerChoice::Trained(n)
                .model_vocab_size()
                .unwrap_err()
                .to_string();
            assert!(message.contains("257"), "{message}");
        }
        assert_eq!(
            TokenizerChoice::Trained(257).model_vocab_size().unwrap(),
            257
        );
        assert_eq!(TokenizerChoice::Gpt2.model_vocab_size().unwrap(), 50_257);
    }
}
