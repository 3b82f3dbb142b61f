#!/usr/bin/env python3
"""The book notebook's count model in Python vs ferrograd, side by side on the same text.

Both sides do the same work on the same file: tokenise with the notebook's regular
expression, split 90/10, count every n-gram of order 1..n of the first part, and compute
the perplexity of the rest. Python is `count_lm_reference.py --time` (a straight port of
the notebook); ferrograd is the `count_lm_timing` example. Runs alternate (Python,
ferrograd, Python, ...) so that a slow moment of the machine hits both; each process
reports its own wall time for the work (file reading excluded) and its peak resident
memory, and the CPU time it used for that work (on a loaded machine CPU time is disturbed
less than wall time by other processes). Prints medians and the ratios; checks that both
perplexities agree to 1e-9.

The default corpus is the English Wikipedia extract in gensim's test data
(enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2, decompressed:
6.1 MB of article text with its markup, 984,036 tokens).

Usage (after `cargo build --release -p ferrograd-lm --example count_lm_timing`):
    python3 crates/ferrograd-lm/scripts/count_lm_compare.py [--corpus FILE] [--n 5] [--repeats 5] \
        [--threads 1]
"""

import argparse
import bz2
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def default_corpus():
    import gensim
    src = os.path.join(os.path.dirname(gensim.__file__), "test", "test_data",
                       "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2")
    out = os.path.join(tempfile.gettempdir(), "ferrograd-enwiki-raw.txt")
    if not os.path.exists(out):
        with bz2.open(src, "rt", encoding="utf-8") as f, open(out + ".tmp", "w", encoding="utf-8") as g:
            g.write(f.read())
        os.replace(out + ".tmp", out)
    return out


def run(cmd):
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus")
    parser.add_argument("--n", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1,
                        help="threads for ferrograd (tokenising, counting, perplexity; Python uses one)")
    parser.add_argument("--binary", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", "target"), "release", "examples", "count_lm_timing"))
    args = parser.parse_args()
    corpus = args.corpus or default_corpus()
    py, rs = [], []
    for i in range(args.repeats):
        py.append(run([sys.executable, os.path.join(HERE, "count_lm_reference.py"), corpus,
                       "--n", str(args.n), "--time"]))
        rs.append(run([args.binary, corpus, str(args.n), str(args.threads)]))
        print("round %d: Python %.3f s (CPU %.3f s, %.0f MiB), ferrograd %.4f s (CPU %.4f s, %.0f MiB)"
              % (i + 1, py[-1]["seconds"], py[-1]["cpu_seconds"], py[-1]["peak_rss_mib"],
                 rs[-1]["seconds"], rs[-1]["cpu_seconds"], rs[-1]["peak_rss_mib"]), flush=True)
    assert abs(py[0]["perplexity"] - rs[0]["perplexity"]) <= 1e-9 * py[0]["perplexity"], (
        py[0]["perplexity"], rs[0]["perplexity"])
    p = statistics.median(r["seconds"] for r in py)
    f = statistics.median(r["seconds"] for r in rs)
    print("corpus %s: %d tokens, n = %d, perplexity %.6f (both)" % (
        corpus, rs[0]["tokens"], args.n, rs[0]["perplexity"]))
    print("median wall: Python %.3f s, ferrograd %.4f s (%d thread(s)) -> %.1fx faster"
          % (p, f, args.threads, p / f))
    pc = statistics.median(r["cpu_seconds"] for r in py)
    fc = statistics.median(r["cpu_seconds"] for r in rs)
    print("median CPU:  Python %.3f s, ferrograd %.4f s -> %.1fx less" % (pc, fc, pc / fc))
    print("per-round wall ratios: %s" % ", ".join(
        "%.1f" % (a["seconds"] / b["seconds"]) for a, b in zip(py, rs)))
    print("ferrograd: tokenise %.4f s, count %.4f s, perplexity %.4f s (wall medians); "
          "CPU %.4f s, %.4f s, %.4f s; model %.0f MiB"
          % (statistics.median(r["tokenize_seconds"] for r in rs),
             statistics.median(r["train_seconds"] for r in rs),
             statistics.median(r["perplexity_seconds"] for r in rs),
             statistics.median(r["tokenize_cpu_seconds"] for r in rs),
             statistics.median(r["train_cpu_seconds"] for r in rs),
             statistics.median(r["perplexity_cpu_seconds"] for r in rs), rs[0]["model_mib"]))
    print("peak resident memory: Python %.0f MiB, ferrograd %.0f MiB" % (
        max(r["peak_rss_mib"] for r in py), max(r["peak_rss_mib"] for r in rs)))


if __name__ == "__main__":
    main()
