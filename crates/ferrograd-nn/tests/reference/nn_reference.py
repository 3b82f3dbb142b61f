"""Reference values for crates/ferrograd-nn/tests/pytorch_reference.rs, printed by
PyTorch 2.15 (CPU, float64) from inputs built by the same integer formula on both sides:
value(i, seed) = ((i * 37 + seed * 11) % 101) / 10 - 5.
Run: python3 nn_reference.py
"""
import torch
import torch.nn as nn

torch.set_default_dtype(torch.float64)


def value(i, seed):
    return ((i * 37 + seed * 11) % 101) / 10.0 - 5.0


def tensor(shape, seed, scale=1.0):
    n = 1
    for d in shape:
        n *= d
    return (torch.tensor([value(i, seed) for i in range(n)]) * scale).reshape(shape)


def show(name, t):
    flat = t.detach().reshape(-1).tolist()
    print(f"const {name.upper()}: &[f64] = &[" + ", ".join(repr(float(v)) for v in flat) + "];")


# Cross-entropy with ignore_index and label smoothing: logits [5, 4], targets with two ignored.
logits = tensor([5, 4], 1, 0.5).requires_grad_()
targets = torch.tensor([1, 3, 0, 3, 2])
for name, kw in [("ce_plain", {}), ("ce_ignore", {"ignore_index": 3}),
                 ("ce_ignore_smooth", {"ignore_index": 3, "label_smoothing": 0.1})]:
    loss = nn.CrossEntropyLoss(**kw)(logits, targets)
    (g,) = torch.autograd.grad(loss, logits)
    show(name + "_loss", loss)
    show(name + "_grad", g)
# [N, C, T] layout: logits [2, 3, 4], targets [2, 4]
logits3 = tensor([2, 3, 4], 2, 0.5).requires_grad_()
targets3 = torch.tensor([[0, 1, 2, 1], [2, 2, 0, 1]])
loss = nn.CrossEntropyLoss()(logits3, targets3)
(g,) = torch.autograd.grad(loss, logits3)
show("ce_nct_loss", loss)
show("ce_nct_grad", g)

# BCE with logits at extreme logits.
z = torch.tensor([1000.0, -1000.0, 50.0, -50.0, 0.0, 3.0]).requires_grad_()
y = torch.tensor([0.0, 1.0, 1.0, 0.0, 1.0, 0.25])
loss = nn.BCEWithLogitsLoss(reduction="none")(z, y)
(g,) = torch.autograd.grad(loss.sum(), z)
show("bcel_loss", loss)
show("bcel_grad", g)

# BCE on probabilities 0 and 1 (log clamped at -100).
p = torch.tensor([0.0, 1.0, 0.0, 1.0, 0.3]).requires_grad_()
y = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.6])
loss = nn.BCELoss(reduction="none")(p, y)
(g,) = torch.autograd.grad(loss.sum(), p)
show("bce_loss", loss)
show("bce_grad", g)

# LayerNorm and RMSNorm forward and gradients, over the last axis of [3, 4].
x = tensor([3, 4], 3, 0.7).requires_grad_()
ln = nn.LayerNorm(4)
with torch.no_grad():
    ln.weight.copy_(tensor([4], 4, 0.2))
    ln.bias.copy_(tensor([4], 5, 0.1))
w = tensor([3, 4], 6)
out = ln(x)
gx, gw, gb = torch.autograd.grad((out * w).sum(), [x, ln.weight, ln.bias])
show("ln_out", out)
show("ln_gx", gx)
show("ln_gw", gw)
show("ln_gb", gb)
rms = nn.RMSNorm(4, eps=1e-6)
with torch.no_grad():
    rms.weight.copy_(tensor([4], 4, 0.2))
out = rms(x)
gx, gw = torch.autograd.grad((out * w).sum(), [x, rms.weight])
show("rms_out", out)
show("rms_gx", gx)
show("rms_gw", gw)

# Linear forward from fixed weights.
lin = nn.Linear(3, 2)
with torch.no_grad():
    lin.weight.copy_(tensor([2, 3], 7, 0.3))
    lin.bias.copy_(tensor([2], 8, 0.1))
show("linear_out", lin(tensor([4, 3], 9)))
