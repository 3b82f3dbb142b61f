#!/usr/bin/env python3
"""Checks that Hugging Face tokenizers and transformers load the tokenizer.json files that
ferrograd-tokenize writes, and encode and decode exactly as we do.

Run from the repository root (needs `python3 -m pip install tokenizers transformers`):

    python3 crates/ferrograd-tokenize/scripts/check_hf_loads.py

It runs the crate's `export_tokenizers` example, which writes a 5,000-token byte-level BPE
trained on tinyshakespeare and GPT-2 (converted from OpenAI's files) as tokenizer.json, with
our ids for ~2,400 probe strings (tinyshakespeare's first 2,000 lines, its first 100,000
characters, and the 425 adversarial strings of testdata/reference/adversarial.json). Each
file is loaded with `tokenizers.Tokenizer.from_file` and with
`transformers.PreTrainedTokenizerFast(tokenizer_file=...)`; every probe must give our ids,
and decoding our ids must give the probe back. Exits non-zero on any difference.
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import tokenizers
import transformers
from tokenizers import Tokenizer
from transformers import PreTrainedTokenizerFast


def main():
    out = Path(tempfile.mkdtemp(prefix="ferrograd-hf-"))
    subprocess.run(
        ["cargo", "run", "--release", "-q", "-p", "ferrograd-tokenize", "--example",
         "export_tokenizers", "--", str(out)],
        check=True,
    )
    doc = json.loads((out / "ids.json").read_text(encoding="utf-8"))
    probes = doc["probes"]
    failures = 0
    for name in ["trained", "gpt2"]:
        path = str(out / f"{name}.tokenizer.json")
        ours = doc[name]
        hf = Tokenizer.from_file(path)
        fast = PreTrainedTokenizerFast(tokenizer_file=path)
        bad = 0
        for probe, ids in zip(probes, ours):
            a = hf.encode(probe).ids
            b = fast(probe, add_special_tokens=False)["input_ids"]
            back = hf.decode(ids, skip_special_tokens=False)
            if a != ids or b != ids or back != probe:
                bad += 1
                if bad <= 3:
                    print(f"{name}: {probe[:60]!r}: ours {ids[:12]}, tokenizers {a[:12]}, "
                          f"transformers {b[:12]}, decoded equal: {back == probe}")
        print(f"{name}: {len(probes)} probes, {bad} differences "
              f"(tokenizers {tokenizers.__version__}, transformers {transformers.__version__})")
        failures += bad
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
