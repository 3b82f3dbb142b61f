#!/usr/bin/env python3
"""PyTorch's run of the book's §2.1 bag-of-words classifier, for ferrograd's replay test.

The book's code restated: `\\w+` words of the lower-cased text, a sorted vocabulary (26
words), binary document vectors, `Sequential(Linear(26, 50), ReLU(), Linear(50, 3))`,
`CrossEntropyLoss`, `SGD(lr=0.001)`, 3000 full-batch steps, then the two new documents.
Writes the initial weights (torch.manual_seed(SEED), PyTorch's default initialisation),
the loss before every step, the final logits and predictions.

With lr 0.001 and 3000 steps the model is still far from converged, so the predictions
depend on the initial weights; `--seeds N` also counts over seeds 0..N-1 how often PyTorch
predicts the book's classes (Music, Science).

Usage: python3 bow_reference.py OUT.json [--seed 1] [--seeds 50]
"""

import argparse
import json
import re

import torch
import torch.nn as nn

DOCS = ["Movies are fun for everyone.", "Watching movies is great fun.",
        "Enjoy a great movie today.", "Research is interesting and important.",
        "Learning math is very important.", "Science discovery is interesting.",
        "Rock is great to listen to.", "Listen to music for fun.",
        "Music is fun for everyone.", "Listen to folk music!"]
LABELS = [0, 0, 0, 1, 1, 1, 2, 2, 2, 2]  # Cinema, Science, Music
CLASSES = ["Cinema", "Science", "Music"]
NEW_DOCS = ["Listening to rock is fun.", "I hate science."]


def words(text):
    return re.findall(r"\w+", text.lower())


VOCAB = sorted({w for d in DOCS for w in words(d)})
INDEX = {w: i for i, w in enumerate(VOCAB)}


def binary(doc):
    v = [0.0] * len(VOCAB)
    for w in words(doc):
        if w in INDEX:
            v[INDEX[w]] = 1.0
    return v


def run(seed):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(len(VOCAB), 50), nn.ReLU(), nn.Linear(50, 3))
    init = {k: v.detach().clone().tolist() for k, v in model.state_dict().items()}
    x = torch.tensor([binary(d) for d in DOCS])
    y = torch.tensor(LABELS)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001)
    losses = []
    for _ in range(3000):
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        losses.append(loss.item())
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        logits = model(torch.tensor([binary(d) for d in NEW_DOCS]))
    predictions = [CLASSES[i] for i in logits.argmax(1).tolist()]
    return init, losses, logits.tolist(), predictions


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seeds", type=int, default=0)
    args = parser.parse_args()
    init, losses, logits, predictions = run(args.seed)
    result = {"source": "scripts/bow_reference.py, PyTorch %s CPU float32" % torch.__version__,
              "seed": args.seed, "vocabulary": VOCAB, "classes": CLASSES, "init": init,
              "loss_per_step": losses, "new_docs": NEW_DOCS, "new_logits": logits,
              "new_predictions": predictions}
    if args.seeds:
        agree = sum(run(s)[3] == ["Music", "Science"] for s in range(args.seeds))
        result["seeds_predicting_book_classes"] = [agree, args.seeds]
    with open(args.out, "w") as f:
        json.dump(result, f)
        f.write("\n")
    print("seed %d: final loss %.6f, predictions %s%s" % (
        args.seed, losses[-1], predictions,
        "; %d/%d seeds agree with the book" % tuple(result["seeds_predicting_book_classes"])
        if args.seeds else ""))


if __name__ == "__main__":
    main()
