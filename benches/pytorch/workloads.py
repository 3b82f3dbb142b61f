"""PyTorch side of `cargo xtask bench-compare`: the same workloads as
benches/src/workloads.rs, with the same shapes, initialisation scheme, optimizer and
thread count.

    python3 workloads.py WORKLOAD --threads N [--samples S]

prints one JSON line: {"workload", "threads", "unit", "median_s", "samples_s", "max_rss_kib",
"minor_faults_per_call", "cpu_capability"}. Timing: `time.perf_counter` around each sample
after a warm-up; the median is reported. Page faults are counted over the timed samples
(after the warm-up). `ATEN_CPU_CAPABILITY=avx2` (set by `bench-compare --simd avx2`)
restricts PyTorch's kernels to AVX2.
"""
import argparse
import json
import resource
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# The book's buy/no-buy examples (§1.7). Their home is ferrograd-data
# (`ferrograd_data::book::{BUY_FEATURES, BUY_LABELS}`); the test
# `python_side_uses_the_book_data_of_ferrograd_data` in benches/src/workloads.rs checks that
# this copy equals it.
BUY_X = [[22, 25], [25, 35], [47, 80], [52, 95], [46, 82], [56, 90], [23, 27], [30, 50],
         [40, 60], [39, 57], [53, 95], [48, 88]]
BUY_Y = [0, 0, 1, 1, 1, 1, 0, 1, 1, 0, 1, 1]


def logreg_loop():
    """The book's §1.8 loop: Linear(2,1)+Sigmoid, BCELoss, SGD lr 0.001, 500 full-batch steps."""
    x = torch.tensor(BUY_X, dtype=torch.float32)
    y = torch.tensor(BUY_Y, dtype=torch.float32).reshape(-1, 1)
    model = nn.Sequential(nn.Linear(2, 1), nn.Sigmoid())
    criterion = nn.BCELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001)

    def run():
        for _ in range(500):
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
        return loss.item()

    return run, "500 steps"


def mlp_step():
    """One training step of a 784-256-256-10 ReLU MLP, cross-entropy, Adam, batch 128."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(128, 784, generator=g)
    y = torch.randint(0, 10, (128,), generator=g)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def run():
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    return run, "step"


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, 4 * d)
        self.fc2 = nn.Linear(4 * d, d)

    def forward(self, x):
        b, t, d = x.shape
        h = self.heads
        q, k, v = self.qkv(self.norm1(x)).split(d, dim=-1)
        q = q.reshape(b, t, h, d // h).transpose(1, 2)
        k = k.reshape(b, t, h, d // h).transpose(1, 2)
        v = v.reshape(b, t, h, d // h).transpose(1, 2)
        scores = q @ k.transpose(-2, -1) / (d // h) ** 0.5
        mask = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)
        att = scores.masked_fill(mask, float("-inf")).softmax(dim=-1)
        out = (att @ v).transpose(1, 2).reshape(b, t, d)
        x = x + self.proj(out)
        return x + self.fc2(F.relu(self.fc1(self.norm2(x))))


class TinyLm(nn.Module):
    def __init__(self, vocab=256, d=128, heads=4, blocks=2, context=64):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(context, d)
        self.blocks = nn.ModuleList([Block(d, heads) for _ in range(blocks)])
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab)

    def forward(self, ids):
        t = ids.shape[1]
        x = self.embed(ids) + self.pos(torch.arange(t))
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


def lm_step():
    """One training step of a small decoder-only LM: vocab 256, d 128, 2 pre-norm blocks
    (4-head causal self-attention, 4·d ReLU MLP), context 64, batch 16, AdamW."""
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 256, (16, 65), generator=g)
    inputs, targets = ids[:, :-1], ids[:, 1:]
    model = TinyLm()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)

    def run():
        optimizer.zero_grad()
        logits = model(inputs)
        loss = F.cross_entropy(logits.reshape(-1, 256), targets.reshape(-1))
        loss.backward()
        optimizer.step()
        return loss.item()

    return run, "step"


def linear_backward(frozen):
    """Backward of Linear(1024, 1024) on a batch of 256 whose input requires gradients,
    the weight trainable or frozen: forward once, then each call backpropagates a fixed
    output gradient through the kept graph (torch.autograd.grad, so nothing accumulates)."""
    g = torch.Generator().manual_seed(0)
    layer = nn.Linear(1024, 1024)
    if frozen:
        layer.requires_grad_(False)
    x = torch.randn(256, 1024, generator=g, requires_grad=True)
    grad = torch.randn(256, 1024, generator=g)
    y = layer(x)
    inputs = [x] if frozen else [x, layer.weight, layer.bias]
    return (lambda: torch.autograd.grad(y, inputs, grad, retain_graph=True)), "backward"


def mlp_step_graph_kept():
    """mlp_step with the graph kept through the step (backward(retain_graph=True)), as
    ferrograd's loop before backward_free."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(128, 784, generator=g)
    y = torch.randint(0, 10, (128,), generator=g)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def run():
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward(retain_graph=True)
        optimizer.step()
        return loss.item()

    return run, "step"


def matmul(n):
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g)
    b = torch.randn(n, n, generator=g)
    return (lambda: torch.matmul(a, b)), "product"


def add_1m():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(1_000_000, generator=g)
    b = torch.randn(1_000_000, generator=g)
    return (lambda: a + b), "add"


def softmax_64x32000():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 32000, generator=g)
    return (lambda: torch.softmax(x, dim=-1)), "softmax"


WORKLOADS = {
    "logreg_loop": logreg_loop,
    "mlp_step": mlp_step,
    "lm_step": lm_step,
    "matmul_64": lambda: matmul(64),
    "matmul_256": lambda: matmul(256),
    "matmul_512": lambda: matmul(512),
    "matmul_1024": lambda: matmul(1024),
    "add_1m": add_1m,
    "softmax_64x32000": softmax_64x32000,
    "linear_backward_trainable": lambda: linear_backward(False),
    "linear_backward_frozen": lambda: linear_backward(True),
    "mlp_step_graph_kept": mlp_step_graph_kept,
}


WARM_UP_S = 0.3


def measure(run, samples):
    # Warm up for 0.3 s (at least 3 calls): caches, allocators and idle cores settle (on a
    # VM an idle vCPU can take ~100 ms to run at full speed again). bench-runner does the
    # same.
    start = time.perf_counter()
    warm_calls = 0
    while warm_calls < 3 or time.perf_counter() - start < WARM_UP_S:
        run()
        warm_calls += 1
    # Each sample times enough calls to last ~20 ms, so timer resolution does not matter.
    start = time.perf_counter()
    run()
    once = max(time.perf_counter() - start, 1e-7)
    calls = max(1, int(0.02 / once))
    times = []
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(samples):
        start = time.perf_counter()
        for _ in range(calls):
            run()
        times.append((time.perf_counter() - start) / calls)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    return times, faults / (samples * calls)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("workload", choices=sorted(WORKLOADS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--samples", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    run, unit = WORKLOADS[args.workload]()
    times, faults = measure(run, args.samples)
    print(json.dumps({
        "workload": args.workload,
        "threads": args.threads,
        "unit": unit,
        "median_s": statistics.median(times),
        "samples_s": times,
        "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "minor_faults_per_call": faults,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }))


if __name__ == "__main__":
    main()
