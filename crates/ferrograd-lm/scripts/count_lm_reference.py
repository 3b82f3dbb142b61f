#!/usr/bin/env python3
"""A straight Python port of the book's count-based language model notebook
(`count_language_model.ipynb`, *The Hundred-Page Language Models Book*, §2.4-2.6), written
for ferrograd's tests: the same tokeniser, the same n-gram counting (dicts keyed by context
tuples, insertion-ordered), the same backoff rule and the same perplexity loop, so its
numbers are what the notebook would print for the same text. Counting and probabilities
follow the notebook's statements (a `defaultdict(int)` per context, the followers summed
before the token is looked up), so `--time` costs what the notebook's code costs;
`--time --lean` times leaner statements with the same results.

Usage:
    python3 count_lm_reference.py CORPUS.txt [--n 5] [--json OUT.json]   # reference numbers
    python3 count_lm_reference.py CORPUS.txt --time [--lean]              # timing only

Only the standard library is needed. The ferrograd tests compare against
`tests/data/count_lm_tinyshakespeare.json`, made with

    python3 scripts/count_lm_reference.py tests/data/tinyshakespeare.txt \
        --json tests/data/count_lm_tinyshakespeare.json
"""

import argparse
from collections import defaultdict
import json
import math
import re
import resource
import sys
import time

TOKEN_RE = re.compile(r"\b[a-zA-Z0-9]+\b|[.]")


def tokenize(text):
    """The notebook's tokeniser: lower-case, then words of ASCII letters/digits and periods."""
    return TOKEN_RE.findall(text.lower())


class CountModel:
    """n-gram counts for every order 1..n; counts[k-1][context][token] = count."""

    def __init__(self, n):
        self.n = n
        self.counts = [dict() for _ in range(n)]
        self.total = 0

    def fit(self, tokens):
        # The notebook's statements: a membership test, a `defaultdict(int)` per new context,
        # and a read-then-write of the follower's count (two more look-ups of the context).
        for order in range(1, self.n + 1):
            table = self.counts[order - 1]
            for start in range(len(tokens) - order + 1):
                ctx = tuple(tokens[start:start + order - 1])
                nxt = tokens[start + order - 1]
                if ctx not in table:
                    table[ctx] = defaultdict(int)
                table[ctx][nxt] = table[ctx][nxt] + 1
        self.total = len(tokens)

    def fit_lean(self, tokens):
        """`fit` with one look-up of the context and plain dicts: the same counts in the
        same order, about 1.7x faster than the notebook's statements (the Python side of
        the comparisons in docs/PERFORMANCE.md before 2026-12-06, session 6)."""
        for order in range(1, self.n + 1):
            table = self.counts[order - 1]
            for start in range(len(tokens) - order + 1):
                ctx = tuple(tokens[start:start + order - 1])
                nxt = tokens[start + order - 1]
                followers = table.setdefault(ctx, {})
                followers[nxt] = followers.get(nxt, 0) + 1
        self.total = len(tokens)

    def _followers(self, context, order):
        if len(context) < order - 1:
            return None
        ctx = tuple(context[len(context) - (order - 1):])
        return self.counts[order - 1].get(ctx)

    def predict(self, context):
        # Highest order whose context was seen; the most frequent follower, the first seen
        # on ties (max() keeps the first of equal keys, dicts keep insertion order).
        for order in range(self.n, 1, -1):
            followers = self._followers(context, order)
            if followers:
                return max(followers.items(), key=lambda kv: kv[1])[0]
        unigrams = self.counts[0].get(())
        if unigrams:
            return max(unigrams.items(), key=lambda kv: kv[1])[0]
        return None

    def probability(self, token, context):
        # As the notebook writes it: the context's followers are summed before the token's
        # count is checked, and the look-up is inline.
        for order in range(self.n, 1, -1):
            if len(context) >= order - 1:
                followers = self.counts[order - 1].get(tuple(context[-(order - 1):]))
                if followers:
                    total = sum(followers.values())
                    count = followers.get(token, 0)
                    if count > 0:
                        return count / total
        unigrams = self.counts[0].get(())
        count = unigrams.get(token, 0)
        return (count + 1) / (self.total + len(unigrams))

    def probability_lean(self, token, context):
        """`probability` summing the followers only when the token is among them."""
        for order in range(self.n, 1, -1):
            followers = self._followers(context, order)
            if followers:
                count = followers.get(token, 0)
                if count > 0:
                    return count / sum(followers.values())
        unigrams = self.counts[0].get(())
        return (unigrams.get(token, 0) + 1) / (self.total + len(unigrams))


def perplexity(model, tokens, context_size, lean=False):
    if not tokens:
        return float("inf")
    probability = model.probability_lean if lean else model.probability
    log_likelihood = 0.0
    for i, token in enumerate(tokens):
        context = tuple(tokens[max(0, i - context_size):i])
        log_likelihood += math.log(probability(token, context))
    return math.exp(-log_likelihood / len(tokens))


def generate(model, context, num_tokens):
    out = list(context)
    while len(out) - len(context) < num_tokens:
        nxt = model.predict(out[-(model.n - 1):])
        out.append(nxt)
        if len(out) - len(context) >= num_tokens and nxt == ".":
            break
    return " ".join(out)


def peak_rss_mib():
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus")
    parser.add_argument("--n", type=int, default=5)
    parser.add_argument("--json", help="write the reference numbers here")
    parser.add_argument("--time", action="store_true",
                        help="print only the build + perplexity time as JSON")
    parser.add_argument("--lean", action="store_true",
                        help="with --time: count and evaluate with the leaner statements "
                             "(fit_lean, probability_lean) instead of the notebook's")
    args = parser.parse_args()

    with open(args.corpus, encoding="utf-8") as f:
        text = f.read()
    start = time.perf_counter()
    cpu_start = time.process_time()
    tokens = tokenize(text)
    split = int(len(tokens) * 0.9)
    train, test = tokens[:split], tokens[split:]
    model = CountModel(args.n)
    if args.lean:
        model.fit_lean(train)
    else:
        model.fit(train)
    ppl = perplexity(model, test, args.n, lean=args.lean)
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    if args.time:
        print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "lean": args.lean,
                          "tokens": len(tokens), "perplexity": ppl,
                          "peak_rss_mib": peak_rss_mib()}))
        return

    prompts = ["to be or not to", "the king", "my lord", "what is"]
    result = {
        "source": "scripts/count_lm_reference.py (Python %s)" % sys.version.split()[0],
        "corpus": args.corpus.split("/")[-1],
        "n": args.n,
        "tokens": len(tokens),
        "train_tokens": len(train),
        "test_tokens": len(test),
        "vocabulary": len(model.counts[0][()]),
        "first_tokens": tokens[:20],
        "perplexity": ppl,
        "perplexity_by_n": {},
        "predictions": {},
        "generations": {},
        "probabilities": [],
    }
    for n in range(1, args.n + 1):
        m = model if n == args.n else None
        if m is None:
            m = CountModel(n)
            m.fit(train)
        result["perplexity_by_n"][str(n)] = perplexity(m, test, n)
    for prompt in prompts:
        ctx = tokenize(prompt)
        result["predictions"][prompt] = model.predict(ctx)
        result["generations"][prompt] = generate(model, ctx, 10)
    for i in range(0, len(test), max(1, len(test) // 50)):
        ctx = test[max(0, i - args.n):i]
        result["probabilities"].append(
            {"context": list(ctx), "token": test[i], "p": model.probability(test[i], ctx)})
    with open(args.json, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print("perplexity %.6f on %d test tokens; written %s" % (ppl, len(test), args.json))


if __name__ == "__main__":
    main()
