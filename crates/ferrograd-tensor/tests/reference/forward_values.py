"""Reference values for crates/ferrograd-tensor/tests/pytorch_forward.rs.

Run with PyTorch installed (`python3 forward_values.py`); it prints the expected values
that the Rust test embeds. Inputs are built from the same integer formula on both sides
(`value(i, seed) = ((i * 37 + seed * 11) % 101) / 10 - 5`, computed in float64 and then
cast), so they are bit-identical in Rust and in Python.
"""
import torch

torch.set_printoptions(precision=10)


def value(i, seed):
    return ((i * 37 + seed * 11) % 101) / 10.0 - 5.0


def tensor(shape, seed, dtype=torch.float32):
    n = 1
    for d in shape:
        n *= d
    return torch.tensor([value(i, seed) for i in range(n)], dtype=torch.float64).to(dtype).reshape(shape)


def show(name, t):
    flat = t.detach().reshape(-1).tolist()
    print(f"// {name}: shape {list(t.shape)}")
    print("const " + name.upper() + ": &[f64] = &[" + ", ".join(repr(float(v)) for v in flat) + "];")


x = tensor([3, 5], 1)
show("softmax_dim1", torch.softmax(x, dim=1))
show("softmax_dim0", torch.softmax(x, dim=0))
show("log_softmax_dim1", torch.log_softmax(x, dim=1))
big = tensor([2, 3], 2) * 250.0  # logits of several hundred: must not overflow
show("log_softmax_big", torch.log_softmax(big, dim=1))

src = tensor([3, 4], 3)
index = torch.tensor([[3, 0], [1, 1], [2, 0]])
show("gather_dim1", torch.gather(src, 1, index))

a = tensor([2, 1, 3, 4], 4)
b = tensor([5, 4, 2], 5)
show("bmm_broadcast", torch.matmul(a, b))

# One causal single-head attention step: q, k, v of [T=4, d=3].
q = tensor([4, 3], 6) / 5
k = tensor([4, 3], 7) / 5
v = tensor([4, 3], 8)
scores = q @ k.T / (3 ** 0.5)
mask = torch.triu(torch.ones(4, 4, dtype=torch.bool), diagonal=1)
scores = scores.masked_fill(mask, float("-inf"))
show("causal_attention", torch.softmax(scores, dim=-1) @ v)
