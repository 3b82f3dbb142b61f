#!/usr/bin/env python3
"""Checks that rnn_replay/ and decoder_replay/ are the book's own models, not just ours.

    python3 scripts/reference/verify_replays_against_notebooks.py [NOTEBOOK_DIR]

NOTEBOOK_DIR (default /work/notebooks) holds the book's notebooks exported as .py files
(news_RNN_language_model.py, news_decoder_language_model.py). The script executes, at run
time, each notebook's model-classes cell (from `def initialize_weights` to the next markdown
cell; nothing of it is copied here), builds the notebook's model with the replay's seed and
the notebook's own initialize_weights, trains it 30 steps with the notebook's loss and
`torch.optim.AdamW(model.parameters(), lr=1e-2)`, and requires the initial weights, the 30
float32 losses and the final weights to equal the committed files bit for bit. Exit 0 on
success, 1 on a difference, 0 with a message when the notebooks are not there.
"""

import json
import math
import sys
from pathlib import Path

import torch
from torch import nn

import _common as C
import decoder_replay
import rnn_replay


def notebook_cell(path):
    source = path.read_text()
    start = source.index("def initialize_weights(model):")
    end = source.index("# %% [markdown]", start)
    namespace = {"torch": torch, "nn": nn, "math": math}
    exec(compile(source[start:end], str(path), "exec"), namespace)
    return namespace


def check(topic, namespace, model_name, args, seed, data_seed, loss):
    from safetensors.torch import load_file

    folder = C.DATA_ROOT / topic
    torch.manual_seed(seed)
    model = namespace[model_name](*args)
    namespace["initialize_weights"](model)
    failures = []
    init = load_file(str(folder / "init.safetensors"))
    if sorted(model.state_dict()) != sorted(init):
        failures.append("state_dict names differ")
    elif not all(torch.equal(model.state_dict()[k], init[k]) for k in init):
        failures.append("initial weights differ")
    batches = C.make_replay_batches(args[0], 0, data_seed)
    opt = torch.optim.AdamW(model.parameters(), lr=C.ADAMW["lr"])
    losses = []
    for step in range(30):
        inp, tgt = batches[step % len(batches)]
        opt.zero_grad()
        value = loss(model, inp, tgt)
        value.backward()
        opt.step()
        losses.append(value.item())
    expected = json.loads((folder / "expected.json").read_text())["losses"]
    if losses != expected:
        failures.append("losses differ")
    final = load_file(str(folder / "final.safetensors"))
    if not all(torch.equal(model.state_dict()[k], final[k]) for k in final):
        failures.append("final weights differ")
    verdict = "; ".join(failures) if failures else "identical to the notebook's model"
    print(f"{topic}: {verdict}")
    return not failures


def main():
    C.setup()
    notebooks = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/notebooks")
    rnn_path = notebooks / "news_RNN_language_model.py"
    dec_path = notebooks / "news_decoder_language_model.py"
    if not (rnn_path.is_file() and dec_path.is_file()):
        print(f"skipped: the notebooks are not in {notebooks}")
        return 0

    def rnn_loss(model, inp, tgt):
        batch, time = inp.shape
        logits = model(inp).reshape(batch * time, -1)
        return nn.CrossEntropyLoss(ignore_index=0)(logits, tgt.reshape(batch * time))

    def decoder_loss(model, inp, tgt):
        logits = model(inp)
        logits = logits.reshape(-1, logits.size(-1))
        target = tgt.reshape(-1)
        mask = target != 0
        return nn.CrossEntropyLoss(ignore_index=0)(logits[mask], target[mask])

    ok = check(
        "rnn_replay",
        notebook_cell(rnn_path),
        "RecurrentLanguageModel",
        (rnn_replay.VOCAB, rnn_replay.EMB, rnn_replay.LAYERS, rnn_replay.PAD),
        rnn_replay.INIT_SEED,
        rnn_replay.DATA_SEED,
        rnn_loss,
    )
    d = decoder_replay
    ok &= check(
        "decoder_replay",
        notebook_cell(dec_path),
        "DecoderLanguageModel",
        (d.VOCAB, d.EMB, d.HEADS, d.BLOCKS, d.PAD),
        d.INIT_SEED,
        d.DATA_SEED,
        decoder_loss,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
