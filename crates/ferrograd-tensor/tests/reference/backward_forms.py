"""PyTorch's backward formulas checked by `tests/backward_formulas.rs`.

    python3 crates/ferrograd-tensor/tests/reference/backward_forms.py

1. Confirms, on 500 random float32 values each, which way of writing each formula gives
   PyTorch's autograd gradients bit for bit (asserts; prints the mismatch counts of the
   alternatives we used before):
   - `x / c` and `mean`: `g / c` (not `g * (1 / c)`),
   - `log x`: `g / x` (not `g * (1 / x)`),
   - `a / b`: `g / b` for `a` and `-g * ((a / b) / b)` for `b` (not `(-g * out) / b`),
   - `sqrt x`: `g / (2 y)` (not `g * (0.5 / y)`),
   - `sigmoid x`: `(g * (1 - y)) * y` (not `g * (y * (1 - y))`).
   The Rust test then checks ferrograd's gradients bit for bit against these forms.
2. Prints PyTorch's gradients for the fixed cases embedded in the Rust test (`repr` of a
   Python float is exact for float32 values): a few divisions by 3 and logs where the
   forms differ, the overflow of `(-g * out) / b`, and maximum/minimum at NaN, ties and
   an infinite gradient.

Inputs of the fixed cases use `value(i) = ((i * 37) % 101) / 10 - 5` (float64, then
cast), identical on both sides. Run with torch 2.15.0 (CPU build).
"""
import torch

torch.manual_seed(0)
N = 500


def grads(f, g, *inputs):
    leaves = [t.clone().requires_grad_() for t in inputs]
    f(*leaves).backward(g)
    return [t.grad for t in leaves]


def mismatches(a, b):
    return int((a.view(torch.int32) != b.view(torch.int32)).sum())


x = (torch.rand(N) * 10 + 0.01).float()
g = (torch.randn(N) * 3).float()
three = torch.tensor(3.0)
(gx,) = grads(lambda t: t / 3.0, g, x)
assert mismatches(gx, g / three) == 0
print("div_scalar: g * (1/c) differs in", mismatches(gx, g * (1 / three)), "of", N)
rows = x.reshape(20, 25)
gr = (torch.randn(20) * 3).float()
(gm,) = grads(lambda t: t.mean(1), gr, rows)
assert mismatches(gm, (gr / 25.0).unsqueeze(1).expand(20, 25)) == 0
(gx,) = grads(torch.log, g, x)
assert mismatches(gx, g / x) == 0
print("log: g * (1/x) differs in", mismatches(gx, g * (1 / x)), "of", N)
a = (torch.randn(N) * 10).float()
b = (torch.rand(N) * 5 + 0.01).float()
ga, gb = grads(lambda p, q: p / q, g, a, b)
assert mismatches(ga, g / b) == 0
assert mismatches(gb, -g * ((a / b) / b)) == 0
print("div: (-g * out) / b differs in", mismatches(gb, (-g * (a / b)) / b), "of", N)


(gx,) = grads(torch.sqrt, g, x)
y = torch.sqrt(x)
assert mismatches(gx, g / (2 * y)) == 0
print("sqrt: g * (0.5/y) differs in", mismatches(gx, g * (0.5 / y)), "of", N)
xs = (torch.randn(N) * 4).float()
(gx,) = grads(torch.sigmoid, g, xs)
ys = torch.sigmoid(xs)
assert mismatches(gx, (g * (1 - ys)) * ys) == 0
print("sigmoid: g * (y * (1 - y)) differs in", mismatches(gx, g * (ys * (1 - ys))), "of", N)


def value(i):
    return ((i * 37) % 101) / 10.0 - 5.0


g16 = torch.tensor([value(i) for i in range(16)], dtype=torch.float32)
x16 = torch.tensor([abs(value(i + 16)) + 0.05 for i in range(16)], dtype=torch.float32)
print("div_scalar by 3, g = value(i):", [v.item() for v in grads(lambda t: t / 3.0, g16, x16)[0]])
print("log, x = |value(i + 16)| + 0.05:", [v.item() for v in grads(torch.log, g16, x16)[0]])
for gv, av, bv in [(1e30, 1e30, 1e20), (1e30, 1e-10, 1e20), (1e30, 1e30, 1.0)]:
    ga, gb = grads(lambda p, q: p / q, torch.tensor([gv]), torch.tensor([av]), torch.tensor([bv]))
    print(f"div g={gv} a={av} b={bv}: grad a {ga.item()!r}, grad b {gb.item()!r}")
nan = float("nan")
for f in (torch.maximum, torch.minimum):
    ga, gb = grads(f, torch.ones(4), torch.tensor([nan, 1.0, 2.0, 3.0]), torch.tensor([1.0, nan, 2.0, 1.0]))
    print(f.__name__, "a=[nan,1,2,3] b=[1,nan,2,1]:", ga.tolist(), gb.tolist())
    inf = float("inf")
    ga, gb = grads(f, torch.tensor([inf, inf]), torch.tensor([1.0, 2.0]), torch.tensor([2.0, 1.0]))
    print(f.__name__, "g=inf a=[1,2] b=[2,1]:", ga.tolist(), gb.tolist())
