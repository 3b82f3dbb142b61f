#!/usr/bin/env python3
"""Chapter 5 (issue 17): a PEFT LoRA adapter on the tiny random GPT-2, and what it does.

LoraConfig(task_type=CAUSAL_LM, r=4, lora_alpha=8, target_modules=["c_attn"], lora_dropout=0,
fan_in_fan_out=True) on crates/ferrograd-lm/tests/data/tiny-random-gpt2/; PEFT initialises
lora_A (Kaiming-uniform, a = sqrt(5)) and lora_B (zeros) from a fixed seed, then lora_B is set
to seeded random values so that the adapter changes the output. Writes the adapter exactly as
PeftModel.save_pretrained writes it (adapter/adapter_model.safetensors and
adapter/adapter_config.json), the logits of one input with the adapter applied and after
merge_and_unload (float32, and float64 for the applied adapter), the merged c_attn weights,
and a check of PEFT's default initialisation.

Run: python3 scripts/reference/lora_reference.py   (writes crates/ferrograd-lm/tests/data/lora/)
"""

import json
import math
import shutil
import tempfile

import torch

import _common as C

SEED = 18
B_STD = 0.1


def load_base(dtype=torch.float32):
    from transformers import GPT2LMHeadModel

    model = GPT2LMHeadModel.from_pretrained(
        str(C.DATA_ROOT / "tiny-random-gpt2"), attn_implementation="eager", dtype=torch.float32
    )
    # The adapter config records the base model's name_or_path: the checkpoint's origin rather
    # than this machine's absolute path.
    model.name_or_path = "hf-internal-testing/tiny-random-gpt2"
    return model.eval().to(dtype)


def lora_config(**overrides):
    from peft import LoraConfig, TaskType

    settings = dict(
        task_type=TaskType.CAUSAL_LM,
        r=4,
        lora_alpha=8,
        target_modules=["c_attn"],
        lora_dropout=0.0,
        fan_in_fan_out=True,
    )
    settings.update(overrides)
    return LoraConfig(**settings)


def input_ids():
    """The `single` input of gpt2/ (12 random ids, none of them 0 or 98)."""
    from safetensors.torch import load_file

    path = C.DATA_ROOT / "gpt2" / "inputs.safetensors"
    if not path.exists():
        raise SystemExit("run gpt2_reference.py first: it writes gpt2/inputs.safetensors")
    return load_file(str(path))["single.input_ids"]


def default_init_check():
    """PEFT's default init on c_attn (in 32, out 96) of the tiny GPT-2, with PEFT's default
    LoraConfig values apart from the target."""
    from peft import LoraConfig, get_peft_model

    defaults = LoraConfig()
    torch.manual_seed(SEED + 1)
    model = get_peft_model(load_base(), LoraConfig(target_modules=["c_attn"]))
    a = [m.lora_A["default"].weight.detach() for m in lora_layers(model)]
    b = [m.lora_B["default"].weight.detach() for m in lora_layers(model)]
    fan_in = a[0].shape[1]
    bound = 1.0 / math.sqrt(fan_in)  # kaiming_uniform_(a=sqrt(5)): sqrt(2/6) * sqrt(3/fan_in)
    all_a = torch.cat([t.flatten() for t in a]).double()
    return {
        "lora_config_defaults": {
            "r": defaults.r,
            "lora_alpha": defaults.lora_alpha,
            "lora_dropout": defaults.lora_dropout,
            "init_lora_weights": defaults.init_lora_weights,
            "use_rslora": defaults.use_rslora,
            "bias": defaults.bias,
            "fan_in_fan_out": defaults.fan_in_fan_out,
        },
        "module": "transformer.h.*.attn.c_attn (Conv1D, in 32, out 96); PEFT turns "
        "fan_in_fan_out on by itself for Conv1D (with a warning)",
        "lora_A_shape": list(a[0].shape),
        "lora_B_shape": list(b[0].shape),
        "lora_A_init": "torch.nn.init.kaiming_uniform_(A, a=sqrt(5)): U(-bound, bound), "
        "bound = sqrt(2 / (1 + 5)) * sqrt(3 / fan_in) = 1 / sqrt(fan_in), fan_in = in_features",
        "fan_in": fan_in,
        "bound": bound,
        "lora_A_max_abs": all_a.abs().max().item(),
        "lora_A_mean": all_a.mean().item(),
        "lora_A_var": all_a.var().item(),
        "lora_A_var_expected": bound**2 / 3,
        "lora_A_count": all_a.numel(),
        "lora_B_all_zero": all(bool((t == 0).all()) for t in b),
        "scaling": model.base_model.model.transformer.h[0].attn.c_attn.scaling["default"],
    }


def lora_layers(model):
    from peft.tuners.lora import LoraLayer

    return [m for m in model.modules() if isinstance(m, LoraLayer)]


def main():
    from peft import get_peft_model

    C.setup()
    out = C.data_dir("lora")
    ids = input_ids()

    torch.manual_seed(SEED)
    model = get_peft_model(load_base(), lora_config())
    gen = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for layer in lora_layers(model):
            w = layer.lora_B["default"].weight
            w.copy_(torch.randn(w.shape, generator=gen) * B_STD)
    model.eval()

    adapter_dir = out / "adapter"
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp, save_embedding_layers=False)
        adapter_dir.mkdir(exist_ok=True)
        for name in ("adapter_model.safetensors", "adapter_config.json"):
            shutil.copyfile(f"{tmp}/{name}", adapter_dir / name)

    with torch.no_grad():
        with model.disable_adapter():
            base_logits = model(ids).logits.clone()
        # with the adapter disabled the model is the plain checkpoint of gpt2/
        from safetensors.torch import load_file

        gpt2_logits = load_file(str(C.DATA_ROOT / "gpt2" / "logits.safetensors"))["single"]
        assert torch.equal(base_logits, gpt2_logits)
        applied = model(ids).logits.clone()
        # float64 copy of the same adapted model, for tight comparisons
        model64 = get_peft_model(load_base(torch.float64), lora_config())
        sd = {k: v.double() for k, v in model.state_dict().items()}
        model64.load_state_dict(sd)
        model64.eval()
        applied64 = model64(ids).logits.clone()

        # merged weights, computed by PEFT and by hand: W + (B @ A)^T * alpha / r
        by_hand = {}
        for i, block in enumerate(model.base_model.model.transformer.h):
            layer = block.attn.c_attn
            a = layer.lora_A["default"].weight
            b = layer.lora_B["default"].weight
            scale = layer.scaling["default"]
            by_hand[i] = layer.base_layer.weight + (b @ a).T * scale
        merged_model = model.merge_and_unload()
        merged = merged_model(ids).logits.clone()
        merged_weights = {}
        for i, block in enumerate(merged_model.transformer.h):
            w = block.attn.c_attn.weight.detach()
            assert torch.allclose(w, by_hand[i], rtol=0, atol=1e-6), i
            merged_weights[f"transformer.h.{i}.attn.c_attn.weight"] = w

    C.save_tensors(
        out / "logits.safetensors",
        {"input_ids": ids, "logits": applied, "merged": merged},
    )
    C.save_tensors(out / "logits_f64.safetensors", {"input_ids": ids, "logits": applied64})
    C.save_tensors(out / "merged_c_attn.safetensors", merged_weights)

    diff_merge = (applied - merged).abs().max().item()
    diff_base = (applied - base_logits).abs().max().item()
    diff_64 = (applied.double() - applied64).abs().max().item()
    print(f"adapter vs merged {diff_merge:.3g}, vs base {diff_base:.3g}, f32 vs f64 {diff_64:.3g}")
    assert diff_base > 1e-2, "the adapter should change the logits visibly"

    from safetensors import safe_open

    with safe_open(str(adapter_dir / "adapter_model.safetensors"), "pt") as f:
        adapter_keys = {k: list(f.get_slice(k).get_shape()) for k in sorted(f.keys())}
        adapter_meta = f.metadata()
    C.write_json(
        out / "expected.json",
        {
            "versions": C.versions(),
            "lora_config": "LoraConfig(task_type=CAUSAL_LM, r=4, lora_alpha=8, "
            "target_modules=['c_attn'], lora_dropout=0.0, fan_in_fan_out=True)",
            "scaling": 8 / 4,
            "seeds": {
                "lora_A": "torch.manual_seed(%d) before get_peft_model (PEFT's init)" % SEED,
                "lora_B": "randn(shape, generator=torch.Generator().manual_seed(%d)) * %g, "
                "layer 0 first" % (SEED, B_STD),
            },
            "adapter_keys": adapter_keys,
            "adapter_metadata": adapter_meta,
            "adapter_config": json.loads((adapter_dir / "adapter_config.json").read_text()),
            "max_abs_diff": {
                "adapter_vs_merged_float32": diff_merge,
                "adapter_vs_base_float32": diff_base,
                "adapter_float32_vs_float64": diff_64,
            },
            "default_init": default_init_check(),
        },
    )


if __name__ == "__main__":
    main()
