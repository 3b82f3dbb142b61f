#!/usr/bin/env python3
"""Times the book's own notebook code (not a port) on a text file: the same work as
`count_lm_reference.py --time` and ferrograd's `count_lm_timing` example — tokenise,
split 90/10, count every n-gram of order 1..n of the first part, perplexity of the rest —
with the notebook's `tokenize`, `CountLanguageModel`, `train` and `compute_perplexity`.

The notebook is not part of this repository: pass your copy of `count_language_model.ipynb`
(https://github.com/aburkov/theLMbook). The script runs the code cell that defines the
model (imports and function definitions only; the cells that download a corpus and train
are not run) and prints one JSON line like `count_lm_reference.py --time`.

Usage:
    python3 count_lm_notebook_time.py count_language_model.ipynb CORPUS.txt [--n 5]
"""

import argparse
import json
import resource
import sys
import time
import types


def definitions(notebook_path):
    """The names defined by the notebook's code cell that defines `CountLanguageModel`."""
    with open(notebook_path, encoding="utf-8") as f:
        cells = json.load(f)["cells"]
    for cell in cells:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and "class CountLanguageModel" in source:
            break
    else:
        sys.exit("%s: no code cell defines CountLanguageModel" % notebook_path)
    # The cell imports `requests` for its download helper, which is not called here.
    sys.modules.setdefault("requests", types.ModuleType("requests"))
    namespace = {"__name__": "count_language_model"}
    exec(compile(source, notebook_path, "exec"), namespace)
    return namespace


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebook")
    parser.add_argument("corpus")
    parser.add_argument("--n", type=int, default=5)
    args = parser.parse_args()
    nb = definitions(args.notebook)
    with open(args.corpus, encoding="utf-8") as f:
        text = f.read()
    start = time.perf_counter()
    cpu_start = time.process_time()
    tokens = nb["tokenize"](text)
    split = int(len(tokens) * 0.9)
    train, test = tokens[:split], tokens[split:]
    model = nb["CountLanguageModel"](args.n)
    nb["train"](model, train)
    ppl = nb["compute_perplexity"](model, test, args.n)
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "tokens": len(tokens),
                      "perplexity": ppl,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}))


if __name__ == "__main__":
    main()
