#!/usr/bin/env python3
"""Chapter 5 (issue 17): transformers' GPT2LMHeadModel on the tiny random GPT-2 checkpoint.

Loads crates/ferrograd-lm/tests/data/tiny-random-gpt2/ (a copy of Hugging Face's
hf-internal-testing/tiny-random-gpt2; Apache-2.0) with eager attention, eval mode, and writes
for three inputs (unpadded [1, 12]; 3 rows right-padded with an attention mask; 3 rows
left-padded with an attention mask and the position ids generate() computes): logits at every
position, the loss with labels (-100 on padding), 12 greedy new tokens with and without the
KV cache, and (unpadded input) the hidden state after the embeddings, after every block and
after the final LayerNorm; all in float32 and again after `.double()` in float64. Also the
parameter count of GPT-2 124M built from GPT2Config() with random weights (nothing is
downloaded) and PEFT's trainable counts for LoRA (r = 16 on c_attn; and r = 8 on a
1024 x 1024 Linear).

Run: python3 scripts/reference/gpt2_reference.py   (writes crates/ferrograd-lm/tests/data/gpt2/)
"""

import torch

import _common as C

PAD = 98  # the checkpoint's pad = bos = eos id (config.json, generation_config.json)
VOCAB = 1000
LENGTHS = [12, 9, 5]
SEED = 17
NEW_TOKENS = 12


def load(dtype):
    from transformers import GPT2LMHeadModel

    model = GPT2LMHeadModel.from_pretrained(
        str(C.DATA_ROOT / "tiny-random-gpt2"), attn_implementation="eager", dtype=torch.float32
    )
    model.eval()
    return model.to(dtype)


def make_inputs():
    gen = torch.Generator().manual_seed(SEED)

    def ids(n):
        out = torch.randint(0, VOCAB - 1, (n,), generator=gen, dtype=torch.int64)
        # keep real tokens away from the pad/eos id 98 and from id 0 (the tokenizer's
        # <|endoftext|>): shift by one past them
        out = out + (out >= PAD).long()
        return torch.where(out == 0, torch.tensor(1), out)

    single = ids(12)[None, :]
    time = max(LENGTHS)
    rows = [ids(n) for n in LENGTHS]
    right = torch.full((3, time), PAD, dtype=torch.int64)
    left = torch.full((3, time), PAD, dtype=torch.int64)
    right_mask = torch.zeros(3, time, dtype=torch.int64)
    left_mask = torch.zeros(3, time, dtype=torch.int64)
    for b, row in enumerate(rows):
        n = len(row)
        right[b, :n] = row
        right_mask[b, :n] = 1
        left[b, time - n :] = row
        left_mask[b, time - n :] = 1
    # position ids as GenerationMixin._prepare_position_ids_for_generation (transformers 5.25)
    left_pos = (left_mask.cumsum(-1) - 1).masked_fill(left_mask == 0, 0)
    cases = {
        "single": {"input_ids": single, "attention_mask": torch.ones_like(single)},
        "right_padded": {"input_ids": right, "attention_mask": right_mask},
        "left_padded": {"input_ids": left, "attention_mask": left_mask, "position_ids": left_pos},
    }
    for case in cases.values():
        case["labels"] = case["input_ids"].masked_fill(case["attention_mask"] == 0, -100)
    return cases


def shifted_cross_entropy(logits, labels):
    """Mean cross-entropy of logits[:, :-1] against labels[:, 1:], ignoring -100, computed in
    the logits' own dtype."""
    vocab = logits.shape[-1]
    return torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, vocab), labels[:, 1:].reshape(-1), ignore_index=-100
    )


def top2_margin(scores):
    """Smallest gap, over the batch, between the best and second-best logit of one step."""
    top = torch.topk(scores.double(), 2, dim=-1).values
    return (top[:, 0] - top[:, 1]).min().item()


def run(model, cases):
    logits, losses, generated = {}, {}, {}
    with torch.no_grad():
        for name, case in cases.items():
            out = model(**case)
            logits[name] = out.logits
            own = shifted_cross_entropy(out.logits, case["labels"]).item()
            # transformers' ForCausalLMLoss upcasts/downcasts logits to float32 first, so
            # its loss is a float32 number even for a float64 model
            assert abs(own - out.loss.item()) <= 1e-6 * abs(own), (own, out.loss.item())
            losses[name] = {"transformers": out.loss.item(), "in_model_dtype": own}
    # Greedy generation: the unpadded and the left-padded inputs (right padding is not how a
    # decoder-only model is prompted in a batch; transformers warns about it).
    for name in ("single", "left_padded"):
        case = cases[name]
        generated[name] = {}
        for use_cache in (True, False):
            out = model.generate(
                input_ids=case["input_ids"],
                attention_mask=case["attention_mask"],
                do_sample=False,
                max_new_tokens=NEW_TOKENS,
                pad_token_id=PAD,
                eos_token_id=PAD,
                use_cache=use_cache,
                return_dict_in_generate=True,
                output_logits=True,
            )
            margins = [top2_margin(scores) for scores in out.logits]
            out = out.sequences
            new = out[:, case["input_ids"].shape[1] :]
            assert new.shape[1] == NEW_TOKENS and not (new == PAD).any(), "eos reached"
            generated[name]["cached" if use_cache else "uncached"] = out
            if use_cache:
                generated[name]["min_top2_margin"] = min(margins)
    return logits, losses, generated


def hidden_states(model, input_ids):
    blocks = []

    def keep(_module, _inputs, output):
        blocks.append(output[0] if isinstance(output, tuple) else output)

    hooks = [b.register_forward_hook(keep) for b in model.transformer.h]
    with torch.no_grad():
        out = model.transformer(input_ids)
    for h in hooks:
        h.remove()
    tr = model.transformer
    pos = torch.arange(input_ids.shape[1])[None, :]
    result = {"embeddings": tr.wte(input_ids) + tr.wpe(pos)}
    for i, b in enumerate(blocks):
        result[f"block.{i}"] = b
    result["last_hidden_state"] = out.last_hidden_state
    assert torch.equal(tr.ln_f(blocks[-1]), out.last_hidden_state)
    return {k: v.detach() for k, v in result.items()}


def param_counts():
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    config = GPT2Config()
    model = GPT2LMHeadModel(config)
    total = sum(p.numel() for p in model.parameters())
    names = {n for n, _ in model.named_parameters()}
    state = model.state_dict()
    # The book's LoRA notebook: LoraConfig(task_type=CAUSAL_LM, r=16, lora_alpha=32); PEFT's
    # default target modules for gpt2 are ["c_attn"].
    peft_model = get_peft_model(
        model, LoraConfig(task_type=TaskType.CAUSAL_LM, inference_mode=False, r=16, lora_alpha=32)
    )
    trainable, all_params = peft_model.get_nb_trainable_parameters()
    targets = sorted(peft_model.peft_config["default"].target_modules)

    class One(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = torch.nn.Linear(1024, 1024, bias=False)

        def forward(self, x):
            return self.proj(x)

    small = get_peft_model(One(), LoraConfig(target_modules=["proj"]))  # PEFT defaults: r=8
    small_trainable, small_all = small.get_nb_trainable_parameters()
    return {
        "gpt2_124m": {
            "config": "GPT2Config() defaults: vocab 50257, n_positions 1024, n_embd 768, "
            "n_layer 12, n_head 12, n_inner 4*768",
            "parameters": total,
            "counting": "sum of numel over model.parameters(): lm_head.weight is tied to "
            "transformer.wte.weight and counted once; the causal-mask buffers are not "
            "parameters",
            "parameters_listed": len(names),
            "state_dict_keys": len(state),
        },
        "lora_gpt2_124m": {
            "config": "LoraConfig(task_type=CAUSAL_LM, r=16, lora_alpha=32), PEFT's default "
            "target modules for gpt2",
            "target_modules": targets,
            "trainable": trainable,
            "all": all_params,
            "counting": "PeftModel.get_nb_trainable_parameters(): all = base parameters "
            "(tied counted once) + LoRA parameters; per c_attn r*(768 + 2304), 12 layers",
        },
        "lora_linear_1024": {
            "config": "LoraConfig(target_modules=['proj']) defaults (r=8, lora_alpha=8) on "
            "Linear(1024, 1024, bias=False)",
            "trainable": small_trainable,
            "all": small_all,
        },
    }


def main():
    C.setup()
    out = C.data_dir("gpt2")
    cases = make_inputs()

    tensors = {}
    for name, case in cases.items():
        for key, value in case.items():
            tensors[f"{name}.{key}"] = value
    C.save_tensors(out / "inputs.safetensors", tensors)

    expected = {"pad_token_id": PAD, "versions": C.versions()}
    for dtype, suffix in ((torch.float32, ""), (torch.float64, "_f64")):
        model = load(dtype)
        logits, losses, generated = run(model, cases)
        if dtype == torch.float64:  # keeps the folder small; padding is checked in float32
            logits = {"single": logits["single"]}
        C.save_tensors(out / f"logits{suffix}.safetensors", logits)
        hidden = hidden_states(model, cases["single"]["input_ids"])
        C.save_tensors(out / f"hidden{suffix}.safetensors", hidden)
        gen = {}
        for name, variants in generated.items():
            assert torch.equal(variants["cached"], variants["uncached"]), name
            gen[name] = dict(variants)
        expected[str(dtype).replace("torch.", "")] = {"loss": losses, "generate": gen}
        print(dtype, losses)
    for name in ("single", "left_padded"):
        f32 = expected["float32"]["generate"][name]["cached"]
        f64 = expected["float64"]["generate"][name]["cached"]
        assert torch.equal(f32, f64), "float32 and float64 greedy tokens differ"

    expected["generate_settings"] = (
        "model.generate(input_ids, attention_mask, do_sample=False, max_new_tokens=12, "
        "pad_token_id=98, eos_token_id=98, use_cache=True|False); the outputs are the whole "
        "sequences [B, T + 12] (prompt included); 98 is never generated, so no row stops early; "
        "min_top2_margin is the smallest gap between the best and second-best logit over "
        "the 12 steps and the batch (how far greedy decoding is from a tie)"
    )
    expected["loss_settings"] = (
        "model(input_ids, attention_mask[, position_ids], labels) with labels = input_ids and "
        "-100 where attention_mask == 0; transformers shifts inside: mean cross-entropy of "
        "logits[:, :-1] against labels[:, 1:] over all non -100 labels of the batch"
    )
    C.write_json(out / "expected.json", expected)
    C.write_json(out / "param_count.json", param_counts())


if __name__ == "__main__":
    main()
