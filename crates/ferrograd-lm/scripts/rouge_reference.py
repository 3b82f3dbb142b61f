#!/usr/bin/env python3
"""Reference ROUGE scores for ferrograd's tests, from Google's `rouge-score` package.

Generates 300 (reference, candidate) pairs from a fixed seed -- sentences over a small
vocabulary with shared words, reordering, repeated words, punctuation, capitals, digits,
non-ASCII letters and a few empty or one-word texts -- and writes each pair with the
ROUGE-1, ROUGE-2 and ROUGE-L precision, recall and F1 that
`rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)` gives.

Usage: python3 rouge_reference.py OUT.json      (pip install rouge-score)
"""

import json
import random
import sys

import rouge_score
from rouge_score import rouge_scorer

WORDS = ("the a cat dog sat on mat log model models language are is powerful useful "
         "text generated reference summary quick brown fox jumps over lazy 42 2025").split()
EXTRAS = ["Don't", "U.S.A.", "café", "naïve", "e-mail", "THE", "Cat!", "x_y", "...", "--",
          "(the)", "Straße", "\u212Aing", "mat,", "2.5"]


def sentence(rng, length):
    out = []
    for _ in range(length):
        if rng.random() < 0.12:
            out.append(rng.choice(EXTRAS))
        else:
            out.append(rng.choice(WORDS))
    return " ".join(out)


def perturb(rng, text):
    words = text.split()
    ops = rng.randint(0, 4)
    for _ in range(ops):
        kind = rng.random()
        if kind < 0.3 and words:
            del words[rng.randrange(len(words))]
        elif kind < 0.6:
            words.insert(rng.randrange(len(words) + 1), rng.choice(WORDS + EXTRAS))
        elif kind < 0.8 and len(words) > 1:
            i, j = rng.randrange(len(words)), rng.randrange(len(words))
            words[i], words[j] = words[j], words[i]
        elif words:
            words[rng.randrange(len(words))] = rng.choice(WORDS)
    return " ".join(words)


def main():
    rng = random.Random(20250214)
    pairs = [("", ""), ("", "the cat"), ("the cat", ""), ("one", "one"), ("One.", "one"),
             ("the quick brown fox jumps over the lazy dog",
              "lazy, the quick brown fox jumps high today")]
    while len(pairs) < 300:
        reference = sentence(rng, rng.randint(1, 25))
        candidate = perturb(rng, reference) if rng.random() < 0.8 else sentence(rng, rng.randint(1, 25))
        pairs.append((reference, candidate))
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)
    out = []
    for reference, candidate in pairs:
        scores = scorer.score(reference, candidate)
        out.append({
            "reference": reference,
            "candidate": candidate,
            **{name: [s.precision, s.recall, s.fmeasure] for name, s in scores.items()},
        })
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        source = "rouge-score %s, use_stemmer=False; scripts/rouge_reference.py" % getattr(
            rouge_score, "__version__", "0.1.2")
        f.write('{"source": %s, "pairs": [\n' % json.dumps(source))
        f.write(",\n".join(json.dumps(pair, ensure_ascii=False) for pair in out))
        f.write("\n]}\n")
    print("wrote %d pairs to %s" % (len(out), sys.argv[1]))


if __name__ == "__main__":
    main()
