#!/usr/bin/env python3
"""Chapter 4 (issue 16): the book's decoder language model trained in PyTorch on exactly the
batches ferrograd trained on, for the real-text comparison in docs/chapter4.md.

ferrograd writes what it trained on with

    cargo run --release -p ferrograd-book -- chapter4 training --tokenizer gpt2 \
        --corpus ../shared/data/tinyshakespeare.txt --steps N --export DIR

(token ids of the training and held-out examples, the example indices of every batch in
order, the initial weights under the notebook's state_dict names, and the settings). This
script builds the notebook's model (decoder_replay.py's re-write: per-head W_Q/W_K/W_V,
RoPE with float32 angles, causal mask, RMSNorm, MLP, output matrix without bias), loads the
same initial weights, trains it with the notebook's loss (rows whose target is the pad id
left out) and AdamW on the same batches, evaluates it on the same held-out examples (loss
per scored token, as the notebook's compute_loss_and_perplexity) and prints one JSON line:

    python3 scripts/reference/decoder_compare.py DIR [--threads N]

{"steps", "train_seconds", "tokens_per_second", "valid_loss", "perplexity", "losses"}.
Needs torch and safetensors (pip); no network.
"""

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from decoder_replay import DecoderLanguageModel  # noqa: E402


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


def evaluate(model, valid, config, vocab, pad, ignore):
    model.eval()
    criterion = nn.CrossEntropyLoss(ignore_index=ignore)
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
    model.train()
    return total / count, count


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dir", type=Path)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = json.loads((args.dir / "config.json").read_text())
    data = load_file(str(args.dir / "data.safetensors"))
    weights = load_file(str(args.dir / "init.safetensors"))
    vocab = config["vocab_size"]
    pad, ignore = config["pad_input"], config["ignore_index"]
    model = DecoderLanguageModel(
        vocab, config["emb_dim"], config["num_heads"], config["num_blocks"], config["pad_idx"]
    )
    model.load_state_dict(weights)
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
    valid_loss, count = evaluate(model, valid, config, vocab, pad, ignore)
    print(json.dumps({
        "model": "decoder (notebook, PyTorch eager)",
        "threads": args.threads,
        "steps": len(order),
        "train_seconds": train_seconds,
        "tokens_per_second": tokens / train_seconds,
        "valid_loss": valid_loss,
        "perplexity": math.exp(valid_loss),
        "valid_tokens": count,
        "losses": losses,
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
