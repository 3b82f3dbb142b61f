#!/usr/bin/env python3
"""Does PEFT load an adapter directory written by ferrograd, and give the same logits?

    python3 scripts/reference/check_peft_loads_ours.py ADAPTER_DIR [--reference FILE]
        [--base DIR] [--atol 1e-5] [--rtol 0]

ADAPTER_DIR holds `adapter_model.safetensors` + `adapter_config.json` (PEFT's layout) for the
tiny random GPT-2. The script loads the base model (default: the project's copy,
crates/ferrograd-lm/tests/data/tiny-random-gpt2/) with transformers (eager attention, eval),
applies the adapter with `PeftModel.from_pretrained`, checks that every tensor in the file was
used and every LoRA tensor of the model was in the file, runs the reference input and compares
the logits.

The reference is a safetensors file with `input_ids` (int64 [B, T]), `logits` ([B, T, V],
float32 or float64: the model runs in that dtype) and optionally `attention_mask` (int64
[B, T]; positions with 0 are not compared). Default: ADAPTER_DIR/reference_logits.safetensors
if it exists, else crates/ferrograd-lm/tests/data/lora/logits.safetensors (the logits of the
PEFT-made adapter in lora/adapter/, right for an adapter that ferrograd loaded and saved back).

Exit status: 0 when max |ours − PEFT| ≤ atol + rtol·|PEFT| everywhere compared, 1 on a
mismatch (logits or tensor names/shapes), 2 when something cannot be loaded.
"""

import argparse
import sys
from pathlib import Path

import torch

import _common as C


def fail(code, message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(code)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("adapter_dir", type=Path)
    parser.add_argument("--reference", type=Path, default=None)
    parser.add_argument("--base", type=Path, default=C.DATA_ROOT / "tiny-random-gpt2")
    parser.add_argument("--atol", type=float, default=1e-5)
    parser.add_argument("--rtol", type=float, default=0.0)
    args = parser.parse_args()

    C.setup()
    from peft import PeftModel
    from peft.utils import get_peft_model_state_dict
    from safetensors.torch import load_file
    from transformers import GPT2LMHeadModel

    adapter_file = args.adapter_dir / "adapter_model.safetensors"
    for path in (adapter_file, args.adapter_dir / "adapter_config.json"):
        if not path.is_file():
            fail(2, f"{path} is missing")
    reference = args.reference
    if reference is None:
        own = args.adapter_dir / "reference_logits.safetensors"
        reference = own if own.is_file() else C.DATA_ROOT / "lora" / "logits.safetensors"
    try:
        ref = load_file(str(reference))
        saved = load_file(str(adapter_file))
    except Exception as exc:  # corrupt or unreadable file
        fail(2, f"cannot read safetensors: {exc}")
    for key in ("input_ids", "logits"):
        if key not in ref:
            fail(2, f"{reference} has no `{key}` tensor (keys: {sorted(ref)})")
    dtype = ref["logits"].dtype
    if dtype not in (torch.float32, torch.float64):
        fail(2, f"reference logits are {dtype}; float32 or float64 expected")

    try:
        base = GPT2LMHeadModel.from_pretrained(
            str(args.base), attn_implementation="eager", dtype=torch.float32
        )
        model = PeftModel.from_pretrained(base.to(dtype), str(args.adapter_dir))
    except Exception as exc:
        fail(2, f"PEFT could not load {args.adapter_dir}: {type(exc).__name__}: {exc}")
    model.eval()

    # Every tensor of the file must be one PEFT expects, with the same shape, and vice versa.
    expected = get_peft_model_state_dict(model, save_embedding_layers=False)
    problems = []
    for key in sorted(set(saved) - set(expected)):
        problems.append(f"unexpected tensor {key} {list(saved[key].shape)}")
    for key in sorted(set(expected) - set(saved)):
        problems.append(f"missing tensor {key} {list(expected[key].shape)}")
    for key in sorted(set(saved) & set(expected)):
        if saved[key].shape != expected[key].shape:
            shapes = f"file {list(saved[key].shape)}, PEFT {list(expected[key].shape)}"
            problems.append(f"{key}: {shapes}")
        elif not torch.equal(saved[key].to(dtype), expected[key].to(dtype)):
            problems.append(f"{key}: PEFT holds different values after loading")
    if problems:
        fail(1, "adapter tensors do not match what PEFT expects:\n  " + "\n  ".join(problems))

    ids = ref["input_ids"].long()
    mask = ref.get("attention_mask")
    with torch.no_grad():
        if mask is None:
            logits = model(input_ids=ids).logits
            compare = torch.ones(ids.shape, dtype=torch.bool)
        else:
            mask = mask.long()
            position_ids = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 0)
            logits = model(input_ids=ids, attention_mask=mask, position_ids=position_ids).logits
            compare = mask.bool()
    if logits.shape != ref["logits"].shape:
        fail(1, f"logits shape: PEFT {list(logits.shape)}, reference {list(ref['logits'].shape)}")
    diff = (logits - ref["logits"]).abs()[compare]
    allowed = args.atol + args.rtol * ref["logits"].abs()[compare]
    worst = diff.max().item()
    print(f"adapter {args.adapter_dir}")
    print(f"reference {reference} ({dtype}, input {list(ids.shape)})")
    print(f"max |PEFT - reference| = {worst:.3e} (atol {args.atol:g}, rtol {args.rtol:g})")
    if bool((diff > allowed).any()):
        fail(1, f"{int((diff > allowed).sum())} logits outside the tolerance")
    print("OK")


if __name__ == "__main__":
    main()
