#!/usr/bin/env python3
"""A PEFT LoRA adapter with modules_to_save=["ln_f"] on the tiny random GPT-2 (fix-gpt2).

PEFT names modules_to_save entries by suffix: ["ln_f"] wraps `transformer.ln_f` and saves its
weights as `base_model.model.transformer.ln_f.{weight,bias}`. This writes such an adapter
(LoRA r=4, alpha=8 on c_attn, lora_B and ln_f set to seeded random values so both change the
output) and the logits PEFT gives with it, so the Rust loader can be checked against it.

Run: python3 scripts/reference/lora_modules_to_save.py
(writes crates/ferrograd-lm/tests/data/lora_modules_to_save/)
"""

import json
import shutil
import tempfile

import torch

import _common as C

SEED = 21


def main():
    C.setup()
    from peft import LoraConfig, TaskType, get_peft_model
    from safetensors.torch import save_file
    from transformers import GPT2LMHeadModel

    out = C.data_dir("lora_modules_to_save")
    base = GPT2LMHeadModel.from_pretrained(
        str(C.DATA_ROOT / "tiny-random-gpt2"), attn_implementation="eager", dtype=torch.float32
    )
    base.name_or_path = "hf-internal-testing/tiny-random-gpt2"
    base.eval()
    torch.manual_seed(SEED)
    config = LoraConfig(
        task_type=TaskType.CAUSAL_LM,
        r=4,
        lora_alpha=8,
        target_modules=["c_attn"],
        lora_dropout=0.0,
        fan_in_fan_out=True,
        modules_to_save=["ln_f"],
    )
    model = get_peft_model(base, config)
    g = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
            elif "ln_f.modules_to_save" in name:
                p.copy_(p + torch.randn(p.shape, generator=g) * 0.5)
    model.eval()
    ids = torch.tensor([[5, 17, 300, 42, 999, 7, 128, 64]], dtype=torch.long)
    with torch.no_grad():
        logits = model(input_ids=ids).logits
    tmp = tempfile.mkdtemp()
    model.save_pretrained(tmp, save_embedding_layers=False)
    adapter = out / "adapter"
    adapter.mkdir(exist_ok=True)
    for f in ("adapter_model.safetensors", "adapter_config.json"):
        shutil.copy(f"{tmp}/{f}", adapter / f)
    shutil.rmtree(tmp)
    save_file({"input_ids": ids, "logits": logits.contiguous()}, str(out / "logits.safetensors"))

    # Reloading through PEFT gives the same logits (the file is what PEFT reads back).
    from peft import PeftModel

    base2 = GPT2LMHeadModel.from_pretrained(
        str(C.DATA_ROOT / "tiny-random-gpt2"), attn_implementation="eager", dtype=torch.float32
    ).eval()
    again = PeftModel.from_pretrained(base2, str(adapter)).eval()
    with torch.no_grad():
        diff = (again(input_ids=ids).logits - logits).abs().max().item()
    assert diff == 0.0, diff
    from safetensors import safe_open

    with safe_open(str(adapter / "adapter_model.safetensors"), "pt") as f:
        names = sorted(f.keys())
    print(json.dumps({"tensors": names, "versions": C.versions()}, indent=1))


if __name__ == "__main__":
    main()
