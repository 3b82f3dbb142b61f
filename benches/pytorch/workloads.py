"""PyTorch side of `cargo xtask bench-compare`: the same workloads as
benches/src/workloads.rs, with the same shapes, initialisation scheme, optimizer and
thread count.

    python3 workloads.py WORKLOAD --threads N [--samples S]

prints one JSON line: {"workload", "threads", "unit", "median_s", "samples_s", "max_rss_kib",
"minor_faults_per_call", "cpu_capability"}. Timing: `time.perf_counter` around each sample
after a warm-up; the median is reported. Page faults are counted over the timed samples
(after the warm-up). `ATEN_CPU_CAPABILITY=avx2` (set by `bench-compare --simd avx2`)
restricts PyTorch's kernels to AVX2.
"""
import argparse
import math
import json
import os
import resource
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# The book's buy/no-buy examples (§1.7). Their home is ferrograd-data
# (`ferrograd_data::book::{BUY_FEATURES, BUY_LABELS}`); the test
# `python_side_uses_the_book_data_of_ferrograd_data` in benches/src/workloads.rs checks that
# this copy equals it.
BUY_X = [[22, 25], [25, 35], [47, 80], [52, 95], [46, 82], [56, 90], [23, 27], [30, 50],
         [40, 60], [39, 57], [53, 95], [48, 88]]
BUY_Y = [0, 0, 1, 1, 1, 1, 0, 1, 1, 0, 1, 1]


def logreg_loop():
    """The book's §1.8 loop: Linear(2,1)+Sigmoid, BCELoss, SGD lr 0.001, 500 full-batch steps."""
    x = torch.tensor(BUY_X, dtype=torch.float32)
    y = torch.tensor(BUY_Y, dtype=torch.float32).reshape(-1, 1)
    model = nn.Sequential(nn.Linear(2, 1), nn.Sigmoid())
    criterion = nn.BCELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001)

    def run():
        for _ in range(500):
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
        return loss.item()

    return run, "500 steps"


def mlp_step():
    """One training step of a 784-256-256-10 ReLU MLP, cross-entropy, Adam, batch 128."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(128, 784, generator=g)
    y = torch.randint(0, 10, (128,), generator=g)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def run():
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    return run, "step"


class Block(nn.Module):
    """sdpa=False: attention written with matmul, masked_fill and softmax (eager);
    sdpa=True: F.scaled_dot_product_attention(is_causal=True)."""

    def __init__(self, d, heads, sdpa=False):
        super().__init__()
        self.heads, self.sdpa = heads, sdpa
        self.norm1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, 4 * d)
        self.fc2 = nn.Linear(4 * d, d)

    def forward(self, x):
        b, t, d = x.shape
        h = self.heads
        q, k, v = self.qkv(self.norm1(x)).split(d, dim=-1)
        q = q.reshape(b, t, h, d // h).transpose(1, 2)
        k = k.reshape(b, t, h, d // h).transpose(1, 2)
        v = v.reshape(b, t, h, d // h).transpose(1, 2)
        if self.sdpa:
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            scores = q @ k.transpose(-2, -1) / (d // h) ** 0.5
            mask = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)
            att = scores.masked_fill(mask, float("-inf")).softmax(dim=-1)
            out = att @ v
        out = out.transpose(1, 2).reshape(b, t, d)
        x = x + self.proj(out)
        return x + self.fc2(F.relu(self.fc1(self.norm2(x))))


class TinyLm(nn.Module):
    def __init__(self, vocab=256, d=128, heads=4, blocks=2, context=64, sdpa=False):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(context, d)
        self.blocks = nn.ModuleList([Block(d, heads, sdpa) for _ in range(blocks)])
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab)

    def forward(self, ids):
        t = ids.shape[1]
        x = self.embed(ids) + self.pos(torch.arange(t))
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


def lm_step(sdpa=False):
    """One training step of a small decoder-only LM: vocab 256, d 128, 2 pre-norm blocks
    (4-head causal self-attention, 4·d ReLU MLP), context 64, batch 16, AdamW. sdpa: the
    attention through F.scaled_dot_product_attention(is_causal=True) (lm_step_sdpa)."""
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 256, (16, 65), generator=g)
    inputs, targets = ids[:, :-1], ids[:, 1:]
    model = TinyLm(sdpa=sdpa)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)

    def run():
        optimizer.zero_grad()
        logits = model(inputs)
        loss = F.cross_entropy(logits.reshape(-1, 256), targets.reshape(-1))
        loss.backward()
        optimizer.step()
        return loss.item()

    return run, "step"


def linear_backward(frozen):
    """Backward of Linear(1024, 1024) on a batch of 256 whose input requires gradients,
    the weight trainable or frozen: forward once, then each call backpropagates a fixed
    output gradient through the kept graph (torch.autograd.grad, so nothing accumulates)."""
    g = torch.Generator().manual_seed(0)
    layer = nn.Linear(1024, 1024)
    if frozen:
        layer.requires_grad_(False)
    x = torch.randn(256, 1024, generator=g, requires_grad=True)
    grad = torch.randn(256, 1024, generator=g)
    y = layer(x)
    inputs = [x] if frozen else [x, layer.weight, layer.bias]
    return (lambda: torch.autograd.grad(y, inputs, grad, retain_graph=True)), "backward"


def mlp_step_graph_kept():
    """mlp_step with the graph kept through the step (backward(retain_graph=True)), as
    ferrograd's loop before backward_free."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(128, 784, generator=g)
    y = torch.randint(0, 10, (128,), generator=g)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def run():
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward(retain_graph=True)
        optimizer.step()
        return loss.item()

    return run, "step"


TINY_GPT2 = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "crates",
                         "ferrograd-lm", "tests", "data", "tiny-random-gpt2")
GENERATE_PROMPT = 8
GENERATE_NEW_TOKENS = 32


def gpt2_ids(batch, length, vocab):
    """The ids both sides use: (i*37 + 11) mod vocab, row-major."""
    return torch.tensor([(i * 37 + 11) % vocab for i in range(batch * length)]).reshape(batch, length)


def gpt2_124m(**overrides):
    """transformers' GPT2LMHeadModel with GPT2Config() (124M), random weights, no dropout."""
    from transformers import GPT2Config, GPT2LMHeadModel
    config = GPT2Config(resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, **overrides)
    return GPT2LMHeadModel(config)


def gpt2_step(lora):
    """One training step of the GPT-2 124M shape, batch 4, context 64 (llm.c's
    train_gpt2.c configuration), loss with labels = ids, AdamW lr 3e-4 (weight decay 0.01,
    the default). With lora: PEFT LoraConfig(r=16, lora_alpha=32, target_modules=["c_attn"],
    lora_dropout=0, fan_in_fan_out=True), the base frozen, AdamW over the adapters."""
    torch.manual_seed(0)
    model = gpt2_124m()
    if lora:
        from peft import LoraConfig, get_peft_model
        model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules=["c_attn"],
                                                 lora_dropout=0.0, fan_in_fan_out=True))
    model.train()
    ids = gpt2_ids(4, 64, 50257)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-4)

    def run():
        optimizer.zero_grad()
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        return loss.item()

    return run, "step"


def gpt2_generate(tiny):
    """transformers generate: greedy, use_cache, 32 new tokens after an 8-id prompt, batch 1,
    no stop id; the tiny random GPT-2 of the lm crate's test data or the 124M shape with
    random weights."""
    from transformers import GPT2LMHeadModel
    torch.manual_seed(0)
    model = GPT2LMHeadModel.from_pretrained(TINY_GPT2) if tiny else gpt2_124m()
    model.eval()
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = 0
    ids = gpt2_ids(1, GENERATE_PROMPT, model.config.vocab_size)
    mask = torch.ones_like(ids)

    def run():
        out = model.generate(ids, attention_mask=mask, max_new_tokens=GENERATE_NEW_TOKENS,
                             do_sample=False, use_cache=True)
        assert out.shape[1] == GENERATE_PROMPT + GENERATE_NEW_TOKENS
        return out

    return run, "32 tokens"


def matmul(n):
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g)
    b = torch.randn(n, n, generator=g)
    return (lambda: torch.matmul(a, b)), "product"


def add_1m():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(1_000_000, generator=g)
    b = torch.randn(1_000_000, generator=g)
    return (lambda: a + b), "add"


def sum_124m():
    """The sum of 124,439,808 floats (GPT-2 124M's parameter count): reading every weight
    once from memory, the floor under one generated token at batch 1."""
    x = torch.ones(124_439_808)
    return (lambda: x.sum()), "sum"


def softmax_64x32000():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 32000, generator=g)
    return (lambda: torch.softmax(x, dim=-1)), "softmax"


class ElmanCell(nn.Module):
    """The chapter-3 notebook's Elman unit: h = tanh(x @ Wh + h @ Uh + b), weights [in, out]."""

    def __init__(self, dim):
        super().__init__()
        self.Uh = nn.Parameter(torch.empty(dim, dim))
        self.Wh = nn.Parameter(torch.empty(dim, dim))
        self.b = nn.Parameter(torch.empty(dim))

    def forward(self, x, h):
        return torch.tanh(x @ self.Wh + h @ self.Uh + self.b)


class LoopRnn(nn.Module):
    """Stacked cells, the notebook's Python loop over time steps (layers inside)."""

    def __init__(self, dim, layers):
        super().__init__()
        self.rnn_units = nn.ModuleList([ElmanCell(dim) for _ in range(layers)])

    def forward(self, x):
        b, t, d = x.shape
        hidden = [x.new_zeros(b, d) for _ in self.rnn_units]
        outputs = []
        for step in range(t):
            inp = x[:, step]
            for i, cell in enumerate(self.rnn_units):
                hidden[i] = cell(inp, hidden[i])
                inp = hidden[i]
            outputs.append(inp)
        return torch.stack(outputs, dim=1)


class RnnLm(nn.Module):
    """Embedding(V, 128, pad 0) -> 2 Elman layers of 128 -> Linear(128, V); the recurrent
    part either the notebook's loop or torch.nn.RNN (tanh, batch_first: the same model
    with PyTorch's fused kernel)."""

    def __init__(self, vocab, dim=128, layers=2, fused=False):
        super().__init__()
        self.fused = fused
        self.embedding = nn.Embedding(vocab, dim, padding_idx=0)
        self.rnn = nn.RNN(dim, dim, layers, batch_first=True) if fused else LoopRnn(dim, layers)
        self.fc = nn.Linear(dim, vocab)
        for p in self.parameters():  # the notebook's initialize_weights
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
            else:
                nn.init.uniform_(p)

    def forward(self, ids):
        x = self.embedding(ids)
        x = self.rnn(x)[0] if self.fused else self.rnn(x)
        return self.fc(x)


def rnn_lm_step(fused=False):
    """One training step of the chapter-3 RNN LM at the notebook's shapes, V = 8192:
    batch 128 of 29 input tokens (full length), cross-entropy ignoring pad 0, AdamW lr 1e-3."""
    vocab, batch, time = 8192, 128, 29
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1, vocab, (batch, time + 1), generator=g)
    inputs, targets = ids[:, :-1], ids[:, 1:]
    model = RnnLm(vocab, fused=fused)
    criterion = nn.CrossEntropyLoss(ignore_index=0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def run():
        optimizer.zero_grad()
        logits = model(inputs)
        loss = criterion(logits.reshape(-1, vocab), targets.reshape(-1))
        loss.backward()
        optimizer.step()
        return loss.item()

    return run, "step"


def book_rope(x, start=0):
    """The book's RoPE (interleaved pairs, theta_p = 10000^(-2(p-1)/d)) on x [..., T, d]
    at positions start..start+T, the angles computed at every call as the notebook does."""
    t, d = x.shape[-2], x.shape[-1]
    pos = torch.arange(start, start + t, dtype=torch.float32).unsqueeze(-1)
    theta = 1.0 / (10000.0 ** (2 * torch.arange(d // 2, dtype=torch.float32) / d))
    angle = pos * theta
    sin, cos = torch.sin(angle), torch.cos(angle)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).reshape(x.shape)


class BookAttention(nn.Module):
    """Chapter 4's causal multi-head attention with RoPE. sdpa=False: as the book writes it
    (a loop over heads, each with its own W_Q/W_K/W_V, scores, masked_fill, softmax);
    sdpa=True: the same parameters stacked, all heads at once through
    F.scaled_dot_product_attention(is_causal=True). `cache`: a list [k, v] per layer
    grown with torch.cat (the straightforward KV cache)."""

    def __init__(self, d, heads, sdpa):
        super().__init__()
        self.heads, self.dh, self.sdpa = heads, d // heads, sdpa
        self.W_Q = nn.Parameter(torch.empty(heads, d, self.dh))
        self.W_K = nn.Parameter(torch.empty(heads, d, self.dh))
        self.W_V = nn.Parameter(torch.empty(heads, d, self.dh))
        self.W_O = nn.Parameter(torch.empty(d, d))
        for w in (self.W_Q, self.W_K, self.W_V):
            for h in range(heads):
                nn.init.xavier_uniform_(w.data[h])
        nn.init.xavier_uniform_(self.W_O)

    def forward(self, x, cache=None, start=0):
        b, t, d = x.shape
        if self.sdpa and cache is None:
            q = book_rope(torch.einsum("btd,hde->bhte", x, self.W_Q), start)
            k = book_rope(torch.einsum("btd,hde->bhte", x, self.W_K), start)
            v = torch.einsum("btd,hde->bhte", x, self.W_V)
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return out.transpose(1, 2).reshape(b, t, d) @ self.W_O
        outs = []
        for h in range(self.heads):
            q = book_rope(x @ self.W_Q[h], start)
            k = book_rope(x @ self.W_K[h], start)
            v = x @ self.W_V[h]
            if cache is not None:
                if cache[h] is not None:
                    k = torch.cat((cache[h][0], k), dim=1)
                    v = torch.cat((cache[h][1], v), dim=1)
                cache[h] = (k, v)
            scores = q @ k.transpose(-2, -1) / math.sqrt(self.dh)
            n = k.shape[1]
            mask = torch.tril(torch.ones(t, n), diagonal=n - t)
            weights = torch.softmax(scores.masked_fill(mask == 0, float("-inf")), dim=-1)
            outs.append(weights @ v)
        return torch.cat(outs, dim=-1) @ self.W_O


class BookRmsNorm(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x / torch.sqrt(torch.mean(x**2, dim=-1, keepdim=True) + 1e-8) * self.scale


class BookBlock(nn.Module):
    def __init__(self, d, heads, sdpa):
        super().__init__()
        self.norm1, self.norm2 = BookRmsNorm(d), BookRmsNorm(d)
        self.attn = BookAttention(d, heads, sdpa)
        self.W_1 = nn.Parameter(nn.init.xavier_uniform_(torch.empty(d, 4 * d)))
        self.B_1 = nn.Parameter(torch.zeros(4 * d))
        self.W_2 = nn.Parameter(nn.init.xavier_uniform_(torch.empty(4 * d, d)))
        self.B_2 = nn.Parameter(torch.zeros(d))

    def forward(self, x, cache=None, start=0):
        x = x + self.attn(self.norm1(x), cache, start)
        return x + (torch.relu(self.norm2(x) @ self.W_1 + self.B_1) @ self.W_2 + self.B_2)


class BookDecoder(nn.Module):
    """Chapter 4's decoder LM: Embedding(V, 128, pad 0) -> 2 pre-norm blocks (8 heads, RoPE,
    MLP 512) -> x @ output (128 x V, no bias)."""

    def __init__(self, vocab, sdpa=False, d=128, heads=8, blocks=2):
        super().__init__()
        self.embedding = nn.Embedding(vocab, d, padding_idx=0)
        nn.init.normal_(self.embedding.weight, std=0.02)
        with torch.no_grad():
            self.embedding.weight[0].zero_()
        self.layers = nn.ModuleList([BookBlock(d, heads, sdpa) for _ in range(blocks)])
        self.output = nn.Parameter(nn.init.xavier_uniform_(torch.empty(d, vocab)))
        self.heads = heads

    def forward(self, ids, caches=None, start=0):
        x = self.embedding(ids)
        for i, layer in enumerate(self.layers):
            x = layer(x, None if caches is None else caches[i], start)
        return x @ self.output


def decoder_step(context, sdpa=False):
    """One training step of the chapter-4 decoder LM, V = 8192: batch 32 of `context` input
    tokens (full length), cross-entropy ignoring pad 0, AdamW lr 1e-3."""
    vocab, batch = 8192, 32
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1, vocab, (batch, context + 1), generator=g)
    inputs, targets = ids[:, :-1], ids[:, 1:]
    model = BookDecoder(vocab, sdpa=sdpa)
    criterion = nn.CrossEntropyLoss(ignore_index=0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def run():
        optimizer.zero_grad()
        logits = model(inputs)
        loss = criterion(logits.reshape(-1, vocab), targets.reshape(-1))
        loss.backward()
        optimizer.step()
        return loss.item()

    return run, "step"


def decoder_generate():
    """Greedy generation of 256 tokens after a 64-token prompt, batch 1, by the chapter-4
    decoder (V = 8192, random weights), with a per-head KV cache grown by torch.cat."""
    vocab = 8192
    torch.manual_seed(0)
    model = BookDecoder(vocab)
    g = torch.Generator().manual_seed(0)
    prompt = torch.randint(1, vocab, (1, 64), generator=g)

    def run():
        with torch.no_grad():
            caches = [[None] * model.heads for _ in model.layers]
            logits = model(prompt, caches, 0)
            pos = prompt.shape[1]
            out = []
            for _ in range(256):
                nxt = torch.argmax(logits[0, -1]).view(1, 1)
                out.append(int(nxt))
                if len(out) == 256:
                    break
                logits = model(nxt, caches, pos)
                pos += 1
        return out

    return run, "256 tokens"


WORKLOADS = {
    "logreg_loop": logreg_loop,
    "mlp_step": mlp_step,
    "lm_step": lm_step,
    "lm_step_sdpa": lambda: lm_step(sdpa=True),
    "matmul_64": lambda: matmul(64),
    "matmul_256": lambda: matmul(256),
    "matmul_512": lambda: matmul(512),
    "matmul_1024": lambda: matmul(1024),
    "add_1m": add_1m,
    "softmax_64x32000": softmax_64x32000,
    "rnn_lm_step": rnn_lm_step,
    "rnn_lm_step_torch_rnn": lambda: rnn_lm_step(fused=True),
    "linear_backward_trainable": lambda: linear_backward(False),
    "linear_backward_frozen": lambda: linear_backward(True),
    "mlp_step_graph_kept": mlp_step_graph_kept,
    "decoder_step_30": lambda: decoder_step(30),
    "decoder_step_30_sdpa": lambda: decoder_step(30, sdpa=True),
    "decoder_step_128": lambda: decoder_step(128),
    "decoder_step_128_sdpa": lambda: decoder_step(128, sdpa=True),
    "decoder_generate": decoder_generate,
    "sum_124m": sum_124m,
    "gpt2_124m_step": lambda: gpt2_step(False),
    "gpt2_124m_lora_step": lambda: gpt2_step(True),
    "gpt2_tiny_generate": lambda: gpt2_generate(True),
    "gpt2_124m_generate": lambda: gpt2_generate(False),
}


WARM_UP_S = 0.3


def measure(run, samples):
    # Warm up for 0.3 s (at least 3 calls): caches, allocators and idle cores settle (on a
    # VM an idle vCPU can take ~100 ms to run at full speed again). bench-runner does the
    # same.
    start = time.perf_counter()
    warm_calls = 0
    while warm_calls < 3 or time.perf_counter() - start < WARM_UP_S:
        run()
        warm_calls += 1
    # Each sample times enough calls to last ~20 ms, so timer resolution does not matter.
    start = time.perf_counter()
    run()
    once = max(time.perf_counter() - start, 1e-7)
    calls = max(1, int(0.02 / once))
    times = []
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(samples):
        start = time.perf_counter()
        for _ in range(calls):
            run()
        times.append((time.perf_counter() - start) / calls)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    return times, faults / (samples * calls)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("workload", choices=sorted(WORKLOADS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--samples", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    run, unit = WORKLOADS[args.workload]()
    times, faults = measure(run, args.samples)
    print(json.dumps({
        "workload": args.workload,
        "threads": args.threads,
        "unit": unit,
        "median_s": statistics.median(times),
        "samples_s": times,
        "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "minor_faults_per_call": faults,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }))


if __name__ == "__main__":
    main()
