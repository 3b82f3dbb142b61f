"""PyTorch's values at the numeric edges checked by `tests/numerics.rs`.

    python3 crates/ferrograd-tensor/tests/reference/numeric_edges.py

Prints, for float32 and float64, PyTorch's (CPU) softmax, log_softmax, logsumexp,
cross-entropy (with and without label smoothing), binary cross-entropy with logits, layer
norm and RMS norm of rows with large magnitudes, infinities and NaN. The numbers in
`tests/numerics.rs` were copied from this output (torch 2.15.0, CPU build); `repr` of a
Python float is exact for both precisions.
"""
import torch
import torch.nn.functional as F

INF, NAN = float("inf"), float("nan")

ROWS = [
    [1e4, 1e4, 1e4],
    [-1e30, -1e30, -1e30],
    [1e300, 1e300, -1e300],
    [-INF, 1.0, 2.0],
    [INF, 1.0, 2.0],
    [-INF, -INF, -INF],
    [NAN, 1.0, 2.0],
    [1.0, 2.0, 3.0],
]

NORM_ROWS = [
    [1e20, -1e20, 0.0],
    [1e4, 1e4 + 1, 1e4 + 2],
    [1e-30, 2e-30, 0.0],
    [NAN, 1.0, 2.0],
]

BCE = [(1e30, 0.3), (-1e30, 1.0), (100.0, 1.0), (-100.0, 0.0), (40.0, 0.5)]


def show(values):
    return "[" + ", ".join(repr(v) for v in values) + "]"


def main():
    torch.set_num_threads(1)
    print("torch", torch.__version__)
    for dtype in (torch.float32, torch.float64):
        print("==", dtype)
        for row in ROWS:
            x = torch.tensor([row], dtype=dtype)
            print("row", show(x[0].tolist()))
            print("  softmax", show(torch.softmax(x, -1)[0].tolist()))
            print("  log_softmax", show(torch.log_softmax(x, -1)[0].tolist()))
            print("  logsumexp", repr(torch.logsumexp(x, -1).item()))
            t = torch.tensor([1])
            print("  cross_entropy(target 1)", repr(F.cross_entropy(x, t).item()))
            print("  cross_entropy(target 1, smoothing 0.1)",
                  repr(F.cross_entropy(x, t, label_smoothing=0.1).item()))
            print("  nll_loss(log_softmax, target 1)",
                  repr(F.nll_loss(torch.log_softmax(x, -1), t).item()))
        for row in NORM_ROWS:
            x = torch.tensor([row], dtype=dtype)
            print("norm row", show(x[0].tolist()))
            print("  layer_norm", show(F.layer_norm(x, (3,))[0].tolist()))
            print("  rms_norm", show(F.rms_norm(x, (3,))[0].tolist()))
        for z, y in BCE:
            value = F.binary_cross_entropy_with_logits(
                torch.tensor([z], dtype=dtype), torch.tensor([y], dtype=dtype))
            print("bce_with_logits", repr(z), repr(y), repr(value.item()))


if __name__ == "__main__":
    main()
