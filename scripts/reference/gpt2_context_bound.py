"""How many new tokens transformers' GPT-2 `generate` gives near the end of the context.

A random GPT2LMHeadModel with n_positions=8 (no download), greedy decoding. Prints, for
each (prompt length, max_new_tokens), the number of new tokens or the error. Output with
torch 2.15.0 / transformers 5.25.0 (2026-12-06):

    8 1 -> 1 new tokens
    7 2 -> 2 new tokens
    8 2 -> error IndexError
    6 5 -> error IndexError

So the last new token is never fed back: a prompt of T <= n_positions tokens leaves room
for n_positions + 1 - T new ones. ferrograd's `gpt2_generate::generate` follows that bound
(and cuts longer requests, finishing with `FinishReason::Length`, where transformers fails);
the test `a_prompt_that_fills_the_context_still_gets_one_token` checks it. Nothing is
written to disk.
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from transformers import GPT2Config, GPT2LMHeadModel  # noqa: E402

torch.manual_seed(0)
config = GPT2Config(n_positions=8, n_embd=16, n_layer=1, n_head=2, vocab_size=50)
model = GPT2LMHeadModel(config).eval()
for t, new in [(8, 1), (7, 2), (8, 2), (6, 5)]:
    ids = torch.arange(1, t + 1).unsqueeze(0)
    try:
        out = model.generate(ids, max_new_tokens=new, do_sample=False, pad_token_id=0)
        print(t, new, "->", out.shape[1] - t, "new tokens")
    except Exception as e:  # noqa: BLE001 - the error is the result
        print(t, new, "-> error", type(e).__name__)
