"""Writes the fuzz seed files that come from writers other than ferrograd's own.

Run from the repository root: python3 fuzz/scripts/make_seeds.py
Needs torch and safetensors (pip install torch safetensors). The files it writes are
committed; rerunning it rewrites them with the same contents.

- fuzz/seeds/safetensors/torch-*.safetensors: files written by safetensors.torch (the
  writer PyTorch users have), with element types ferrograd does not load (bf16, f16,
  int64), metadata, scalars and empty tensors.
- fuzz/seeds/optim_state/python-sgd-f32.safetensors: an SGD state written by hand in the
  layout documented in crates/ferrograd-optim/src/io.rs (kind and scalars as byte
  strings), by an independent writer.
- fuzz/seeds/csv/python-*.csv: files written by Python's csv module (quoting every field,
  embedded newlines and quotes, a tab-separated file).
"""

import csv
import io
import os
import struct

import torch
from safetensors.torch import save

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "seeds")


def write(path, data):
    with open(os.path.join(ROOT, path), "wb") as f:
        f.write(data)


def safetensors_seeds():
    mixed = {
        "weight": torch.tensor([[1.5, -2.0, 0.25], [3.0, 0.0, -0.5]], dtype=torch.float32),
        "bias": torch.tensor(0.125, dtype=torch.float64),
        "half": torch.tensor([1.0, -1.0], dtype=torch.bfloat16),
        "ids": torch.tensor([1, 2, 3], dtype=torch.int64),
    }
    write("safetensors/torch-mixed.safetensors", save(mixed, metadata={"format": "pt"}))
    empty = {
        "empty": torch.zeros((0, 3), dtype=torch.float32),
        "f16": torch.tensor([0.5], dtype=torch.float16),
        "scalar": torch.tensor(7.0, dtype=torch.float32),
    }
    write("safetensors/torch-empty.safetensors", save(empty))


def byte_tensor(data):
    return torch.tensor(list(data), dtype=torch.float32)


def optim_seed():
    scalars = {
        "lr": 0.05,
        "momentum": 0.0,
        "dampening": 0.0,
        "weight_decay": 0.001,
        "nesterov": 0.0,
        "maximize": 0.0,
        "num_params": 2.0,
    }
    state = {"__kind__": byte_tensor(b"Sgd")}
    for name, value in scalars.items():
        state["__scalar__." + name] = byte_tensor(struct.pack("<d", value))
    write("optim_state/python-sgd-f32.safetensors", save(state))


def csv_seeds():
    out = io.StringIO()
    w = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    w.writerow(["x", "note", "y"])
    w.writerow(["1.5", 'said "hi"', "0"])
    w.writerow(["-2e-3", "two\nlines", "1"])
    w.writerow(["3.4028235e38", "", "1"])
    write("csv/python-quote-all.csv", out.getvalue().encode())
    out = io.StringIO()
    w = csv.writer(out, delimiter="\t", lineterminator="\n")
    w.writerow(["a", "b", "label"])
    w.writerow(["1", "2", "cat"])
    w.writerow(["0.5", "1e-7", "dog"])
    write("csv/python-tabs.tsv", out.getvalue().encode())


if __name__ == "__main__":
    safetensors_seeds()
    optim_seed()
    csv_seeds()
