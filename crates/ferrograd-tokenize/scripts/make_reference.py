#!/usr/bin/env python3
"""Reference token ids for ferrograd-tokenize's tests, made with tiktoken and HF tokenizers.

Run from the crate directory:

    python3 -m pip install tiktoken tokenizers
    python3 scripts/make_reference.py

It reads the GPT-2 files in testdata/gpt2/ (OpenAI's encoder.json + vocab.bpe) and
testdata/tinyshakespeare.txt, and writes:

- testdata/reference/tinyshakespeare.gpt2.u16le: tiktoken's `gpt2` encoding of the whole
  file (`encode_ordinary`), each id as a little-endian u16 (all GPT-2 ids are < 65536).
  The script checks that HF tokenizers (a BPE model built from the same two files with the
  ByteLevel pre-tokenizer) gives the same ids, and that there are 338,025 of them.
- testdata/reference/adversarial.json: a few hundred generated hostile strings (emoji, CJK,
  combining marks, contractions, whitespace runs, `<|endoftext|>` in the middle, ...) with
  their ids in two modes: `plain` (tiktoken `encode_ordinary`; special tokens are text) and
  `special` (tiktoken `encode(..., allowed_special="all")`; `<|endoftext|>` is 50256). Each
  string is also encoded by HF tokenizers in both modes (without and with `<|endoftext|>` as
  an added special token); the file records the strings where HF and tiktoken disagree.
- testdata/reference/tiny_random_gpt2.json: HF tokenizers' ids for a few strings with the
  tiny-random-gpt2 tokenizer.json (a vocabulary that lacks some byte tokens).

The strings come from a seeded generator, so the output is the same on every run.
"""

import json
import random
import struct
import sys
from pathlib import Path

import tiktoken
import tokenizers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers

HERE = Path(__file__).resolve().parent.parent
DATA = HERE / "testdata"
OUT = DATA / "reference"


def tiktoken_gpt2():
    # tiktoken's own `gpt2` definition (tiktoken_ext.openai_public.gpt2) downloads these two
    # files (their sha256 sums are the ones it pins); build the same Encoding offline from
    # our copies, with its pattern.
    from tiktoken.load import data_gym_to_mergeable_bpe_ranks
    from tiktoken_ext.openai_public import r50k_pat_str

    ranks = data_gym_to_mergeable_bpe_ranks(
        vocab_bpe_file=str(DATA / "gpt2" / "vocab.bpe"),
        encoder_json_file=str(DATA / "gpt2" / "encoder.json"),
    )
    return tiktoken.Encoding(
        name="gpt2-local",
        explicit_n_vocab=50257,
        pat_str=r50k_pat_str,
        mergeable_ranks=ranks,
        special_tokens={"<|endoftext|>": 50256},
    )


def hf_gpt2(with_special):
    model = models.BPE.from_file(
        str(DATA / "gpt2" / "encoder.json"), str(DATA / "gpt2" / "vocab.bpe")
    )
    tok = Tokenizer(model)
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    if with_special:
        tok.add_special_tokens(["<|endoftext|>"])
    return tok


EMOJI = [
    "\U0001F600", "\U0001F44D\U0001F3FD", "\U0001F468\u200D\U0001F469\u200D\U0001F467",
    "\U0001F1EB\U0001F1F7", "\u2764\uFE0F", "\U0001F9D1\u200D\U0001F4BB", "\U0001F525",
]
CJK = ["\u4F60\u597D", "\u4E16\u754C", "\u65E5\u672C\u8A9E", "\uD55C\uAD6D\uC5B4",
       "\u3053\u3093\u306B\u3061\u306F", "\u6F22\u5B57\u304B\u306A\u30AB\u30CA", "\u3002", "\uFF01"]
COMBINING = ["e\u0301", "a\u0308\u0304", "Z\u0351\u036B\u0343\u036A\u0302\u036B\u033D",
             "\u0915\u094D\u0937", "n\u0303o", "\u0301", "\u05E9\u05C1\u05B8"]
SCRIPTS = ["\u0645\u0631\u062D\u0628\u0627", "\u0928\u092E\u0938\u094D\u0924\u0947",
           "\u0E2A\u0E27\u0E31\u0E2A\u0E14\u0E35", "\u041F\u0440\u0438\u0432\u0435\u0442",
           "\u03B3\u03B5\u03B9\u03AC", "caf\u00E9", "na\u00EFve", "\u00DF", "\u0130stanbul"]
CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "''s", " 's",
                "it's", "don't", "we'll", "they're", "I'm", "'", "''", "'x", "\u2019s"]
SPACES = [" ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n ", "\u00A0", "\u3000", "\u2028",
          "\u2003", "\t \t", "        ", "\x0b", "\x0c", "\u0085"]
WORDS = ["hello", "Hello", "world", "GPT", "token", "The", "the", "ization", "123", "4567",
         "3.14", "$100", "#hash", "@user", "http://x.y/z?a=b", "e-mail", "C++", "--", "...",
         "!!!", "\u00BD", "\u2460", "\u0663\u0664", "x\u00B2", "\x00", "\x7f", "\x01"]
SPECIAL = ["<|endoftext|>", "<|endoftext|><|endoftext|>", "<|endoftext", "|endoftext|>",
           "<|EndOfText|>", "< |endoftext|>"]


def generated(rng, n):
    groups = [EMOJI, CJK, COMBINING, SCRIPTS, CONTRACTIONS, SPACES, WORDS, SPECIAL]
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 12)):
            group = rng.choice(groups)
            parts.append(rng.choice(group))
            if rng.random() < 0.5:
                parts.append(rng.choice(SPACES[:3]))
        out.append("".join(parts))
    return out


def fixed():
    return [
        "", " ", "a", "Hello world, let's test GPT-2's BPE!", "<|endoftext|>",
        "before<|endoftext|>after", "before <|endoftext|> after", "x" * 1000,
        "a" * 257 + " " + "b" * 33, " " * 40 + "x", "\n" * 10, "  \n  \t x  ",
        "1234567890" * 5, "'s's's's", "I'll've", "\U0001F600" * 20,
        "\u0301\u0301\u0301", "  trailing  ", "\t\tleading tabs", "mixed\u3000space",
        "x <|endoftext|>", "<|endoftext|> y", "a\u00A0b", "a \u00A0b", "a\u00A0 b",
    ]


def main():
    OUT.mkdir(exist_ok=True)
    tk = tiktoken_gpt2()
    hf_plain, hf_special = hf_gpt2(False), hf_gpt2(True)
    print(f"tiktoken {tiktoken.__version__}, tokenizers {tokenizers.__version__}")

    text = (DATA / "tinyshakespeare.txt").read_text(encoding="utf-8")
    ids = tk.encode_ordinary(text)
    hf_ids = hf_plain.encode(text).ids
    if ids != hf_ids:
        sys.exit("tiktoken and HF tokenizers disagree on tinyshakespeare")
    if len(ids) != 338025:
        sys.exit(f"expected 338,025 tokens, got {len(ids)}")
    (OUT / "tinyshakespeare.gpt2.u16le").write_bytes(struct.pack(f"<{len(ids)}H", *ids))
    print(f"tinyshakespeare: {len(ids)} tokens, tiktoken == HF tokenizers")

    strings = fixed() + generated(random.Random(20250), 400)
    plain, special, disagree = [], [], []
    for s in strings:
        p = tk.encode_ordinary(s)
        q = tk.encode(s, allowed_special="all")
        if hf_plain.encode(s).ids != p or hf_special.encode(s).ids != q:
            disagree.append(s)
        plain.append(p)
        special.append(q)
    doc = {
        "made_by": f"scripts/make_reference.py with tiktoken {tiktoken.__version__} and "
        f"tokenizers {tokenizers.__version__}",
        "strings": strings,
        "plain": plain,
        "special": special,
        "hf_disagrees_on": disagree,
    }
    (OUT / "adversarial.json").write_text(json.dumps(doc, ensure_ascii=True) + "\n")
    print(f"adversarial: {len(strings)} strings; HF disagrees with tiktoken on {len(disagree)}")

    tiny = Tokenizer.from_file(str(DATA / "tiny-random-gpt2" / "tokenizer.json"))
    tiny_strings = ["Hello world", "caf\u00E9 \U0001F600 <|endoftext|> end", "the quick brown fox"]
    tiny_doc = {
        "made_by": f"scripts/make_reference.py with tokenizers {tokenizers.__version__}",
        "strings": tiny_strings,
        "ids": [tiny.encode(s).ids for s in tiny_strings],
    }
    (OUT / "tiny_random_gpt2.json").write_text(json.dumps(tiny_doc, ensure_ascii=True) + "\n")
    print("tiny-random-gpt2: ", tiny_doc["ids"])


if __name__ == "__main__":
    main()
