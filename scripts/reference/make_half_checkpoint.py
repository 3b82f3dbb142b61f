"""Writes a small checkpoint in bfloat16 and float16 with PyTorch + safetensors, and the
exact float32 values those half-precision numbers stand for, for
crates/ferrograd-nn/tests/checkpoint_mapping.rs (reading bf16/f16 checkpoints).

Run: python3 scripts/reference/make_half_checkpoint.py
Writes: crates/ferrograd-nn/tests/data/half.safetensors and half.json
"""
import json
import pathlib

import torch
from safetensors.torch import save_file

out = pathlib.Path(__file__).resolve().parents[2] / "crates/ferrograd-nn/tests/data"
out.mkdir(parents=True, exist_ok=True)
torch.manual_seed(0)
linear = torch.nn.Linear(3, 2)
# Values chosen to exercise rounding, a subnormal, a negative zero and large magnitudes.
with torch.no_grad():
    linear.weight.copy_(torch.tensor([[0.1, -2.5, 1e-6], [3.14159, -0.0, 65504.0]]))
    linear.bias.copy_(torch.tensor([1.0 / 3.0, -7.75]))
tensors = {
    # A model saved in bfloat16 (as many HF checkpoints are) ...
    "bf16.weight": linear.weight.detach().to(torch.bfloat16).contiguous(),
    "bf16.bias": linear.bias.detach().to(torch.bfloat16).contiguous(),
    # ... and in float16.
    "f16.weight": linear.weight.detach().to(torch.float16).contiguous(),
    "f16.bias": linear.bias.detach().to(torch.float16).contiguous(),
}
save_file(tensors, str(out / "half.safetensors"))
# The exact values, widened by PyTorch (every half value is exact in float32).
expected = {name: t.to(torch.float32).flatten().tolist() for name, t in tensors.items()}
expected["_made_by"] = f"torch {torch.__version__}, scripts/reference/make_half_checkpoint.py"
(out / "half.json").write_text(json.dumps(expected, indent=1) + "\n")
print("wrote", out / "half.safetensors")
