"""The LRP rules of the engine (docs/rules.md) as PyTorch autograd functions, for the comparison in
scripts/compare-pytorch.py. Each keeps the forward value and replaces the backward (the engine's
modified gradient, so relevance at an input is x * g_x):

  epsilon rule (linear, pa-lrp)   g_x = W^T (g_z * z / (z + eps*sign z))          EpsilonLinear, EpsilonLinearOutIn, EpsilonHead
  uniform rule (Q.K^T, A.V)       each operand gets half of its gradient           UniformMatmul, halve_gradient
  identity rule (GELU, SiLU)      g_x = g_y * f(x) / x                             IdentityGeluTanh, IdentitySilu
  norm scale detached             g_x = C (gamma * g_y) / sigma  (LayerNorm)       LayerNormScaleDetached
                                  g_x = gamma * g_y / rms        (RMSNorm)         RmsNormScaleDetached
"""

import torch
import torch.nn.functional as F

EPSILON = 1e-6  # lrp/rules/epsilon.ts DEFAULT_EPSILON
TINY = 1e-12  # lrp/rules/identity.ts


def sign0(z):
    """sign with sign(0) = +1, so z + eps*sign z is never 0."""
    return torch.where(z >= 0, 1.0, -1.0).to(z.dtype)


def conv1d(x, w, b):
    """GPT-2's Conv1D, W stored [in, out]: x W + b."""
    return torch.addmm(b, x.reshape(-1, x.shape[-1]), w).reshape(*x.shape[:-1], w.shape[1])


def _epsilon_linear(name, product, input_grad, doc):
    """The epsilon rule on a linear layer: g_x = input_grad(g_z * z / (z + eps sign z), W)."""

    def forward(ctx, x, w, b, eps):
        z = product(x, w, b)
        ctx.save_for_backward(z, w)
        ctx.eps = eps
        return z

    def backward(ctx, g):
        z, w = ctx.saved_tensors
        s = g * z / (z + ctx.eps * sign0(z))
        return input_grad(s, w), None, None, None

    return type(name, (torch.autograd.Function,), {"__doc__": doc, "forward": staticmethod(forward), "backward": staticmethod(backward)})


EpsilonLinear = _epsilon_linear(
    "EpsilonLinear", conv1d, lambda s, w: s @ w.T,
    "z = x W + b (W stored [in, out], GPT-2's Conv1D); g_x = (g_z * z / (z + eps sign z)) W^T.",
)
EpsilonLinearOutIn = _epsilon_linear(
    "EpsilonLinearOutIn", F.linear, lambda s, w: s @ w,
    "The same for nn.Linear's layout, W stored [out, in]: z = x W^T + b.",
)


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


def _identity_rule(activation, name):
    """The identity rule on an elementwise activation: y = f(x); g_x = g_y * y / x (0 where x = 0)."""

    def forward(ctx, x):
        y = activation(x)
        ctx.save_for_backward(x, y)
        return y

    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return g * y / (x + TINY * sign0(x))

    doc = f"y = {name}(x); g_x = g_y * y / x (0 where x = 0): the identity rule."
    return type(name, (torch.autograd.Function,), {"__doc__": doc, "forward": staticmethod(forward), "backward": staticmethod(backward)})


IdentityGeluTanh = _identity_rule(lambda x: F.gelu(x, approximate="tanh"), "IdentityGeluTanh")
IdentitySilu = _identity_rule(F.silu, "IdentitySilu")


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
