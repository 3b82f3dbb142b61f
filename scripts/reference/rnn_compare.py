#!/usr/bin/env python3
"""Chapter 3 (issue 15): the same RNN language model trained in PyTorch on exactly the
batches ferrograd trained on, for the real-text comparison in docs/chapter3.md.

ferrograd writes what it trained on with

    cargo run --release -p ferrograd-book -- chapter3 training --full --export DIR

(token ids of the training and held-out examples, the example indices of every batch in
order, the initial weights under the notebook's state_dict names, and the settings), then
this script trains the book notebook's model — re-written here, not copied: an embedding,
Elman cells looped over time in Python, a linear head, the notebook's
CrossEntropyLoss(ignore_index=pad) and AdamW — from the same initial weights on the same
batches, evaluates it on the same held-out batches (loss per scored token, as the
notebook's compute_loss_and_perplexity), and prints one JSON line:

    python3 scripts/reference/rnn_compare.py DIR [--threads N] [--fused]

{"steps", "train_seconds", "tokens_per_second", "valid_loss", "perplexity", "losses"
(every step's loss), "samples" (greedy continuations of the exported prompts, as ids)}.
`--fused` uses torch.nn.RNN (the same model on PyTorch's fused kernel) instead of the
notebook's loop. Needs torch, numpy and safetensors (pip); no network.
"""

import argparse
import json
import math
import time
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn


class ElmanCell(nn.Module):
    """h = tanh(x @ Wh + h @ Uh + b), weights stored [in, out] (the notebook's unit)."""

    def __init__(self, dim):
        super().__init__()
        self.Uh = nn.Parameter(torch.zeros(dim, dim))
        self.Wh = nn.Parameter(torch.zeros(dim, dim))
        self.b = nn.Parameter(torch.zeros(dim))

    def forward(self, x, h):
        return torch.tanh(x @ self.Wh + h @ self.Uh + self.b)


class LoopRnn(nn.Module):
    def __init__(self, dim, layers):
        super().__init__()
        self.rnn_units = nn.ModuleList([ElmanCell(dim) for _ in range(layers)])

    def forward(self, x):
        b, t, d = x.shape
        hidden = [x.new_zeros(b, d) for _ in self.rnn_units]
        out = []
        for step in range(t):
            inp = x[:, step]
            for i, cell in enumerate(self.rnn_units):
                hidden[i] = cell(inp, hidden[i])
                inp = hidden[i]
            out.append(inp)
        return torch.stack(out, dim=1)


class Model(nn.Module):
    def __init__(self, vocab, dim, layers, pad, fused):
        super().__init__()
        self.fused = fused
        self.embedding = nn.Embedding(vocab, dim, padding_idx=pad)
        self.rnn = nn.RNN(dim, dim, layers, batch_first=True) if fused else LoopRnn(dim, layers)
        self.fc = nn.Linear(dim, vocab)

    def forward(self, ids):
        x = self.embedding(ids)
        x = self.rnn(x)[0] if self.fused else self.rnn(x)
        return self.fc(x)

    def load_notebook_weights(self, weights, layers):
        with torch.no_grad():
            self.embedding.weight.copy_(weights["embedding.weight"])
            self.fc.weight.copy_(weights["fc.weight"])
            self.fc.bias.copy_(weights["fc.bias"])
            for l in range(layers):
                wh, uh, b = (weights[f"rnn.rnn_units.{l}.{n}"] for n in ("Wh", "Uh", "b"))
                if self.fused:
                    # nn.RNN: h = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)
                    getattr(self.rnn, f"weight_ih_l{l}").copy_(wh.t())
                    getattr(self.rnn, f"weight_hh_l{l}").copy_(uh.t())
                    getattr(self.rnn, f"bias_ih_l{l}").copy_(b)
                    getattr(self.rnn, f"bias_hh_l{l}").zero_()
                else:
                    unit = self.rnn.rnn_units[l]
                    unit.Wh.copy_(wh)
                    unit.Uh.copy_(uh)
                    unit.b.copy_(b)


def examples(data, split):
    tokens = data[f"{split}.tokens"].tolist()
    offsets = data[f"{split}.offsets"].tolist()
    return [tokens[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]


def collate(batch, pad_input, pad_target):
    """input = ids[:-1], target = ids[1:], right-padded to the longest (the notebook's
    collate_fn with pad_sequence)."""
    t = max(len(e) - 1 for e in batch)
    inputs = torch.full((len(batch), t), pad_input, dtype=torch.long)
    targets = torch.full((len(batch), t), pad_target, dtype=torch.long)
    for i, e in enumerate(batch):
        inputs[i, : len(e) - 1] = torch.tensor(e[:-1])
        targets[i, : len(e) - 1] = torch.tensor(e[1:])
    return inputs, targets


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dir", type=Path)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--fused", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = json.loads((args.dir / "config.json").read_text())
    data = load_file(str(args.dir / "data.safetensors"))
    weights = load_file(str(args.dir / "init.safetensors"))
    vocab, dim, layers = config["vocab_size"], config["emb_dim"], config["num_layers"]
    pad, ignore = config["pad_input"], config["ignore_index"]
    model = Model(vocab, dim, layers, pad, args.fused)
    model.load_notebook_weights(weights, layers)
    criterion = nn.CrossEntropyLoss(ignore_index=ignore)
    optimizer = torch.optim.AdamW(
        model.parameters(),
        lr=config["lr"],
        betas=tuple(config["betas"]),
        eps=config["eps"],
        weight_decay=config["weight_decay"],
    )
    train = examples(data, "train")
    valid = examples(data, "valid")
    order = data["order"].tolist()
    losses = []
    tokens = 0
    train_seconds = 0.0
    model.train()
    for row in order:
        batch = [train[i] for i in row if i >= 0]
        inputs, targets = collate(batch, pad, config["pad_target"])
        start = time.perf_counter()
        optimizer.zero_grad()
        logits = model(inputs)
        loss = criterion(logits.reshape(-1, vocab), targets.reshape(-1))
        loss.backward()
        optimizer.step()
        train_seconds += time.perf_counter() - start
        losses.append(loss.item())
        tokens += int((targets != ignore).sum())
    # Evaluation: the held-out examples in order, in batches of the training size.
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        size = config["batch_size"]
        for i in range(0, len(valid), size):
            inputs, targets = collate(valid[i : i + size], pad, config["pad_target"])
            logits = model(inputs)
            n = int((targets != ignore).sum())
            loss = criterion(logits.reshape(-1, vocab), targets.reshape(-1))
            total += loss.item() * n
            count += n
    samples = []
    with torch.no_grad():
        for prompt in config["prompts"]:
            ids = list(prompt)
            for _ in range(config["max_new_tokens"]):
                logits = model(torch.tensor([ids]))
                nxt = int(torch.argmax(logits[0, -1]))
                ids.append(nxt)
                if config["eos"] is not None and nxt == config["eos"]:
                    break
            samples.append(ids)
    valid_loss = total / count
    print(json.dumps({
        "rnn": "torch.nn.RNN" if args.fused else "notebook loop",
        "threads": args.threads,
        "steps": len(order),
        "train_seconds": train_seconds,
        "tokens_per_second": tokens / train_seconds,
        "valid_loss": valid_loss,
        "perplexity": math.exp(valid_loss),
        "valid_tokens": count,
        "losses": losses,
        "samples": samples,
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
