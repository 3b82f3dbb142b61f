#!/usr/bin/env python3
"""Reference merges and tokenisations of the book's word-level BPE (chapter 2, notebook
`byte_pair_encoding`), for ferrograd-tokenize's tests.

Run from the crate directory:  python3 scripts/book_bpe_reference.py

This is a plain re-statement of the notebook's algorithm, not our Rust code: words from
`str.split()`, each prefixed with `_` and split into characters; every step recounts all
adjacent pairs over the current corpus (Python dict order = first appearance), takes the
first pair with the highest count (`max` over the dict), and rewrites every word with the
notebook's regular expression (token-boundary look-behind/look-ahead); it stops when the
set of distinct tokens reaches the vocabulary size. The two tokenisers are the notebook's:
merges applied in order, and the rank-based one with the whole-word shortcut.

By default it trains on the first 60,000 words of testdata/tinyshakespeare.txt with a
vocabulary of 1,000 (about 40 s) and writes testdata/reference/book_bpe.json: the merges,
and the tokens of the book's sentence and of a list of words under both tokenisers.
`python3 scripts/book_bpe_reference.py 500000 5000 book_bpe_5000.json` runs the book's
own setting (5,000 tokens, the first 500,000 words: all of tinyshakespeare's ~202,000) and
takes about ten minutes, the full re-count per merge being slow.
"""

import json
import re
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
WORDS = int(sys.argv[1]) if len(sys.argv) > 1 else 60_000
VOCAB = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000
OUT_NAME = sys.argv[3] if len(sys.argv) > 3 else "book_bpe.json"


def train(words, vocab_size):
    corpus = defaultdict(int)
    charset = set()
    for w in words:
        chars = list("_" + w)
        charset.update(chars)
        corpus[" ".join(chars)] += 1
    tokens = set(charset)
    merges = []
    while len(tokens) < vocab_size:
        counts = defaultdict(int)
        for word, n in corpus.items():
            parts = word.split()
            for a, b in zip(parts, parts[1:]):
                counts[(a, b)] += n
        if not counts:
            break
        best = max(counts, key=counts.get)
        merges.append(best)
        pattern = re.compile(r"(?<![^\s])" + re.escape(" ".join(best)) + r"(?![^\s])")
        corpus = {pattern.sub("".join(best), word): n for word, n in corpus.items()}
        tokens.add("".join(best))
    return corpus, merges, charset


def in_order(word, merges, charset, unk):
    parts = [c if c in charset else unk for c in "_" + word]
    for a, b in merges:
        i = 0
        while i < len(parts) - 1:
            if parts[i] == a and parts[i + 1] == b:
                parts[i : i + 2] = [a + b]
            else:
                i += 1
    return parts


def fast(word, ranks, corpus, charset, unk):
    if "_" + word in corpus:
        return ["_" + word]
    parts = [c if c in charset else unk for c in "_" + word]
    while True:
        found = [(ranks[(parts[i], parts[i + 1])], i) for i in range(len(parts) - 1)
                 if (parts[i], parts[i + 1]) in ranks]
        if not found:
            return parts
        _, i = min(found)
        parts[i : i + 2] = ["".join(parts[i : i + 2])]


def main():
    text = (HERE / "testdata" / "tinyshakespeare.txt").read_text(encoding="utf-8")
    words = text.split()[:WORDS]
    corpus, merges, charset = train(words, VOCAB)
    ranks = {pair: i for i, pair in enumerate(merges)}  # later duplicates win, as a dict does
    probe = "Let's proceed to the language modeling part.".split() + [
        "KING", "Romeo!", "thee,", "wherefore", "unknown\u00e9", "xyzzy", "mistress'", "Tybalt",
        "citizens", "hath", "RICHARD", "--", "a", "I", "O,", "mother's", "counsel",
    ]
    doc = {
        "made_by": "scripts/book_bpe_reference.py (the notebook's algorithm restated in Python)",
        "words": WORDS,
        "vocab_size": VOCAB,
        "merges": merges,
        "probe": probe,
        "in_order": [in_order(w, merges, charset, "<UNK>") for w in probe],
        "fast": [fast(w, ranks, corpus, charset, "<UNK>") for w in probe],
    }
    out = HERE / "testdata" / "reference" / OUT_NAME
    out.write_text(json.dumps(doc, ensure_ascii=True) + "\n")
    for w, a, b in zip(probe, doc["in_order"], doc["fast"]):
        print(w, a, b)
    print(f"{len(merges)} merges written to {out}")


if __name__ == "__main__":
    main()
