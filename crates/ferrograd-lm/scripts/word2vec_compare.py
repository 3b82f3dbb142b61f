#!/usr/bin/env python3
"""ferrograd's word2vec side by side with gensim's: same corpus, same hyper-parameters.

1. Builds the corpus: the English Wikipedia extract that ships in gensim's own test data
   (`enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2`, 106 articles),
   turned into plain words by gensim's `WikiCorpus`, keeping ASCII words only and cutting
   articles into lines of at most 1,000 words (so both tools see identical sentences;
   gensim cuts longer ones at 10,000 anyway). About 450,000 words.
2. Trains `gensim.models.Word2Vec(sg=1, negative=5, hs=0, vector_size, window, min_count,
   sample, epochs)` and ferrograd's `examples/word2vec_train` on it, alternating, at 1 and
   2 threads, several seeds each; words per second = corpus words x epochs / seconds of
   the training call (vocabulary building excluded on both sides).
3. Scores both with gensim's `evaluate_word_pairs` on its `wordsim353.tsv` (Spearman
   correlation, pairs with an unknown word left out -- the same pairs for both, as the
   vocabulary is the same); ferrograd's vectors are read with
   `KeyedVectors.load_word2vec_format`, which also checks that gensim reads our files.

Usage (from the repository root, after
`cargo build --release -p ferrograd-lm --example word2vec_train`):

    python3 crates/ferrograd-lm/scripts/word2vec_compare.py [--epochs 5] [--seeds 3] \
        [--threads 1,2] [--binary PATH] [--workdir DIR] [--json OUT.json]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import gensim
from gensim.corpora.wikicorpus import WikiCorpus
from gensim.models import KeyedVectors, Word2Vec
from gensim.models.word2vec import LineSentence

TEST_DATA = os.path.join(os.path.dirname(gensim.__file__), "test", "test_data")
WIKI = os.path.join(TEST_DATA, "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2")
WORDSIM = os.path.join(TEST_DATA, "wordsim353.tsv")


def build_corpus(path):
    if os.path.exists(path):
        return
    wiki = WikiCorpus(WIKI, dictionary={})
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        for tokens in wiki.get_texts():
            words = [t for t in tokens if t.isascii() and t.isalnum()]
            for i in range(0, len(words), 1000):
                f.write(" ".join(words[i:i + 1000]) + "\n")
    os.replace(path + ".tmp", path)


def spearman(kv):
    pearson, spearman_result, oov = kv.evaluate_word_pairs(WORDSIM)
    return float(spearman_result[0]), float(oov)


def run_gensim(corpus, args, threads, seed):
    model = Word2Vec(sg=1, hs=0, negative=5, vector_size=args.dim, window=args.window,
                     min_count=args.min_count, sample=args.sample, workers=threads,
                     seed=seed, epochs=args.epochs)
    model.build_vocab(corpus_iterable=LineSentence(corpus))
    start = time.perf_counter()
    model.train(corpus_iterable=LineSentence(corpus), total_examples=model.corpus_count,
                epochs=args.epochs)
    seconds = time.perf_counter() - start
    words = model.corpus_total_words * args.epochs
    rho, oov = spearman(model.wv)
    return {"words_per_second": words / seconds, "seconds": seconds, "spearman": rho,
            "oov_percent": oov, "vocabulary": len(model.wv)}


def run_ours(corpus, args, threads, seed, workdir):
    out = os.path.join(workdir, "ours-%d-%d.txt" % (threads, seed))
    cmd = [args.binary, corpus, out, "--dim", str(args.dim), "--window", str(args.window),
           "--negative", "5", "--min-count", str(args.min_count), "--sample", str(args.sample),
           "--epochs", str(args.epochs), "--threads", str(threads), "--seed", str(seed)]
    stats = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    kv = KeyedVectors.load_word2vec_format(out, binary=False)
    rho, oov = spearman(kv)
    return {"words_per_second": stats["words_per_second"], "seconds": stats["seconds"],
            "spearman": rho, "oov_percent": oov, "vocabulary": len(kv)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--window", type=int, default=5)
    parser.add_argument("--min-count", type=int, default=5)
    parser.add_argument("--sample", type=float, default=1e-3)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--binary", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", "target"), "release", "examples", "word2vec_train"))
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "ferrograd-w2v"))
    parser.add_argument("--json")
    args = parser.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    corpus = os.path.join(args.workdir, "enwiki-words.txt")
    build_corpus(corpus)
    with open(corpus, encoding="utf-8") as f:
        words = sum(len(line.split()) for line in f)
    print("corpus %s: %d words; gensim %s, Python %s" % (corpus, words, gensim.__version__,
                                                       sys.version.split()[0]))
    results = {"corpus_words": words, "epochs": args.epochs, "dim": args.dim,
               "window": args.window, "min_count": args.min_count, "sample": args.sample,
               "gensim": gensim.__version__, "runs": []}
    for threads in [int(t) for t in args.threads.split(",")]:
        for seed in range(1, args.seeds + 1):
            # Alternate the two sides so that a slow moment of the machine hits both.
            for side, fn in (("gensim", lambda: run_gensim(corpus, args, threads, seed)),
                             ("ferrograd", lambda: run_ours(corpus, args, threads, seed,
                                                            args.workdir))):
                r = fn()
                r.update({"side": side, "threads": threads, "seed": seed})
                results["runs"].append(r)
                print("%-9s threads=%d seed=%d  %9.0f words/s  %6.2f s  spearman %.4f  (oov %.1f%%, vocab %d)"
                      % (side, threads, seed, r["words_per_second"], r["seconds"], r["spearman"],
                         r["oov_percent"], r["vocabulary"]), flush=True)
    print()
    summary = {}
    for threads in sorted({r["threads"] for r in results["runs"]}):
        row = {}
        for side in ("gensim", "ferrograd"):
            runs = [r for r in results["runs"] if r["side"] == side and r["threads"] == threads]
            row[side] = {"words_per_second_median": statistics.median(r["words_per_second"] for r in runs),
                         "spearman_mean": statistics.mean(r["spearman"] for r in runs),
                         "spearman_min": min(r["spearman"] for r in runs),
                         "spearman_max": max(r["spearman"] for r in runs)}
        row["speed_ratio"] = (row["ferrograd"]["words_per_second_median"]
                              / row["gensim"]["words_per_second_median"])
        row["spearman_difference"] = (row["ferrograd"]["spearman_mean"]
                                      - row["gensim"]["spearman_mean"])
        summary[threads] = row
        print("threads=%d: words/s gensim %.0f, ferrograd %.0f (x%.2f); Spearman gensim %.4f, ferrograd %.4f (difference %+.4f)"
              % (threads, row["gensim"]["words_per_second_median"],
                 row["ferrograd"]["words_per_second_median"], row["speed_ratio"],
                 row["gensim"]["spearman_mean"], row["ferrograd"]["spearman_mean"],
                 row["spearman_difference"]))
    results["summary"] = summary
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
