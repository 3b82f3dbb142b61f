#!/usr/bin/env python3
"""The book notebook's count model in Python vs ferrograd, side by side on the same text.

Both sides do the same work on the same file: tokenise with the notebook's regular
expression, split 90/10, count every n-gram of order 1..n of the first part, and compute
the perplexity of the rest. Python is `count_lm_reference.py --time` (a straight port of
the notebook, with the notebook's statements: it costs what the notebook's code costs);
with `--lean`, also the port's leaner statements (same results, ~1.7x faster Python); with
`--notebook count_language_model.ipynb`, also the notebook's own code
(`count_lm_notebook_time.py`). ferrograd is the `count_lm_timing` example. Runs alternate
(each Python side, then ferrograd, ...) so that a slow moment of the machine hits all; each process
reports its own wall time for the work (file reading excluded) and its peak resident
memory, and the CPU time it used for that work (on a loaded machine CPU time is disturbed
less than wall time by other processes). Prints medians and the ratios; checks that both
perplexities agree to 1e-9.

The default corpus is the English Wikipedia extract in gensim's test data
(enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2, decompressed:
6.1 MB of article text with its markup, 984,036 tokens).

Usage (after `cargo build --release -p ferrograd-lm --example count_lm_timing`):
    python3 crates/ferrograd-lm/scripts/count_lm_compare.py [--corpus FILE] [--n 5] [--repeats 5] \
        [--threads 1] [--lean] [--notebook PATH/count_language_model.ipynb]
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
    parser.add_argument("--lean", action="store_true",
                        help="also time the port's leaner Python statements")
    parser.add_argument("--notebook", help="also time the notebook's own code, from this "
                        "copy of count_language_model.ipynb")
    args = parser.parse_args()
    corpus = args.corpus or default_corpus()
    reference = [sys.executable, os.path.join(HERE, "count_lm_reference.py"), corpus,
                 "--n", str(args.n), "--time"]
    # Each Python side: its name and its command. The first is the one the headline
    # ratios below use.
    sides = [("Python port", reference)]
    if args.lean:
        sides.append(("Python port, lean", reference + ["--lean"]))
    if args.notebook:
        sides.append(("notebook's code", [
            sys.executable, os.path.join(HERE, "count_lm_notebook_time.py"), args.notebook,
            corpus, "--n", str(args.n)]))
    runs = {name: [] for name, _ in sides}
    rs = []
    for i in range(args.repeats):
        for name, cmd in sides:
            runs[name].append(run(cmd))
        rs.append(run([args.binary, corpus, str(args.n), str(args.threads)]))
        print("round %d: %s; ferrograd %.4f s (CPU %.4f s, %.0f MiB)" % (
            i + 1, "; ".join("%s %.3f s (CPU %.3f s, %.0f MiB)" % (
                name, runs[name][-1]["seconds"], runs[name][-1]["cpu_seconds"],
                runs[name][-1]["peak_rss_mib"]) for name, _ in sides),
            rs[-1]["seconds"], rs[-1]["cpu_seconds"], rs[-1]["peak_rss_mib"]), flush=True)
    for name, _ in sides:
        ppl = runs[name][0]["perplexity"]
        assert abs(ppl - rs[0]["perplexity"]) <= 1e-9 * ppl, (name, ppl, rs[0]["perplexity"])
    for name, _ in sides[1:]:
        p = statistics.median(r["seconds"] for r in runs[name])
        f = statistics.median(r["seconds"] for r in rs)
        print("%s: median wall %.3f s -> ferrograd %.1fx faster (rounds: %s)" % (
            name, p, p / f, ", ".join("%.1f" % (a["seconds"] / b["seconds"])
                                      for a, b in zip(runs[name], rs))))
    py = runs[sides[0][0]]
    p = statistics.median(r["seconds"] for r in py)
    f = statistics.median(r["seconds"] for r in rs)
    print("corpus %s: %d tokens, n = %d, perplexity %.6f (both)" % (
        corpus, rs[0]["tokens"], args.n, rs[0]["perplexity"]))
    print("median wall: Python port %.3f s, ferrograd %.4f s (%d thread(s)) -> %.1fx faster"
          % (p, f, args.threads, p / f))
    pc = statistics.median(r["cpu_seconds"] for r in py)
    fc = statistics.median(r["cpu_seconds"] for r in rs)
    print("median CPU:  Python port %.3f s, ferrograd %.4f s -> %.1fx less" % (pc, fc, pc / fc))
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
    print("peak resident memory: %s, ferrograd %.0f MiB" % (", ".join(
        "%s %.0f MiB" % (name, max(r["peak_rss_mib"] for r in runs[name])) for name, _ in sides),
        max(r["peak_rss_mib"] for r in rs)))


if __name__ == "__main__":
    main()
