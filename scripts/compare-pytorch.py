"""PyTorch side of `npm run bench:compare` (scripts/bench-compare.ts drives it): GPT-2 and the
LLaMA family (LLaMA, Qwen2) without rope scaling.

Runs, in float32 on the CPU, the same forward and the same explanation methods as the engine
(gi, cp-lrp, pa-lrp; docs/rules.md states every rule) on the checkpoint the driver wrote, times
them warm, and writes the relevance per token and position for the driver to compare.

The rules are written the way the engine runs them, as modified gradients
(scripts/compare_torch_rules.py), in models written for the comparison
(scripts/compare_torch_models.py):
  linear layers                   epsilon rule (pa-lrp)
  Q.K^T, A.V                      uniform rule (pa-lrp); A detached (cp-lrp)
  GELU, SiLU                      identity rule (cp-lrp, pa-lrp)
  LayerNorm, RMSNorm              scale detached (cp-lrp, pa-lrp)
  gated product act(gate)*up      pa-lrp: uniform; cp-lrp: gate detached
  rotary x*cos + rot(x)*sin       pa-lrp: uniform (x, cos and sin each get half their gradient)
  softmax: gradient (pa-lrp), output detached (cp-lrp); gi: the plain gradient everywhere.
Relevance at the inputs is x * g_x, summed over the hidden dimension per position, for the token
embeddings E and the positional tensors (GPT-2's position embeddings; each layer's own rotary
cos and sin), which are inputs for all three methods.

The model code is checked once, untimed, against the fixtures' float64 reference forward
(scripts/fixtures/hf_gpt2.py, hf_llama.py), whose building blocks (hf_blocks.py) it reuses where
speed does not matter.

  python3 scripts/compare-pytorch.py --dir CKPT --request REQUEST.json --out RESULT.json

REQUEST: {"ids": [...], "methods": [{"name": "pa-lrp", "target": 123}, ...], "repeat": 3,
"threads": 2, "engineLogits": [...] (optional: the engine's forward, compared)}. RESULT: see `main`. Progress goes to stderr.
"""

import argparse
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch

sys.dont_write_bytecode = True  # no __pycache__ in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_torch_models import FAMILIES  # noqa: E402


def log(message: str) -> None:
    print(f"  pytorch: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Checkpoint


def read_safetensors(path: str) -> dict:
    """Every tensor of a safetensors file as a float32 torch tensor (F32 or BF16 stored)."""
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + length)
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        raw = data[start:end]
        if info["dtype"] == "F32":
            values = np.array(raw.view("<f4"))
        elif info["dtype"] == "BF16":
            values = (raw.view("<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise ValueError(f"{name}: dtype {info['dtype']} is not F32 or BF16")
        out[name] = torch.from_numpy(values.reshape(info["shape"]))
    return out


# ---------------------------------------------------------------------------------------------
# Timed runs


def forward(model, ids):
    with torch.no_grad():
        e, positional = model.inputs(ids)
        return model.logits_last(None, e, positional)


def explain(model, ids, method, target):
    """Relevance x * g_x per position: token embeddings, and every positional tensor summed (signed)."""
    e, positional = model.inputs(ids)
    e = e.detach().requires_grad_(True)
    positional = [p.detach().requires_grad_(True) for p in positional]
    logits = model.logits_last(method, e, positional)
    grads = torch.autograd.grad(logits[target], [e, *positional], allow_unused=True)
    tokens = (e * grads[0]).sum(-1)[0]
    positions = torch.zeros(len(ids))
    for p, g in zip(positional, grads[1:]):
        if g is not None:
            # [1, T, D] tables or [T, d] rotary tables: sum all but the position axis (rank - 2).
            positions += (p * g).reshape(-1, *p.shape[-2:]).sum(0).sum(-1)
    return {"logit": float(logits[target]), "tokens": tokens.tolist(), "positions": positions.tolist(), "argmax": int(logits.argmax())}


def timed(fn, repeat):
    """Best of `repeat` warm runs: (last value, wall seconds per run, process CPU seconds per run)."""
    fn()  # warm-up
    seconds, cpu = [], []
    value = None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        value = fn()
        seconds.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return value, seconds, cpu


# ---------------------------------------------------------------------------------------------
# Which BLAS PyTorch runs on


def blas_report(threads: int) -> dict:
    a = torch.randn(1024, 1024, dtype=torch.float32)
    b = torch.randn(1024, 1024, dtype=torch.float32)
    a @ b  # loads and warms the BLAS
    libraries = sorted({line.split()[-1] for line in open("/proc/self/maps") if "blas" in line.lower() or "lapack" in line.lower()})
    best = math.inf
    for _ in range(3):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    small_a, small_b = a[:256, :256], b[:256, :256]
    exact = small_a.double() @ small_b.double()
    error = float(((small_a @ small_b).double() - exact).abs().max() / exact.abs().max())
    return {
        "openblas": any("openblas" in path for path in libraries),
        "libraries": libraries,
        "gflops_1024": 2 * 1024**3 / best / 1e9,
        "f64_relative_error_256": error,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", required=True)
    parser.add_argument("--request", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    request = json.load(open(args.request))
    torch.set_num_threads(request.get("threads", 2))
    repeat = request.get("repeat", 3)
    ids = request["ids"]

    blas = blas_report(request.get("threads", 2))
    log(f"BLAS libraries: {', '.join(blas['libraries']) or 'none mapped'}; 1024^3 product {blas['gflops_1024']:.1f} GFLOP/s")
    config = json.load(open(os.path.join(args.dir, "config.json")))
    if config.get("model_type") not in FAMILIES:
        raise SystemExit(f"compare-pytorch.py: model_type {config.get('model_type')} is not implemented here ({', '.join(FAMILIES)})")
    t0 = time.perf_counter()
    params = read_safetensors(os.path.join(args.dir, "model.safetensors"))
    model = FAMILIES[config["model_type"]](params, config)
    load_seconds = time.perf_counter() - t0
    log(f"checkpoint read in {load_seconds:.2f} s")

    # Untimed: this file's float32 model against the fixtures' float64 reference forward (which
    # holds a float64 copy of every weight: skipped above 200M parameters).
    logits = forward(model, ids)
    check = {"max_abs_logit_diff": None, "max_abs_logit": float(logits.abs().max())}
    if sum(t.numel() for t in params.values()) <= 200_000_000:
        reference = model.reference_logits(ids)
        check = {"max_abs_logit_diff": float((logits.double() - reference).abs().max()), "max_abs_logit": float(reference.abs().max())}
        log(f"float32 forward vs the fixtures' float64 forward: max |diff| {check['max_abs_logit_diff']:.2e} (max |logit| {check['max_abs_logit']:.3f})")
        del reference
    else:
        log("float64 reference forward skipped (over 200M parameters)")

    values, forward_seconds, forward_cpu = timed(lambda: forward(model, ids).tolist(), repeat)
    log(f"forward {len(ids)} tokens: best {min(forward_seconds):.3f} s of {repeat}")
    forward_result = {"seconds": forward_seconds, "cpu": forward_cpu}
    if "engineLogits" in request:
        ours, theirs = np.array(values), np.array(request["engineLogits"])
        forward_result["max_abs_logit_diff"] = float(np.abs(ours - theirs).max() / np.abs(ours).max())
    methods = {}
    for m in request["methods"]:
        result, seconds, cpu = timed(lambda: explain(model, ids, m["name"], m["target"]), repeat)
        result["seconds"] = seconds
        result["cpu"] = cpu
        methods[m["name"]] = result
        log(f"{m['name']} {len(ids)} tokens: best {min(seconds):.3f} s of {repeat}")
    json.dump({"blas": blas, "load_seconds": load_seconds, "check": check, "forward": forward_result, "methods": methods}, open(args.out, "w"))


if __name__ == "__main__":
    main()
