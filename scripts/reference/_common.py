"""Helpers shared by the reference scripts in this folder (not a script itself).

Every script writes into crates/ferrograd-lm/tests/data/<topic>/ and is deterministic:
fixed seeds, one CPU thread, no network access.
"""

import json
import math
import os
import platform
from pathlib import Path

# Never reach the network (transformers/PEFT would otherwise look things up on the Hub).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_ROOT = REPO_ROOT / "crates" / "ferrograd-lm" / "tests" / "data"


def setup():
    """One thread (so reductions run in one fixed order) and deterministic kernels."""
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


def data_dir(topic):
    path = DATA_ROOT / topic
    path.mkdir(parents=True, exist_ok=True)
    return path


def versions():
    out = {"python": platform.python_version(), "torch": torch.__version__}
    for name in ("numpy", "safetensors", "transformers", "peft"):
        try:
            module = __import__(name)
            out[name] = module.__version__
        except ImportError:
            pass
    return out


def to_plain(obj):
    """Tensors and numpy arrays become (nested) lists of Python floats/ints.

    A float32 value becomes the Python float (float64) that equals it exactly, so nothing
    is rounded on the way to JSON. Infinite values are refused (JSON has none): callers
    encode them as null themselves where they mean something.
    """
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu()
        if t.is_floating_point():
            t = t.double()
        return to_plain(t.tolist())
    if hasattr(obj, "tolist") and hasattr(obj, "dtype"):  # numpy
        return to_plain(obj.tolist())
    if isinstance(obj, dict):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise ValueError(f"non-finite float {obj} cannot go into JSON")
        return obj
    return obj


def write_json(path, obj, compact=False):
    """JSON with every float written as Python's repr (shortest text that round-trips);
    compact (no indentation) for the files that are mostly long number arrays."""
    if compact:
        text = json.dumps(to_plain(obj), separators=(",", ":"), allow_nan=False)
    else:
        text = json.dumps(to_plain(obj), indent=1, allow_nan=False)
    tmp = Path(str(path) + ".tmp")
    tmp.write_text(text + "\n")
    os.replace(tmp, path)


def save_tensors(path, tensors, metadata=None):
    """safetensors.torch.save_file with contiguous CPU copies (the file's order is by name)."""
    from safetensors.torch import save_file

    plain = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
    tmp = str(path) + ".tmp"
    save_file(plain, tmp, metadata=metadata)
    os.replace(tmp, path)


def grad_norm(params):
    """Global L2 norm of the gradients, accumulated in float64."""
    total = 0.0
    for p in params:
        if p.grad is not None:
            total += float((p.grad.double() ** 2).sum())
    return math.sqrt(total)


# Lengths (in tokens, before the input/target shift) of the sequences in the five tiny
# training batches shared by the chapter-3 and chapter-4 replays: varying lengths, one
# batch without padding, sequences of 2 tokens (input of length 1) and of 10 (input 9).
REPLAY_LENGTHS = [
    [10, 7, 4, 2],
    [6, 6, 6, 6],
    [3, 8, 5, 9],
    [10, 10, 2, 5],
    [4, 3, 7, 6],
]


def make_replay_batches(vocab_size, pad_id, seed):
    """The notebooks' batches: per sequence input = ids[:-1], target = ids[1:], then each
    side right-padded with pad_id to the longest in the batch (pad_sequence, batch_first).
    Token ids are drawn uniformly from [1, vocab_size) so no real token equals pad_id = 0."""
    assert pad_id == 0
    gen = torch.Generator().manual_seed(seed)
    batches = []
    for lengths in REPLAY_LENGTHS:
        inputs, targets = [], []
        for n in lengths:
            ids = torch.randint(1, vocab_size, (n,), generator=gen, dtype=torch.int64)
            inputs.append(ids[:-1])
            targets.append(ids[1:])
        pad = torch.nn.utils.rnn.pad_sequence
        batches.append(
            (
                pad(inputs, batch_first=True, padding_value=pad_id),
                pad(targets, batch_first=True, padding_value=pad_id),
            )
        )
    return batches


# torch.optim.AdamW as both notebooks create it (`AdamW(model.parameters(), lr=...)`, so
# PyTorch's defaults for everything but lr), with lr raised from the notebooks' 1e-3 to 1e-2
# so that 30 steps move the loss visibly.
ADAMW = {
    "lr": 1e-2,
    "betas": [0.9, 0.999],
    "eps": 1e-8,
    "weight_decay": 0.01,
    "amsgrad": False,
    "maximize": False,
}
ADAMW_UPDATE = (
    "PyTorch 2.x single-tensor AdamW (foreach=False), per parameter, step t = 1, 2, ...: "
    "p *= 1 - lr*weight_decay (decoupled decay, applied to every parameter including biases, "
    "norm scales and the embedding's padding row); m = m + (g - m)*(1 - beta1) (lerp); "
    "v = v*beta2 + (1 - beta2)*g*g; step_size = lr / (1 - beta1^t); "
    "denom = sqrt(v) / sqrt(1 - beta2^t) + eps; p -= step_size * m / denom. m, v start at 0."
)


def replay(model, batches, steps, loss_fn, lr_settings=ADAMW):
    """The notebooks' training step, `steps` times, cycling through `batches` in order.

    Returns the losses (forward value before each update), the global gradient norm at
    every step, the gradients of step 0 and the batch order."""
    opt = torch.optim.AdamW(
        model.parameters(),
        lr=lr_settings["lr"],
        betas=tuple(lr_settings["betas"]),
        eps=lr_settings["eps"],
        weight_decay=lr_settings["weight_decay"],
        amsgrad=lr_settings["amsgrad"],
        maximize=lr_settings["maximize"],
        foreach=False,
    )
    losses, norms, order = [], [], []
    grads0 = None
    model.train()
    for step in range(steps):
        index = step % len(batches)
        order.append(index)
        inp, tgt = batches[index]
        opt.zero_grad()
        loss = loss_fn(model, inp, tgt)
        loss.backward()
        losses.append(loss.item())
        norms.append(grad_norm(model.parameters()))
        if step == 0:
            grads0 = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
        opt.step()
    return losses, norms, grads0, order
