"""GPT-2 and the LLaMA family (LLaMA, Qwen2; no rope scaling) in float32 PyTorch, each with the
rules of one method (gi, cp-lrp, pa-lrp; None for plain inference), for the comparison in
scripts/compare-pytorch.py. The building blocks and the float64 reference forwards are the
fixtures' (scripts/fixtures/), which this code is checked against.

A model exposes `inputs(ids)` (token embeddings [1, T, D] and the list of positional tensors:
GPT-2's position embeddings, or every layer's own rotary cos and sin) and
`logits_last(method, embeddings, positional)` (the logits at the last position).
"""

import math
import os
import sys

import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True  # no __pycache__ in the checkout
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures"))
from hf_blocks import split_heads, merge_heads  # noqa: E402
from hf_gpt2 import gpt2_forward  # noqa: E402
from hf_llama import llama_forward, repeat_kv, rotary_cos_sin, rotate_half  # noqa: E402
from compare_torch_rules import (  # noqa: E402
    EPSILON, EpsilonHead, EpsilonLinear, EpsilonLinearOutIn, IdentityGeluTanh, IdentitySilu,
    LayerNormScaleDetached, RmsNormScaleDetached, UniformMatmul, conv1d, halve_gradient,
)


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


FAMILIES = {"gpt2": Gpt2, "llama": Llama, "qwen2": Llama}
