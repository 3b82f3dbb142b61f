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

# ---- Added with the fused losses and norms -------------------------------------------

# BCE near (but not at) 0 and 1, where ln(1 - p) must be computed as log1p(-p); input
# and target gradients (the target gradient is -logit(p)).
p = torch.tensor([1e-12, 1.0 - 1e-12, 1e-8, 0.5, 0.9]).requires_grad_()
y = torch.tensor([0.0, 1.0, 0.3, 0.2, 0.7]).requires_grad_()
loss = nn.BCELoss(reduction="none")(p, y)
gp, gy = torch.autograd.grad((loss * torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])).sum(), [p, y])
show("bce_edge_loss", loss)
show("bce_edge_gp", gp)
show("bce_edge_gy", gy)

# BCE with logits, mean reduction, gradients for logits and targets.
z = torch.tensor([[-2.0, 0.5], [30.0, -0.25]]).requires_grad_()
y = torch.tensor([[0.0, 1.0], [0.5, 0.9]]).requires_grad_()
loss = nn.BCEWithLogitsLoss()(z, y)
gz, gy = torch.autograd.grad(loss, [z, y])
show("bcel_mean_loss", loss)
show("bcel_mean_gz", gz)
show("bcel_mean_gy", gy)

# MSE, sum reduction, gradients for input and target.
a = tensor([2, 3], 10, 0.3).requires_grad_()
b = tensor([2, 3], 11, 0.2).requires_grad_()
loss = nn.MSELoss(reduction="sum")(a, b)
ga, gb = torch.autograd.grad(loss, [a, b])
show("mse_sum_loss", loss)
show("mse_sum_ga", ga)
show("mse_sum_gb", gb)

# Cross-entropy with ignore_index and label smoothing, reductions none and sum, on the
# logits above; and on the [N, C, T] layout with both.
for name, red in [("ce_smooth_none", "none"), ("ce_smooth_sum", "sum")]:
    loss = nn.CrossEntropyLoss(ignore_index=3, label_smoothing=0.25, reduction=red)(logits, targets)
    (g,) = torch.autograd.grad((loss * 1.5).sum(), logits)
    show(name + "_loss", loss)
    show(name + "_grad", g)
targets3b = torch.tensor([[0, 1, 2, 1], [2, 1, 0, 1]])
loss = nn.CrossEntropyLoss(ignore_index=1, label_smoothing=0.3)(logits3, targets3b)
(g,) = torch.autograd.grad(loss, logits3)
show("ce_nct_smooth_loss", loss)
show("ce_nct_smooth_grad", g)

# Cross-entropy in float32 on the same logits (the f32 kernel).
logits32 = logits.detach().float().requires_grad_()
loss = nn.CrossEntropyLoss(label_smoothing=0.1)(logits32, torch.tensor([1, 3, 0, 3, 2]))
(g,) = torch.autograd.grad(loss, logits32)
show("ce_f32_loss", loss)
show("ce_f32_grad", g)

# NLL with ignore_index on log-probabilities.
logp = torch.log_softmax(tensor([4, 3], 12, 0.4), dim=1).requires_grad_()
loss = nn.NLLLoss(ignore_index=0)(logp, torch.tensor([2, 0, 1, 2]))
(g,) = torch.autograd.grad(loss, logp)
show("nll_ignore_loss", loss)
show("nll_ignore_grad", g)

# Embedding with padding_idx: forward from fixed weights and the weight gradient.
emb = nn.Embedding(5, 3, padding_idx=0)
with torch.no_grad():
    emb.weight.copy_(tensor([5, 3], 13, 0.5))
ids = torch.tensor([[0, 2, 4], [2, 0, 1]])
out = emb(ids)
(g,) = torch.autograd.grad((out * tensor([2, 3, 3], 14)).sum(), emb.weight)
show("emb_out", out)
show("emb_grad", g)

# GELU, tanh approximation: forward and gradient.
x = tensor([9], 15, 0.8).requires_grad_()
out = nn.GELU(approximate="tanh")(x)
(g,) = torch.autograd.grad((out * tensor([9], 16)).sum(), x)
show("gelu_tanh_out", out)
show("gelu_tanh_grad", g)

# LayerNorm over the last two axes of [2, 3, 4].
x3 = tensor([2, 3, 4], 17, 0.6).requires_grad_()
ln2 = nn.LayerNorm([3, 4])
with torch.no_grad():
    ln2.weight.copy_(tensor([3, 4], 18, 0.2))
    ln2.bias.copy_(tensor([3, 4], 19, 0.1))
out = ln2(x3)
gx, gw, gb = torch.autograd.grad((out * tensor([2, 3, 4], 20)).sum(), [x3, ln2.weight, ln2.bias])
show("ln2_out", out)
show("ln2_gx", gx)
show("ln2_gw", gw)
show("ln2_gb", gb)

# RMSNorm with the default eps (machine epsilon of the dtype) on inputs so small that
# eps matters: float64 (eps 2.2e-16) and float32 (eps 1.19e-7).
small = (tensor([2, 4], 21) * 1e-8).requires_grad_()
rms64 = nn.RMSNorm(4)
out = rms64(small)
(g,) = torch.autograd.grad((out * tensor([2, 4], 22)).sum(), small)
show("rms_default64_out", out)
show("rms_default64_gx", g)
small32 = (tensor([2, 4], 21) * 1e-4).float()
show("rms_default32_out", nn.RMSNorm(4, dtype=torch.float32)(small32))
