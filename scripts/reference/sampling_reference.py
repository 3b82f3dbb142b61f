#!/usr/bin/env python3
"""Chapter 5 (issue 17, §5.4): what Hugging Face's logits processors do to fixed logits.

For a few fixed logit vectors (the sampling notebook's 8 logits, one with ties at the k-th
value, a 50-token vocabulary with ties, a peaked one), applies transformers'
RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper, TopKLogitsWarper and
TopPLogitsWarper — alone and chained in the order `generate` chains them — in float64, and
writes the processed scores and the probabilities after softmax. Also the book's temperature
example, OpenAI-style presence/frequency penalties (numpy), and where the book's sampling
notebook differs from HF.

Run: python3 scripts/reference/sampling_reference.py
(writes crates/ferrograd-lm/tests/data/sampling/)
"""

import numpy as np
import torch

import _common as C


def logit_cases():
    gen = torch.Generator().manual_seed(19)
    v50 = (torch.randn(50, generator=gen, dtype=torch.float64) * 2.0).tolist()
    order = sorted(range(50), key=lambda i: -v50[i])
    # ties at the 5th-largest value: three more tokens get exactly that value
    fifth = v50[order[4]]
    for i in order[20:23]:
        v50[i] = fifth
    return {
        "notebook8": [2.0, 1.5, 1.0, 0.5, 0.0, -0.5, -1.0, -1.5],
        "ties10": [3.0, 1.0, 2.0, 2.0, 2.0, 0.0, -1.0, 2.0, 0.5, -2.0],
        "vocab50": v50,
        "peaked6": [10.0, 1.0, 0.5, 0.0, -0.5, -1.0],
    }


PREVIOUS = {
    # previous ids (prompt + generated), with repeats: HF penalises each id once; the
    # OpenAI-style penalties count them
    "notebook8": [0, 0, 4, 6, 6, 6],
    "ties10": [2, 5, 6, 6],
    "vocab50": None,  # filled in below: ids with positive and negative logits, repeated
    "peaked6": [0, 3, 3],
}


def processor(step):
    from transformers.generation.logits_process import (
        RepetitionPenaltyLogitsProcessor,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    kind = step["processor"]
    if kind == "repetition_penalty":
        return RepetitionPenaltyLogitsProcessor(penalty=step["penalty"])
    if kind == "temperature":
        return TemperatureLogitsWarper(temperature=step["temperature"])
    if kind == "top_k":
        return TopKLogitsWarper(top_k=step["top_k"], min_tokens_to_keep=step["min_tokens_to_keep"])
    if kind == "top_p":
        return TopPLogitsWarper(top_p=step["top_p"], min_tokens_to_keep=step["min_tokens_to_keep"])
    raise ValueError(kind)


class AmbiguousCut(Exception):
    pass


def check_no_tie_at_top_p_boundary(before, after):
    """HF's top-p sorts with torch.sort; if tied values straddle the cut, which of them is
    kept depends on the sort's order among equal values. No reference is made of that."""
    kept = torch.isfinite(after)
    dropped = torch.isfinite(before) & ~kept
    if kept.any() and dropped.any():
        lowest_kept = before[kept].min()
        if (before[dropped] == lowest_kept).any():
            raise AmbiguousCut


def apply(logits, steps, previous):
    ids = torch.tensor([previous or []], dtype=torch.int64)
    scores = torch.tensor([logits], dtype=torch.float64)
    trace = []
    for step in steps:
        before = scores.clone()
        scores = processor(step)(ids, scores.clone())
        if step["processor"] == "top_p":
            check_no_tie_at_top_p_boundary(before[0], scores[0])
        trace.append(scores[0].clone())
    probs = torch.softmax(scores[0], dim=-1)
    return scores[0], probs, trace


def scores_json(t):
    return [x if np.isfinite(x) else None for x in t.tolist()]


def configurations():
    out = []
    for penalty in (1.3, 0.8):
        out.append([{"processor": "repetition_penalty", "penalty": penalty}])
    for temperature in (0.5, 0.7, 2.0):
        out.append([{"processor": "temperature", "temperature": temperature}])
    for k, keep in ((1, 1), (2, 1), (3, 1), (5, 1), (2, 3), (50, 1)):
        out.append([{"processor": "top_k", "top_k": k, "min_tokens_to_keep": keep}])
    for p in (0.9, 0.5, 0.05, 0.999, 1.0):
        for keep in (1, 3):
            out.append([{"processor": "top_p", "top_p": p, "min_tokens_to_keep": keep}])
    out.append(
        [
            {"processor": "repetition_penalty", "penalty": 1.2},
            {"processor": "temperature", "temperature": 0.7},
            {"processor": "top_k", "top_k": 5, "min_tokens_to_keep": 1},
            {"processor": "top_p", "top_p": 0.9, "min_tokens_to_keep": 1},
        ]
    )
    out.append(
        [
            {"processor": "temperature", "temperature": 0.5},
            {"processor": "top_k", "top_k": 3, "min_tokens_to_keep": 1},
            {"processor": "top_p", "top_p": 0.9, "min_tokens_to_keep": 1},
        ]
    )
    out.append(
        [
            {"processor": "repetition_penalty", "penalty": 1.5},
            {"processor": "temperature", "temperature": 1.5},
            {"processor": "top_k", "top_k": 2, "min_tokens_to_keep": 3},
            {"processor": "top_p", "top_p": 0.6, "min_tokens_to_keep": 3},
        ]
    )
    return out


def openai_penalties(logits, previous, presence, frequency):
    """logit_j - presence * [count_j > 0] - frequency * count_j (OpenAI's API definition)."""
    logits = np.asarray(logits, dtype=np.float64)
    counts = np.bincount(np.asarray(previous, dtype=np.int64), minlength=len(logits))
    return logits - presence * (counts > 0) - frequency * counts


def notebook_top_k(logits, k):
    """The book's sampling notebook's top-k, re-stated: it keeps exactly k tokens by position
    in an argsort (so among tied values only some survive)."""
    logits = np.array(logits, dtype=np.float64)
    keep = set(np.argsort(logits)[-k:].tolist())
    return np.array([x if i in keep else -np.inf for i, x in enumerate(logits)])


def notebook_top_p(logits, p):
    """The book's sampling notebook's top-p, re-stated: it removes every token whose
    cumulative probability (sorted descending) exceeds p — the token that crosses p is dropped
    too (HF keeps it)."""
    logits = np.array(logits, dtype=np.float64)
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    order = np.argsort(probs)[::-1]
    cumulative = np.cumsum(probs[order])
    logits[order[cumulative > p]] = -np.inf
    return logits


def softmax_np(x):
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(x - x[np.isfinite(x)].max())
    return e / e.sum()


def main():
    C.setup()
    out = C.data_dir("sampling")
    cases = logit_cases()
    v50 = cases["vocab50"]
    order = sorted(range(50), key=lambda i: -v50[i])
    neg = [i for i in order if v50[i] < 0]
    PREVIOUS["vocab50"] = [order[0], order[0], order[3], neg[0], neg[0], neg[0], neg[-1]]

    results, skipped = [], []
    for steps in configurations():
        for name, logits in cases.items():
            if any(s.get("top_k", 0) > len(logits) for s in steps):
                continue
            uses_prev = any(s["processor"] == "repetition_penalty" for s in steps)
            previous = PREVIOUS[name] if uses_prev else None
            try:
                scores, probs, trace = apply(logits, steps, previous)
            except AmbiguousCut:
                skipped.append({"logits": name, "steps": steps})
                continue
            result = {
                "logits": name,
                "previous_ids": previous,
                "steps": steps,
                "scores": scores_json(scores),
                "kept": torch.isfinite(scores).tolist(),
                "probs": probs,
            }
            if len(steps) > 1:
                result["after_each_step"] = [scores_json(t) for t in trace]
            results.append(result)

    book = {}
    for temperature in (0.5, 1.0, 2.0):
        book[str(temperature)] = torch.softmax(
            torch.tensor([4.0, 2.0, 0.0], dtype=torch.float64) / temperature, dim=-1
        )

    penalties = []
    for name in ("notebook8", "vocab50"):
        for presence, frequency in ((0.5, 0.0), (0.0, 0.3), (0.5, 0.3), (-0.4, 0.2)):
            adjusted = openai_penalties(cases[name], PREVIOUS[name], presence, frequency)
            penalties.append(
                {
                    "logits": name,
                    "previous_ids": PREVIOUS[name],
                    "presence_penalty": presence,
                    "frequency_penalty": frequency,
                    "scores": adjusted,
                    "probs": softmax_np(adjusted),
                }
            )

    # Where the book's sampling notebook differs from HF (documentation, not a target).
    ties = cases["ties10"]
    nb8 = cases["notebook8"]
    def kept(scores):
        return [i for i, x in enumerate(list(scores)) if np.isfinite(x)]

    top_p_09 = {"processor": "top_p", "top_p": 0.9, "min_tokens_to_keep": 1}
    top_k_2 = {"processor": "top_k", "top_k": 2, "min_tokens_to_keep": 1}
    differences = {
        "top_k_ties": {
            "logits": "ties10",
            "top_k": 2,
            "hf_kept": kept(apply(ties, [top_k_2], None)[0].tolist()),
            "notebook_kept": kept(notebook_top_k(ties, 2)),
        },
        "top_p_crossing_token": {
            "logits": "notebook8",
            "top_p": 0.9,
            "hf_kept": kept(apply(nb8, [top_p_09], None)[0].tolist()),
            "notebook_kept": kept(notebook_top_p(nb8, 0.9)),
        },
    }

    C.write_json(
        out / "processors.json",
        {
            "versions": C.versions(),
            "dtype": "float64",
            "logits": cases,
            "previous_ids": PREVIOUS,
            "hf_order": "generate() applies repetition_penalty (a logits processor) first, then "
            "the sampling warpers in this order: temperature, top_k, top_p",
            "definitions": {
                "repetition_penalty": "for every distinct id in previous_ids (counted once): "
                "score = score * penalty if score < 0 else score / penalty",
                "temperature": "score / temperature",
                "top_k": "k = min(max(top_k, min_tokens_to_keep), V); remove every score "
                "strictly below the k-th largest (ties at the k-th value are all kept)",
                "top_p": "sort ascending, cumulative softmax; remove where cumulative <= 1 - "
                "top_p, except the min_tokens_to_keep highest; i.e. keep the smallest "
                "top set whose mass reaches top_p, the token that crosses top_p included",
                "removed": "score -inf, written as null in `scores`; `kept` false; prob 0",
            },
            "results": results,
            "skipped_ambiguous": {
                "why": "top-p cut falls inside a group of tied scores: HF keeps some of the "
                "tied tokens and drops others depending on torch.sort's order, so these "
                "combinations are not references",
                "combinations": skipped,
            },
            "book_temperature_example": {
                "logits": [4.0, 2.0, 0.0],
                "probs_by_temperature": book,
                "book_printed": {"0.5": [0.98, 0.02, 0.0], "1.0": [0.87, 0.12, 0.02],
                                 "2.0": [0.67, 0.24, 0.09]},
            },
            "openai_penalties": {
                "definition": "score_j = logit_j - presence_penalty * [count_j > 0] - "
                "frequency_penalty * count_j, count_j = occurrences of j in previous_ids "
                "(computed with numpy; OpenAI's API reference)",
                "results": penalties,
            },
            "notebook_differences": differences,
        },
        compact=True,
    )
    print(f"{len(results)} processor results ({len(skipped)} skipped), {len(penalties)} penalties")
    print(differences)


if __name__ == "__main__":
    main()
