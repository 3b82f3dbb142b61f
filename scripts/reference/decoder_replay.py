#!/usr/bin/env python3
"""Chapter 4 (issue 16): PyTorch replay of the book's decoder-only Transformer, plus RoPE and
attention reference values.

The model follows the `news_decoder_language_model` notebook (re-written here with the
notebook's module and parameter names, so the state_dict keys are the notebook's):
Embedding(V, d, padding_idx) -> pre-norm blocks [x + MHA(RMSNorm(x)), x + MLP(RMSNorm(x))]
-> x @ output (d x V, no bias, no final norm). Attention: per-head W_Q/W_K/W_V [d, d_h],
RoPE (interleaved pairs, positions 0..T-1, per head) on Q and K, scores / sqrt(d_h), causal
mask only (no padding mask), softmax, heads concatenated, @ W_O [d, d]. RMSNorm:
x / sqrt(mean(x^2) + 1e-8) * scale. MLP: relu(x @ W_1 + B_1) @ W_2 + B_2 (4d hidden).
Init (the notebook's initialize_weights, module by module): embedding N(0, 0.02) with the pad
row zeroed, Xavier-uniform for W_Q/W_K/W_V/W_O/W_1/W_2/output, B_1 = B_2 = 0, scales 1.
Loss: logits and targets flattened, mask = target != pad, CrossEntropyLoss on the masked rows
(mean over non-pad targets). AdamW with PyTorch's defaults except lr (1e-2 here).

Tiny configuration: V = 50, d = 16, 4 heads (d_h = 4), 2 blocks, pad id 0, the same 5 batches
of 4 as the RNN replay (inputs of length <= 9), 30 steps, float32 and float64 (float64 starts
from the float32 initial weights converted exactly; in float64 the RoPE angles are computed
in float64, while the notebook, and the float32 run, compute them in float32).

Also writes rope.json (the book's example and random cases, interleaved and half-split),
attention.json (the book's causal-softmax example and random multi-head attention cases with
gradients, float64) and param_count.json (256 V + 395,008 for d = 128, 8 heads, 2 blocks).

Run: python3 scripts/reference/decoder_replay.py
(writes crates/ferrograd-lm/tests/data/decoder_replay/)
"""

import math

import torch
from torch import nn

import _common as C

VOCAB = 50
EMB = 16
HEADS = 4
BLOCKS = 2
PAD = 0
STEPS = 30
INIT_SEED = 4321
DATA_SEED = 16
THETA_BASE = 10000.0
RMS_EPS = 1e-8


# ----- RoPE ---------------------------------------------------------------------------------


def rope_interleaved(x, positions=None, theta_base=THETA_BASE, angle_dtype=None):
    """The book's RoPE on x [..., T, d]: pairs (x[2i], x[2i+1]) rotated by pos * theta_i with
    theta_i = theta_base^(-2i/d), i = 0..d/2-1 (the notebook's p = i + 1). The notebook uses
    positions 0..T-1 and computes the angles in float32 whatever x's dtype is; angle_dtype
    None means x's dtype here."""
    *_, time, dim = x.shape
    assert dim % 2 == 0
    adt = angle_dtype or x.dtype
    if positions is None:
        positions = torch.arange(0, time, dtype=adt)
    pos = torch.as_tensor(positions, dtype=adt).unsqueeze(-1)  # [T, 1]
    p = torch.arange(1, dim // 2 + 1, dtype=adt)
    theta_p = 1.0 / (theta_base ** (2 * (p - 1) / dim))
    angle = pos * theta_p  # [T, d/2]
    sin, cos = torch.sin(angle), torch.cos(angle)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    r1 = x1 * cos - x2 * sin
    r2 = x1 * sin + x2 * cos
    return torch.stack((r1, r2), dim=-1).reshape(x.shape)


def rope_half_split(x, positions, theta_base=THETA_BASE):
    """Llama / Hugging Face convention: pairs (x[i], x[i + d/2]), frequencies
    theta_base^(-2i/d), out = x * cos + rotate_half(x) * sin with cos/sin repeated over the
    two halves and rotate_half(x) = cat(-x[d/2:], x[:d/2]). Angles in x's dtype."""
    dim = x.shape[-1]
    inv_freq = 1.0 / (theta_base ** (torch.arange(0, dim, 2, dtype=x.dtype) / dim))
    pos = torch.as_tensor(positions, dtype=x.dtype)
    freqs = pos[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    # HF's function takes q and k with a head axis ([B, H, T, d]) and cos/sin [B, T, d].
    q = x.reshape(1, 1, *x.shape[-2:])
    out, _ = apply_rotary_pos_emb(q, q, cos[None], sin[None])
    return out.reshape(x.shape)


# ----- the notebook's model -----------------------------------------------------------------


class RMSNorm(nn.Module):
    def __init__(self, emb_dim, epsilon=RMS_EPS):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(emb_dim))
        self.epsilon = epsilon

    def forward(self, x):
        rms = torch.sqrt(torch.mean(x**2, dim=-1, keepdim=True) + self.epsilon)
        return x / rms * self.scale


class AttentionHead(nn.Module):
    def __init__(self, emb_dim, d_h):
        super().__init__()
        self.W_Q = nn.Parameter(torch.rand(emb_dim, d_h))
        self.W_K = nn.Parameter(torch.rand(emb_dim, d_h))
        self.W_V = nn.Parameter(torch.rand(emb_dim, d_h))
        self.d_h = d_h
        self.angle_dtype = torch.float32  # the notebook's; the float64 run switches it

    def forward(self, x, mask):
        q = rope_interleaved(x @ self.W_Q, angle_dtype=self.angle_dtype)
        k = rope_interleaved(x @ self.W_K, angle_dtype=self.angle_dtype)
        v = x @ self.W_V
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.d_h)
        weights = torch.softmax(scores.masked_fill(mask == 0, float("-inf")), dim=-1)
        return weights @ v


class MultiHeadAttention(nn.Module):
    def __init__(self, emb_dim, num_heads):
        super().__init__()
        d_h = emb_dim // num_heads
        self.heads = nn.ModuleList([AttentionHead(emb_dim, d_h) for _ in range(num_heads)])
        self.W_O = nn.Parameter(torch.rand(emb_dim, emb_dim))

    def forward(self, x, mask):
        return torch.cat([head(x, mask) for head in self.heads], dim=-1) @ self.W_O


class MLP(nn.Module):
    def __init__(self, emb_dim):
        super().__init__()
        self.W_1 = nn.Parameter(torch.rand(emb_dim, emb_dim * 4))
        self.B_1 = nn.Parameter(torch.rand(emb_dim * 4))
        self.W_2 = nn.Parameter(torch.rand(emb_dim * 4, emb_dim))
        self.B_2 = nn.Parameter(torch.rand(emb_dim))

    def forward(self, x):
        return torch.relu(x @ self.W_1 + self.B_1) @ self.W_2 + self.B_2


class DecoderBlock(nn.Module):
    def __init__(self, emb_dim, num_heads):
        super().__init__()
        self.norm1 = RMSNorm(emb_dim)
        self.attn = MultiHeadAttention(emb_dim, num_heads)
        self.norm2 = RMSNorm(emb_dim)
        self.mlp = MLP(emb_dim)

    def forward(self, x, mask):
        x = x + self.attn(self.norm1(x), mask)
        return x + self.mlp(self.norm2(x))


class DecoderLanguageModel(nn.Module):
    def __init__(self, vocab_size, emb_dim, num_heads, num_blocks, pad_idx):
        super().__init__()
        self.vocab_size = vocab_size
        self.pad_idx = pad_idx
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_idx)
        self.layers = nn.ModuleList([DecoderBlock(emb_dim, num_heads) for _ in range(num_blocks)])
        self.output = nn.Parameter(torch.rand(emb_dim, vocab_size))

    def forward(self, x):
        x = self.embedding(x)
        time = x.shape[1]
        mask = torch.tril(torch.ones(time, time, dtype=x.dtype))
        for layer in self.layers:
            x = layer(x, mask)
        return x @ self.output

    def set_angle_dtype(self, dtype):
        for module in self.modules():
            if isinstance(module, AttentionHead):
                module.angle_dtype = dtype


def initialize_weights(model):
    """The notebook's initialize_weights: visits model.modules() in order."""
    for module in model.modules():
        if isinstance(module, nn.Linear):  # none in this model; kept for fidelity
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0, std=0.02)
            if module.padding_idx is not None:
                with torch.no_grad():
                    module.weight[module.padding_idx].fill_(0)
        elif isinstance(module, AttentionHead):
            nn.init.xavier_uniform_(module.W_Q)
            nn.init.xavier_uniform_(module.W_K)
            nn.init.xavier_uniform_(module.W_V)
        elif isinstance(module, MultiHeadAttention):
            nn.init.xavier_uniform_(module.W_O)
        elif isinstance(module, DecoderLanguageModel):
            nn.init.xavier_uniform_(module.output)
        elif isinstance(module, RMSNorm):
            nn.init.ones_(module.scale)
        elif isinstance(module, MLP):
            nn.init.xavier_uniform_(module.W_1)
            nn.init.xavier_uniform_(module.W_2)
            nn.init.zeros_(module.B_1)
            nn.init.zeros_(module.B_2)


def loss_fn(model, inp, tgt):
    """The notebook's training loss: flatten, keep rows whose target is not pad,
    CrossEntropyLoss (mean) on them."""
    logits = model(inp)
    logits = logits.reshape(-1, logits.size(-1))
    target = tgt.reshape(-1)
    mask = target != model.pad_idx
    return nn.CrossEntropyLoss(ignore_index=model.pad_idx)(logits[mask], target[mask])


def param_count(vocab_size, emb_dim=128, num_heads=8, num_blocks=2):
    model = DecoderLanguageModel(vocab_size, emb_dim, num_heads, num_blocks, 0)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# ----- the replay ----------------------------------------------------------------------------


def write_replay(out):
    torch.manual_seed(INIT_SEED)
    model = DecoderLanguageModel(VOCAB, EMB, HEADS, BLOCKS, PAD)
    initialize_weights(model)
    init = {k: v.clone() for k, v in model.state_dict().items()}
    batches = C.make_replay_batches(VOCAB, PAD, DATA_SEED)
    batch_tensors = {}
    for i, (inp, tgt) in enumerate(batches):
        batch_tensors[f"input.{i}"] = inp
        batch_tensors[f"target.{i}"] = tgt
    C.save_tensors(out / "batches.safetensors", batch_tensors)

    order = None
    for dtype, suffix in ((torch.float32, ""), (torch.float64, "_f64")):
        model = DecoderLanguageModel(VOCAB, EMB, HEADS, BLOCKS, PAD).to(dtype)
        model.set_angle_dtype(dtype)
        model.load_state_dict({k: v.to(dtype) for k, v in init.items()})
        C.save_tensors(out / f"init{suffix}.safetensors", model.state_dict())
        with torch.no_grad():
            logits0 = {"logits": model(batches[0][0])}  # forward only, batch 0
        C.save_tensors(out / f"logits0{suffix}.safetensors", logits0)
        losses, norms, grads0, order = C.replay(model, batches, STEPS, loss_fn)
        C.save_tensors(out / f"grads0{suffix}.safetensors", grads0)
        C.save_tensors(out / f"final{suffix}.safetensors", model.state_dict())
        with torch.no_grad():
            inp, tgt = batches[STEPS % len(batches)]
            loss_after = loss_fn(model, inp, tgt).item()
        C.write_json(
            out / f"expected{suffix}.json",
            {
                "dtype": str(dtype).replace("torch.", ""),
                "losses": losses,
                "grad_norm_step0": norms[0],
                "grad_norms": norms,
                "loss_after_training": {"batch": STEPS % len(batches), "loss": loss_after},
            },
        )
        print(f"{dtype}: loss {losses[0]:.6f} -> {losses[-1]:.6f}, after {loss_after:.6f}")

    C.write_json(
        out / "config.json",
        {
            "model": "DecoderLanguageModel (news_decoder_language_model notebook)",
            "vocab_size": VOCAB,
            "emb_dim": EMB,
            "num_heads": HEADS,
            "head_dim": EMB // HEADS,
            "num_blocks": BLOCKS,
            "mlp_hidden": 4 * EMB,
            "pad_idx": PAD,
            "rmsnorm_eps": RMS_EPS,
            "rope": {
                "variant": "interleaved pairs (x[2i], x[2i+1]), per head, on Q and K",
                "theta_base": THETA_BASE,
                "theta_i": "theta_base^(-2i/d_h), i = 0..d_h/2-1",
                "positions": "0..T-1 for every sequence (no offset for padding)",
                "angle_dtype": "float32 in the float32 run (as the notebook); float64 in "
                "the float64 run",
            },
            "attention_mask": "causal only (torch.tril), masked_fill(-inf); no padding mask "
            "(batches are right-padded, so real positions never see pads)",
            "parameters": {k: list(v.shape) for k, v in init.items()},
            "init": "embedding N(0, 0.02) with the pad row zeroed; xavier_uniform_ (gain 1) "
            "for W_Q, W_K, W_V, W_O, W_1, W_2, output; B_1 = B_2 = 0; RMSNorm scale = 1; "
            "torch.manual_seed(%d), notebook's initialize_weights order" % INIT_SEED,
            "loss": "mask = target != pad_idx over the flattened batch; "
            "CrossEntropyLoss(logits[mask], target[mask]) (mean over non-pad targets)",
            "optimizer": dict(C.ADAMW, name="AdamW", update=C.ADAMW_UPDATE),
            "steps": STEPS,
            "batch_size": 4,
            "num_batches": len(batches),
            "sequence_lengths_before_shift": C.REPLAY_LENGTHS,
            "batch_order": order,
            "loss_convention": "losses[s] is the loss of batch batch_order[s] computed by the "
            "forward pass of step s, before that step's AdamW update; grad_norms[s] is the "
            "global L2 norm of all gradients of step s (before the update)",
            "versions": C.versions(),
        },
    )

    counts = {str(v): param_count(v) for v in (1, 50, 1000, 8192, 32011)}
    for v, n in counts.items():
        assert n == 256 * int(v) + 395008, (v, n)
    assert counts["32011"] == 8589824
    C.write_json(
        out / "param_count.json",
        {
            "emb_dim": 128,
            "num_heads": 8,
            "num_blocks": 2,
            "formula": "256*V + 395008",
            "breakdown": "embedding 128*V + output 128*V + 2 blocks * (2 RMSNorm scales 2*128 "
            "+ heads 8*3*128*16 + W_O 128*128 + MLP 128*512 + 512 + 512*128 + 128)",
            "counts": counts,
            "notebook_printed": {"V": 32011, "count": 8589824},
        },
    )


# ----- RoPE references ----------------------------------------------------------------------


def write_rope(out):
    book_x = torch.tensor([0.8, 0.6, 0.7, 0.3, 0.5, 0.4], dtype=torch.float64)
    # The notebook's function only knows positions 0..T-1: put q at position 100 of 101.
    seq = torch.zeros(1, 101, 6, dtype=torch.float32)
    seq[0, 100] = book_x.float()
    notebook_f32 = rope_interleaved(seq, angle_dtype=torch.float32)[0, 100]
    exact = rope_interleaved(book_x[None, :], positions=[100])[0]
    printed = [0.9937, 0.1123, 0.2497, -0.7195, 0.4029, 0.4976]
    assert all(abs(a - b) < 1e-4 for a, b in zip(exact.tolist(), printed))

    gen = torch.Generator().manual_seed(44)
    shapes = [
        (8, list(range(6))),
        (16, [7, 8, 9, 10]),
        (4, [0, 100, 1000]),
        (6, [3]),
    ]
    inter, half = [], []
    for dim, positions in shapes:
        x = torch.randn(len(positions), dim, generator=gen, dtype=torch.float64)
        up = torch.randn(len(positions), dim, generator=gen, dtype=torch.float64)
        for fn, bucket in ((rope_interleaved, inter), (rope_half_split, half)):
            xr = x.clone().requires_grad_(True)
            y = fn(xr, positions=positions)
            (y * up).sum().backward()
            bucket.append(
                {
                    "dim": dim,
                    "positions": positions,
                    "x": x,
                    "output": y.detach(),
                    "upstream": up,
                    "grad_x": xr.grad,
                }
            )
    # Check the generalised interleaved function against the notebook's (positions 0..T-1).
    x = inter[0]["x"]
    assert torch.allclose(rope_interleaved(x), inter[0]["output"], atol=0, rtol=0)

    C.write_json(
        out / "rope.json",
        {
            "dtype": "float64 unless named otherwise",
            "theta_base": THETA_BASE,
            "book_example": {
                "x": book_x,
                "position": 100,
                "output": exact,
                "output_notebook_float32": notebook_f32,
                "book_printed": printed,
            },
            "interleaved": {
                "definition": "pairs (x[2i], x[2i+1]) for i = 0..d/2-1, angle = pos * "
                "theta_base^(-2i/d); out[2i] = x[2i] cos - x[2i+1] sin, out[2i+1] = x[2i] sin "
                "+ x[2i+1] cos (the book and notebook)",
                "cases": inter,
            },
            "half_split": {
                "definition": "pairs (x[i], x[i+d/2]) for i = 0..d/2-1, angle = pos * "
                "theta_base^(-2i/d); out[i] = x[i] cos - x[i+d/2] sin, out[i+d/2] = x[i+d/2] cos "
                "+ x[i] sin (Hugging Face rotate_half / Llama; computed with transformers' "
                "apply_rotary_pos_emb from float64 cos/sin)",
                "cases": half,
            },
            "gradient": "grad_x is d/dx of sum(output * upstream)",
        },
        compact=True,
    )


# ----- attention references -----------------------------------------------------------------


def mha(x, wq, wk, wv, wo, use_rope, key_mask):
    """The notebook's multi-head attention (per-head weights, optional RoPE on Q and K,
    causal mask) with an optional key padding mask [B, T] (1 = real token). A query row that
    sees no key at all (a pad query at the front of a left-padded row) gets zero weights and
    therefore a zero output; those rows are outside the comparison (valid_query)."""
    batch, time, _ = x.shape
    mask = torch.tril(torch.ones(time, time, dtype=torch.bool)).expand(batch, time, time)
    if key_mask is not None:
        mask = mask & key_mask.bool()[:, None, :]
    any_key = mask.any(dim=-1, keepdim=True)
    fill = torch.where(any_key, float("-inf"), 0.0)
    heads = []
    for h in range(wq.shape[0]):
        q, k, v = x @ wq[h], x @ wk[h], x @ wv[h]
        if use_rope:
            q, k = rope_interleaved(q), rope_interleaved(k)
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        scores = torch.where(mask, scores, fill.expand_as(scores))
        weights = torch.softmax(scores, dim=-1)
        weights = torch.where(any_key, weights, torch.zeros_like(weights))
        heads.append(weights @ v)
    return torch.cat(heads, dim=-1) @ wo


def write_attention(out):
    scores = torch.tensor([2.0, 7.0, 4.0, 5.0], dtype=torch.float64)
    mask = torch.tensor([1, 1, 0, 0])
    book_weights = torch.softmax(scores.masked_fill(mask == 0, float("-inf")), dim=-1)

    gen = torch.Generator().manual_seed(45)
    batch, time, dim, heads = 2, 5, 8, 2
    d_h = dim // heads
    cases = []
    for name, use_rope, padding in (
        ("causal", False, None),
        ("causal_rope", True, None),
        ("causal_rope_right_padded", True, "right"),
        ("causal_rope_left_padded", True, "left"),
    ):
        x = torch.randn(batch, time, dim, generator=gen, dtype=torch.float64)
        w = {
            "W_Q": torch.randn(heads, dim, d_h, generator=gen, dtype=torch.float64) * 0.5,
            "W_K": torch.randn(heads, dim, d_h, generator=gen, dtype=torch.float64) * 0.5,
            "W_V": torch.randn(heads, dim, d_h, generator=gen, dtype=torch.float64) * 0.5,
            "W_O": torch.randn(dim, dim, generator=gen, dtype=torch.float64) * 0.5,
        }
        up = torch.randn(batch, time, dim, generator=gen, dtype=torch.float64)
        key_mask = None
        valid = torch.ones(batch, time, dtype=torch.int64)
        if padding is not None:
            lengths = [time, 3]
            key_mask = torch.zeros(batch, time, dtype=torch.int64)
            for b, n in enumerate(lengths):
                if padding == "right":
                    key_mask[b, :n] = 1
                else:
                    key_mask[b, time - n :] = 1
            # right padding: pad queries still see real keys; left: they see none
            valid = key_mask.clone() if padding == "left" else valid
        up = up * valid[..., None]
        xr = x.clone().requires_grad_(True)
        wr = {k: v.clone().requires_grad_(True) for k, v in w.items()}
        y = mha(xr, wr["W_Q"], wr["W_K"], wr["W_V"], wr["W_O"], use_rope, key_mask)
        loss = (y * up).sum()
        loss.backward()
        case = {
            "name": name,
            "batch": batch,
            "time": time,
            "d_model": dim,
            "num_heads": heads,
            "d_head": d_h,
            "rope": use_rope,
            "padding": padding,
            "key_padding_mask": key_mask,
            "valid_query": valid,
            "x": x,
        }
        case.update(w)
        case.update(
            {
                "output": y.detach(),
                "upstream": up,
                "loss": loss.item(),
                "grad_x": xr.grad,
            }
        )
        for k, v in wr.items():
            case["grad_" + k] = v.grad
        cases.append(case)

    C.write_json(
        out / "attention.json",
        {
            "dtype": "float64",
            "book_example": {
                "scores": scores,
                "query_index": 1,
                "mask": mask,
                "weights": book_weights,
                "book_printed": [0.0067, 0.9933, 0.0, 0.0],
            },
            "definition": "per head h: Q = x @ W_Q[h], K = x @ W_K[h], V = x @ W_V[h] "
            "([d_model, d_head] each); if rope, interleaved RoPE (theta_base 10000, positions "
            "0..T-1 for every row, also for left-padded ones) on Q and K; scores = Q K^T / "
            "sqrt(d_head); key j visible to query i iff j <= i and key_padding_mask[b, j] == 1; "
            "invisible scores -> -inf; softmax over keys; out_h = weights @ V; output = "
            "concat_h(out_h) @ W_O. A query with no visible key (the front pads of a "
            "left-padded row) gets output 0 here: that is a convention, not compared "
            "(valid_query = 0 there, and upstream is 0 there so gradients do not depend on it).",
            "loss": "loss = sum(output * upstream); grad_* = d loss / d *",
            "layouts": "x, output, upstream, grad_x: [batch][time][d_model]; W_Q, W_K, W_V: "
            "[num_heads][d_model][d_head]; W_O: [d_model][d_model]; masks: [batch][time]",
            "cases": cases,
        },
        compact=True,
    )


def main():
    C.setup()
    out = C.data_dir("decoder_replay")
    write_replay(out)
    write_rope(out)
    write_attention(out)


if __name__ == "__main__":
    main()
