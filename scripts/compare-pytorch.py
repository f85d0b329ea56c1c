"""PyTorch side of `npm run bench:compare` (scripts/bench-compare.ts drives it): GPT-2 and the
LLaMA family (LLaMA, Qwen2) without rope scaling.

Runs, in float32 on the CPU, the same forward and the same explanation methods as the engine
(gi, cp-lrp, pa-lrp; docs/rules.md states every rule) on the checkpoint the driver wrote, times
them warm, and writes the relevance per token and position for the driver to compare.

The rules are written the way the engine runs them, as modified gradients:
  epsilon rule (linear, pa-lrp)   g_x = W^T (g_z * z / (z + eps*sign z))          EpsilonLinear
  uniform rule (Q.K^T, A.V)       each operand gets half of its gradient           UniformMatmul
  identity rule (GELU, cp/pa)     g_x = g_y * f(x) / x                             IdentityGeluTanh
  norm scale detached (cp/pa)     g_x = C (gamma * g_y) / sigma                    LayerNormScaleDetached
  RMSNorm scale detached, SiLU (cp/pa)  the same, with rms and silu
  gated product act(gate)*up      pa-lrp: uniform; cp-lrp: gate detached
  rotary x*cos + rot(x)*sin       pa-lrp: uniform (x, cos and sin each get half their gradient)
  softmax: gradient (pa-lrp), output detached (cp-lrp); gi: the plain gradient everywhere.
Relevance at the inputs is x * g_x, summed over the hidden dimension per position, for the token
embeddings E and the positional tensors (GPT-2's position embeddings; each layer's own rotary
cos and sin), which are inputs for all three methods.

The model code is checked once, untimed, against the fixtures' float64 reference forward
(scripts/fixtures/hf_gpt2.py), whose building blocks (hf_blocks.py) it reuses where speed
does not matter.

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
import torch.nn.functional as F

sys.dont_write_bytecode = True  # no __pycache__ in the checkout
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures"))
from hf_blocks import split_heads, merge_heads  # noqa: E402
from hf_gpt2 import gpt2_forward  # noqa: E402
from hf_llama import llama_forward, repeat_kv, rotary_cos_sin, rotate_half  # noqa: E402

EPSILON = 1e-6  # lrp/rules/epsilon.ts DEFAULT_EPSILON
TINY = 1e-12  # lrp/rules/identity.ts


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
# Rules as autograd functions


def sign0(z):
    """sign with sign(0) = +1, so z + eps*sign z is never 0."""
    return torch.where(z >= 0, 1.0, -1.0).to(z.dtype)


def conv1d(x, w, b):
    """GPT-2's Conv1D, W stored [in, out]: x W + b."""
    return torch.addmm(b, x.reshape(-1, x.shape[-1]), w).reshape(*x.shape[:-1], w.shape[1])


class EpsilonLinear(torch.autograd.Function):
    """z = x W + b (W stored [in, out], GPT-2's Conv1D); g_x = (g_z * z / (z + eps sign z)) W^T."""

    @staticmethod
    def forward(ctx, x, w, b, eps):
        z = conv1d(x, w, b)
        ctx.save_for_backward(z, w)
        ctx.eps = eps
        return z

    @staticmethod
    def backward(ctx, g):
        z, w = ctx.saved_tensors
        s = g * z / (z + ctx.eps * sign0(z))
        return s @ w.T, None, None, None


class EpsilonLinearOutIn(torch.autograd.Function):
    """The same for nn.Linear's layout, W stored [out, in]: z = x W^T + b."""

    @staticmethod
    def forward(ctx, x, w, b, eps):
        z = F.linear(x, w, b)
        ctx.save_for_backward(z, w)
        ctx.eps = eps
        return z

    @staticmethod
    def backward(ctx, g):
        z, w = ctx.saved_tensors
        s = g * z / (z + ctx.eps * sign0(z))
        return s @ w, None, None, None


class EpsilonHead(torch.autograd.Function):
    """The tied LM head at one position, z = E h (E [V, D]): the epsilon rule as above, as a GEMV."""

    @staticmethod
    def forward(ctx, h, table, eps):
        z = torch.mv(table, h)
        ctx.save_for_backward(z, table)
        ctx.eps = eps
        return z

    @staticmethod
    def backward(ctx, g):
        z, table = ctx.saved_tensors
        s = g * z / (z + ctx.eps * sign0(z))
        return torch.mv(table.T, s), None, None


class UniformMatmul(torch.autograd.Function):
    """C = A B with both operands variable: each gets half of its ordinary gradient."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return 0.5 * (g @ b.transpose(-1, -2)), 0.5 * (a.transpose(-1, -2) @ g)


class IdentityGeluTanh(torch.autograd.Function):
    """y = gelu_tanh(x); g_x = g_y * y / x (0 where x = 0)."""

    @staticmethod
    def forward(ctx, x):
        y = F.gelu(x, approximate="tanh")
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return g * y / (x + TINY * sign0(x))


class IdentitySilu(torch.autograd.Function):
    """y = silu(x); g_x = g_y * y / x (0 where x = 0)."""

    @staticmethod
    def forward(ctx, x):
        y = F.silu(x)
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return g * y / (x + TINY * sign0(x))


class RmsNormScaleDetached(torch.autograd.Function):
    """y = gamma x / rms(x); g_x = gamma g_y / rms, rms held constant (the identity rule)."""

    @staticmethod
    def forward(ctx, x, w, eps):
        rinv = torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
        ctx.save_for_backward(w, rinv)
        return w * (x * rinv)

    @staticmethod
    def backward(ctx, g):
        w, rinv = ctx.saved_tensors
        return g * w * rinv, None, None


def halve_gradient(t):
    """The uniform rule on a product whose operands are all variable: each gets half its gradient."""
    if t.requires_grad:
        t.register_hook(lambda g: 0.5 * g)
    return t


class LayerNormScaleDetached(torch.autograd.Function):
    """y = gamma (x - mean) / sigma + beta; g_x = C (gamma g_y) / sigma, sigma held constant."""

    @staticmethod
    def forward(ctx, x, w, b, eps):
        var, _ = torch.var_mean(x, dim=-1, unbiased=False, keepdim=True)
        rstd = torch.rsqrt(var + eps)
        ctx.save_for_backward(w, rstd)
        return F.layer_norm(x, (x.shape[-1],), w, b, eps)

    @staticmethod
    def backward(ctx, g):
        w, rstd = ctx.saved_tensors
        gw = g * w
        return (gw - gw.mean(-1, keepdim=True)) * rstd, None, None, None


# ---------------------------------------------------------------------------------------------
# GPT-2 with the rules of one method (None: plain inference)


class Gpt2:
    def __init__(self, params: dict, config: dict):
        self.p = params
        self.config = config
        self.layers = config["n_layer"]
        self.heads = config["n_head"]
        self.eps = config["layer_norm_epsilon"]
        self.wte = params["transformer.wte.weight"]

    def linear(self, method, x, w, b):
        return EpsilonLinear.apply(x, w, b, EPSILON) if method == "pa-lrp" else conv1d(x, w, b)

    def norm(self, method, x, name):
        w, b = self.p[f"{name}.weight"], self.p[f"{name}.bias"]
        if method in ("cp-lrp", "pa-lrp"):
            return LayerNormScaleDetached.apply(x, w, b, self.eps)
        return F.layer_norm(x, (x.shape[-1],), w, b, self.eps)

    def inputs(self, ids):
        """The input tensors: token embeddings [1, T, D] and the position embeddings [1, T, D]."""
        t = len(ids)
        return self.wte[torch.tensor(ids)][None], [self.p["transformer.wpe.weight"][:t][None]]

    def logits_last(self, method, e, positional):
        """Logits of the last position for embeddings e [1, T, D] and the position embeddings."""
        p = self.p
        h = e + positional[0]
        t = h.shape[1]
        causal = torch.ones(t, t, dtype=torch.bool).triu(1)
        scale = 1.0 / math.sqrt(h.shape[-1] // self.heads)
        for i in range(self.layers):
            pre = f"transformer.h.{i}"
            x = self.norm(method, h, f"{pre}.ln_1")
            qkv = self.linear(method, x, p[f"{pre}.attn.c_attn.weight"], p[f"{pre}.attn.c_attn.bias"])
            q, k, v = (split_heads(part, self.heads) for part in qkv.split(h.shape[-1], dim=-1))
            scores = (UniformMatmul.apply(q, k.transpose(-1, -2)) if method == "pa-lrp" else q @ k.transpose(-1, -2)) * scale
            probs = torch.softmax(scores.masked_fill(causal, torch.finfo(scores.dtype).min), dim=-1)
            if method == "cp-lrp":
                probs = probs.detach()
            context = UniformMatmul.apply(probs, v) if method == "pa-lrp" else probs @ v
            h = h + self.linear(method, merge_heads(context), p[f"{pre}.attn.c_proj.weight"], p[f"{pre}.attn.c_proj.bias"])
            x = self.norm(method, h, f"{pre}.ln_2")
            x = self.linear(method, x, p[f"{pre}.mlp.c_fc.weight"], p[f"{pre}.mlp.c_fc.bias"])
            x = IdentityGeluTanh.apply(x) if method in ("cp-lrp", "pa-lrp") else F.gelu(x, approximate="tanh")
            h = h + self.linear(method, x, p[f"{pre}.mlp.c_proj.weight"], p[f"{pre}.mlp.c_proj.bias"])
        last = self.norm(method, h[0, -1, :], "transformer.ln_f")
        # The tied LM head at the last position: one matrix-vector product over the vocabulary.
        return EpsilonHead.apply(last, self.wte, EPSILON) if method == "pa-lrp" else torch.mv(self.wte, last)

    def reference_logits(self, ids):
        """The fixtures' float64 forward (scripts/fixtures/hf_gpt2.py), last position."""
        out = gpt2_forward(self.p, self.config, torch.tensor([ids]))
        return out["logits"][0, -1]


# ---------------------------------------------------------------------------------------------
# LLaMA family (LLaMA, Qwen2): RMSNorm, rotary positions (per layer cos/sin inputs), GQA, SwiGLU


class Llama:
    def __init__(self, params: dict, config: dict):
        head_dim = config["hidden_size"] // config["num_attention_heads"]
        if config.get("rope_scaling") is not None or config.get("partial_rotary_factor", 1) != 1 or config.get("head_dim", head_dim) != head_dim:
            raise SystemExit("compare-pytorch.py: rope_scaling, partial rotary and a separate head_dim are not implemented here")
        if config["model_type"] not in ("llama", "qwen2"):
            raise SystemExit(f"compare-pytorch.py: model_type {config['model_type']} is not implemented here")
        self.p = params
        self.config = config
        self.layers = config["num_hidden_layers"]
        self.heads = config["num_attention_heads"]
        self.kv_heads = config["num_key_value_heads"]
        self.head_dim = config["hidden_size"] // self.heads
        self.eps = config["rms_norm_eps"]
        self.embed = params["model.embed_tokens.weight"]
        self.head = params.get("lm_head.weight", self.embed)

    def linear(self, method, x, name):
        w, b = self.p[f"{name}.weight"], self.p.get(f"{name}.bias")
        return EpsilonLinearOutIn.apply(x, w, b, EPSILON) if method == "pa-lrp" else F.linear(x, w, b)

    def norm(self, method, x, name):
        w = self.p[f"{name}.weight"]
        if method in ("cp-lrp", "pa-lrp"):
            return RmsNormScaleDetached.apply(x, w, self.eps)
        return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))

    def inputs(self, ids):
        """Token embeddings [1, T, D] and, per layer, its own copy of the rotary cos and sin [T, d]."""
        cos, sin = rotary_cos_sin(len(ids), self.head_dim, self.config["rope_theta"])
        cos, sin = cos.float(), sin.float()
        return self.embed[torch.tensor(ids)][None], [t.clone() for _ in range(self.layers) for t in (cos, sin)]

    def rotate(self, method, x, cos, sin):
        out = x * cos + rotate_half(x) * sin
        return halve_gradient(out) if method == "pa-lrp" else out

    def logits_last(self, method, e, positional):
        h = e
        t = h.shape[1]
        causal = torch.ones(t, t, dtype=torch.bool).triu(1)
        scale = 1.0 / math.sqrt(self.head_dim)
        n_rep = self.heads // self.kv_heads
        for i in range(self.layers):
            pre = f"model.layers.{i}"
            cos, sin = positional[2 * i], positional[2 * i + 1]
            x = self.norm(method, h, f"{pre}.input_layernorm")
            q = self.rotate(method, split_heads(self.linear(method, x, f"{pre}.self_attn.q_proj"), self.heads), cos, sin)
            k = self.rotate(method, split_heads(self.linear(method, x, f"{pre}.self_attn.k_proj"), self.kv_heads), cos, sin)
            v = split_heads(self.linear(method, x, f"{pre}.self_attn.v_proj"), self.kv_heads)
            k, v = repeat_kv(k, n_rep), repeat_kv(v, n_rep)
            scores = (UniformMatmul.apply(q, k.transpose(-1, -2)) if method == "pa-lrp" else q @ k.transpose(-1, -2)) * scale
            probs = torch.softmax(scores.masked_fill(causal, torch.finfo(scores.dtype).min), dim=-1)
            if method == "cp-lrp":
                probs = probs.detach()
            context = UniformMatmul.apply(probs, v) if method == "pa-lrp" else probs @ v
            h = h + self.linear(method, merge_heads(context), f"{pre}.self_attn.o_proj")
            x = self.norm(method, h, f"{pre}.post_attention_layernorm")
            gate = self.linear(method, x, f"{pre}.mlp.gate_proj")
            up = self.linear(method, x, f"{pre}.mlp.up_proj")
            if method == "gi":
                gated = F.silu(gate) * up
            elif method == "cp-lrp":
                gated = F.silu(gate).detach() * up
            else:
                gated = IdentitySilu.apply(gate) * up
                gated = halve_gradient(gated) if method == "pa-lrp" else gated
            h = h + self.linear(method, gated, f"{pre}.mlp.down_proj")
        last = self.norm(method, h[0, -1, :], "model.norm")
        return EpsilonHead.apply(last, self.head, EPSILON) if method == "pa-lrp" else torch.mv(self.head, last)

    def reference_logits(self, ids):
        """The fixtures' float64 forward (scripts/fixtures/hf_llama.py), last position."""
        params = dict(self.p)
        params.setdefault("lm_head.weight", self.head)
        return llama_forward(params, self.config, torch.tensor([ids]))["logits"][0, -1]


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
    families = {"gpt2": Gpt2, "llama": Llama, "qwen2": Llama}
    if config.get("model_type") not in families:
        raise SystemExit(f"compare-pytorch.py: model_type {config.get('model_type')} is not implemented here ({', '.join(families)})")
    t0 = time.perf_counter()
    params = read_safetensors(os.path.join(args.dir, "model.safetensors"))
    model = families[config["model_type"]](params, config)
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
