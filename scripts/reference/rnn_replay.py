#!/usr/bin/env python3
"""Chapter 3 (issue 15): PyTorch replay of the book's Elman RNN language model.

The model, its initialisation and its training step follow the `news_RNN_language_model`
notebook (re-written here, same module and parameter names so the state_dict keys are the
notebook's): Embedding(V, E, padding_idx) -> stacked Elman cells looped over time in Python
-> Linear(E, V); Xavier-uniform for every parameter with more than one dimension (the
embedding included; its padding row is NOT re-zeroed afterwards), uniform(0, 1) for every
1-D parameter; CrossEntropyLoss(ignore_index=pad) over the flattened batch (mean over the
non-padding targets); AdamW with PyTorch's defaults except lr.

Tiny configuration: V = 50, E = H = 16, 2 layers, pad id 0, 5 fixed batches of 4, 30 steps
at lr 1e-2, in float32 and in float64 (the float64 run starts from the float32 initial
weights converted exactly). Also the parameter count for E = 128, 2 layers, as a function
of V (257 V + 65,792).

Run: python3 scripts/reference/rnn_replay.py   (writes crates/ferrograd-lm/tests/data/rnn_replay/)
"""

import math

import torch
from torch import nn

import _common as C

VOCAB = 50
EMB = 16
LAYERS = 2
PAD = 0
STEPS = 30
INIT_SEED = 1234
DATA_SEED = 15


class ElmanRNNUnit(nn.Module):
    """One Elman cell: h_t = tanh(x_t @ Wh + h_{t-1} @ Uh + b) (weights stored [in, out])."""

    def __init__(self, emb_dim):
        super().__init__()
        # Same creation order and names as the notebook (Uh, Wh, b); values are overwritten
        # by initialize_weights.
        self.Uh = nn.Parameter(torch.rand(emb_dim, emb_dim))
        self.Wh = nn.Parameter(torch.rand(emb_dim, emb_dim))
        self.b = nn.Parameter(torch.rand(emb_dim))

    def forward(self, x, h):
        return torch.tanh(x @ self.Wh + h @ self.Uh + self.b)


class ElmanRNN(nn.Module):
    """Stacked cells; loop over time outside, over layers inside; h_0 = 0 for every layer."""

    def __init__(self, emb_dim, num_layers):
        super().__init__()
        self.emb_dim = emb_dim
        self.num_layers = num_layers
        self.rnn_units = nn.ModuleList([ElmanRNNUnit(emb_dim) for _ in range(num_layers)])

    def forward(self, x):
        batch, time, dim = x.shape
        hidden = [x.new_zeros(batch, dim) for _ in range(self.num_layers)]
        outputs = []
        for t in range(time):
            layer_input = x[:, t]
            for layer, unit in enumerate(self.rnn_units):
                hidden[layer] = unit(layer_input, hidden[layer])
                layer_input = hidden[layer]
            outputs.append(layer_input)
        return torch.stack(outputs, dim=1)


class RecurrentLanguageModel(nn.Module):
    def __init__(self, vocab_size, emb_dim, num_layers, pad_index):
        super().__init__()
        self.vocab_size = vocab_size
        self.emb_dim = emb_dim
        self.num_layers = num_layers
        self.pad_index = pad_index
        self.embedding = nn.Embedding(vocab_size, emb_dim, pad_index)
        self.rnn = ElmanRNN(emb_dim=emb_dim, num_layers=num_layers)
        self.fc = nn.Linear(emb_dim, vocab_size)

    def forward(self, x):
        return self.fc(self.rnn(self.embedding(x)))


def initialize_weights(model):
    """The notebook's scheme, in named_parameters() order: Xavier-uniform (gain 1) for
    dim > 1, uniform(0, 1) otherwise. Nothing re-zeroes the embedding's padding row."""
    for _, param in model.named_parameters():
        if param.dim() > 1:
            nn.init.xavier_uniform_(param)
        else:
            nn.init.uniform_(param)


def loss_fn(model, inp, tgt):
    """The notebook's training loss: logits flattened to [B*T, V], targets to [B*T],
    CrossEntropyLoss(ignore_index=pad) = mean over the targets that are not pad."""
    batch, time = inp.shape
    logits = model(inp).reshape(batch * time, model.vocab_size)
    criterion = nn.CrossEntropyLoss(ignore_index=model.pad_index)
    return criterion(logits, tgt.reshape(batch * time))


def param_count(vocab_size, emb_dim=128, num_layers=2):
    model = RecurrentLanguageModel(vocab_size, emb_dim, num_layers, 0)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def main():
    C.setup()
    out = C.data_dir("rnn_replay")

    torch.manual_seed(INIT_SEED)
    model = RecurrentLanguageModel(VOCAB, EMB, LAYERS, PAD)
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
        model = RecurrentLanguageModel(VOCAB, EMB, LAYERS, PAD).to(dtype)
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
            "model": "RecurrentLanguageModel (news_RNN_language_model notebook)",
            "vocab_size": VOCAB,
            "emb_dim": EMB,
            "hidden_dim": EMB,
            "num_layers": LAYERS,
            "pad_index": PAD,
            "parameters": {k: list(v.shape) for k, v in init.items()},
            "init": "xavier_uniform_ (gain 1) for dim > 1 incl. embedding.weight (padding row "
            "not re-zeroed), uniform_(0, 1) for dim == 1; torch.manual_seed(%d)" % INIT_SEED,
            "loss": "CrossEntropyLoss(ignore_index=pad_index), mean over non-pad targets of "
            "the flattened [batch*time] batch",
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
        assert n == 257 * int(v) + 65792, (v, n)
    C.write_json(
        out / "param_count.json",
        {
            "emb_dim": 128,
            "num_layers": 2,
            "formula": "257*V + 65792",
            "breakdown": "embedding 128*V + 2 layers * (2*128*128 + 128) + fc 128*V + V",
            "counts": counts,
            "notebook_printed": {"V": 32011, "count": 8292619},
        },
    )
    assert math.isclose(counts["32011"], 8292619)


if __name__ == "__main__":
    main()
