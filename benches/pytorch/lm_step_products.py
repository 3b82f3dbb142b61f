"""PyTorch's side of `cargo run --release -p ferrograd-linalg --example lm_step_products`.

The same fifteen products of the `lm_step` workload (d = 128, 1,024 tokens, MLP 512,
vocabulary 256), in the same layouts (a Linear layer multiplies by its weight's
transposed view; a weight gradient is formed from a transposed view), on one thread or
`--threads N`:

- hot: best mean of three runs of 100 calls, operands in cache;
- cold: median of 31 calls, each after writing a 64 MiB tensor so that the operands
  start outside the caches, as they mostly do inside a training step.

    python3 benches/pytorch/lm_step_products.py [--threads 2]
"""

import argparse
import statistics
import time

import torch

ROWS = 1024
# (product, m, k, n, left operand transposed, right operand transposed)
PRODUCTS = [
    ("forward qkv   x·Wᵀ", ROWS, 128, 384, False, True),
    ("forward proj  x·Wᵀ", ROWS, 128, 128, False, True),
    ("forward fc1   x·Wᵀ", ROWS, 128, 512, False, True),
    ("forward fc2   h·Wᵀ", ROWS, 512, 128, False, True),
    ("forward head  x·Wᵀ", ROWS, 128, 256, False, True),
    ("dX qkv        g·W", ROWS, 384, 128, False, False),
    ("dX proj       g·W", ROWS, 128, 128, False, False),
    ("dX fc1        g·W", ROWS, 512, 128, False, False),
    ("dX fc2        g·W", ROWS, 128, 512, False, False),
    ("dX head       g·W", ROWS, 256, 128, False, False),
    ("dW qkv        gᵀ·x", 384, ROWS, 128, True, False),
    ("dW proj       gᵀ·x", 128, ROWS, 128, True, False),
    ("dW fc1        gᵀ·x", 512, ROWS, 128, True, False),
    ("dW fc2        gᵀ·x", 128, ROWS, 512, True, False),
    ("dW head       gᵀ·x", 256, ROWS, 128, True, False),
]


def per_step(name):
    """Each block's four Linear layers run twice (2 blocks); the head once."""
    return 1 if "head" in name else 2


def seconds_per_call(call, cold, flush):
    if cold:
        times = []
        for _ in range(31):
            flush.add_(1)
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
        return statistics.median(times)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(100):
            call()
        best = min(best, (time.perf_counter() - start) / 100)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    threads = parser.parse_args().threads
    torch.set_num_threads(threads)
    flush = torch.zeros(64 << 20, dtype=torch.uint8)
    seconds = {False: 0.0, True: 0.0}
    step_flops = 0.0
    print("| product | m | k | n | hot GFLOP/s | cold GFLOP/s |")
    print("|---|---|---|---|---|---|")
    for name, m, k, n, left_t, right_t in PRODUCTS:
        a = torch.randn(k, m).t() if left_t else torch.randn(m, k)
        b = torch.randn(n, k).t() if right_t else torch.randn(k, n)
        c = torch.empty(m, n)
        flops = 2.0 * m * k * n
        speeds = []
        for cold in (False, True):
            s = seconds_per_call(lambda: torch.mm(a, b, out=c), cold, flush)
            seconds[cold] += per_step(name) * s
            speeds.append(flops / s / 1e9)
        step_flops += per_step(name) * flops
        print(f"| {name} | {m} | {k} | {n} | {speeds[0]:.1f} | {speeds[1]:.1f} |")
    print(
        f"\none lm_step's products: {step_flops / 1e9:.2f} GFLOP, hot {seconds[False] * 1e3:.2f} ms "
        f"({step_flops / seconds[False] / 1e9:.1f} GFLOP/s), cold {seconds[True] * 1e3:.2f} ms "
        f"({step_flops / seconds[True] / 1e9:.1f} GFLOP/s), torch {torch.__version__}, {threads} thread(s)"
    )


if __name__ == "__main__":
    main()
