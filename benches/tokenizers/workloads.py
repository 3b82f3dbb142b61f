"""HF tokenizers and tiktoken side of `cargo xtask bench-tokenize`: the same workloads as
crates/ferrograd-tokenize/examples/tokenize-runner.rs, on the same files.

    python3 workloads.py LIBRARY WORKLOAD --data DIR [--corpus FILE] [--threads N] [--samples S]

LIBRARY is `hf` (tokenizers, Rust core) or `tiktoken`. Prints one JSON line:
{"workload", "library", "threads", "unit", "bytes", "median_s", "samples_s", "result", "max_rss_kib"}.
Threads: RAYON_NUM_THREADS (set before tokenizers is imported) for HF, `num_threads` of
`encode_ordinary_batch` for tiktoken. Each sample is one call after one warm-up call; files
are read before timing (HF's trainer reads its file itself, inside the timing, as ours
does not: ours gets the text in memory, which favours HF by the read time, ~1 ms per MB).

Workloads:
- train_shakespeare / train_corpus (HF only): a 5,000-token byte-level BPE, ByteLevel
  pre-tokenizer, the 256-byte initial alphabet, `<|endoftext|>` special.
- encode_shakespeare: GPT-2's vocabulary, the whole file as one text (tiktoken
  `encode_ordinary`, HF `encode`), one thread.
- encode_batch: the file's lines as one batch (tiktoken `encode_ordinary_batch`, HF
  `encode_batch`).
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("library", choices=["hf", "tiktoken"])
    p.add_argument("workload")
    p.add_argument("--data", required=True)
    p.add_argument("--corpus")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--samples", type=int, default=5)
    a = p.parse_args()
    os.environ["RAYON_NUM_THREADS"] = str(a.threads)
    os.environ["TOKENIZERS_PARALLELISM"] = "true" if a.threads > 1 else "false"

    encoder_json = os.path.join(a.data, "gpt2", "encoder.json")
    vocab_bpe = os.path.join(a.data, "gpt2", "vocab.bpe")
    shakespeare_path = os.path.join(a.data, "tinyshakespeare.txt")
    with open(shakespeare_path, encoding="utf-8") as f:
        shakespeare = f.read()

    def hf_gpt2():
        from tokenizers import Tokenizer, models, pre_tokenizers

        tok = Tokenizer(models.BPE.from_file(encoder_json, vocab_bpe))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        return tok

    def tiktoken_gpt2():
        import tiktoken
        from tiktoken.load import data_gym_to_mergeable_bpe_ranks
        from tiktoken_ext.openai_public import r50k_pat_str

        ranks = data_gym_to_mergeable_bpe_ranks(vocab_bpe_file=vocab_bpe, encoder_json_file=encoder_json)
        return tiktoken.Encoding(name="gpt2-local", pat_str=r50k_pat_str, mergeable_ranks=ranks,
                                 special_tokens={"<|endoftext|>": 50256}, explicit_n_vocab=50257)

    text = shakespeare
    if a.workload in ("train_shakespeare", "train_corpus"):
        if a.library != "hf":
            sys.exit("tiktoken has no trainer")
        from tokenizers import Tokenizer, models, pre_tokenizers, trainers

        path = a.corpus if a.workload == "train_corpus" else shakespeare_path
        with open(path, encoding="utf-8") as f:
            text = f.read()

        def run():
            tok = Tokenizer(models.BPE())
            tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
            trainer = trainers.BpeTrainer(
                vocab_size=5000, special_tokens=["<|endoftext|>"], show_progress=False,
                initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
            tok.train([path], trainer)
            return tok.get_vocab_size()

        unit = "train"
    elif a.workload == "encode_shakespeare":
        unit = "MB/s"
        if a.library == "hf":
            tok = hf_gpt2()
            run = lambda: len(tok.encode(text).ids)
        else:
            enc = tiktoken_gpt2()
            run = lambda: len(enc.encode_ordinary(text))
    elif a.workload == "encode_batch":
        unit = "MB/s"
        lines = text.splitlines(keepends=True)
        if a.library == "hf":
            tok = hf_gpt2()
            run = lambda: len(tok.encode_batch(lines))
        else:
            enc = tiktoken_gpt2()
            run = lambda: len(enc.encode_ordinary_batch(lines, num_threads=a.threads))
    else:
        sys.exit(f"unknown workload {a.workload}")

    check = run()
    times = []
    for _ in range(max(a.samples, 1)):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    print(json.dumps({
        "workload": a.workload, "library": a.library, "threads": a.threads, "unit": unit,
        "bytes": len(text.encode("utf-8")), "median_s": statistics.median(times),
        "samples_s": times, "result": check,
        "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }))


if __name__ == "__main__":
    main()
