"""Run a Hugging Face transformers model on the meta device and record what it executes.

The model is built from its config on `torch.device("meta")` (shapes and dtypes only, so an
8B or 47B model builds and runs in about a second) and called under a TorchFunctionMode that
sees every Python-level torch call with its real arguments. That is what gives parameter
identity: `F.linear(x, W)` receives the Parameter object itself, so a weight used by every
loop iteration, or a tied embedding used by the LM head, is one `weight_id`.

Three parts of the run are intercepted rather than traced op by op, each for a stated reason:
- attention: a registered attention implementation records Q.K^T and P.V from the real
  query/key/value shapes (full rectangle, as build_trace counts it) and returns an empty
  output; mask construction is skipped (masks cost no matmul FLOPs).
- the KV cache: `DynamicCache.update` is wrapped to record the K/V written (the new tokens) and
  read (everything the attention then uses) and the cache slot (`layer_idx`), without the
  re-concatenation the Python cache does.
- MoE experts: which expert a token picks is data, which the meta device has none of; the
  tokens x top_k assignments are spread over experts by hwsim's routing assumption
  (workload/moe.py, uniform), each assignment running one expert's gate/up and down matrices.

Not seen: anything a custom CUDA/C++ kernel fuses away, and data-dependent control flow
(early exit, halting), which on the meta device cannot run.
"""

from __future__ import annotations

from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from hwsim.capture import require
from hwsim.errors import ConfigError

ATTENTION_IMPL = "hwsim_capture"

# Functions that move, view or convert data without arithmetic (a dtype cast keeps the
# identity of the weight it converts).
_FREE = {
    "view", "reshape", "transpose", "permute", "contiguous", "expand", "expand_as", "unsqueeze",
    "squeeze", "flatten", "unflatten", "__getitem__", "to", "float", "half", "bfloat16", "type_as",
    "type", "clone", "detach", "narrow", "split", "chunk", "t", "T", "repeat", "repeat_interleave",
    "empty", "empty_like", "zeros", "zeros_like", "ones", "ones_like", "full", "arange", "new_zeros",
    "new_ones", "new_empty", "new_full", "fill_", "zero_", "copy_", "__setitem__", "stack",
    "one_hot", "topk", "argmax", "triu", "tril", "masked_fill", "where", "index_select", "gather",
    "dropout", "size", "dim", "numel", "__get__", "element_size", "item", "tolist",
}
_CASTS = {"to", "float", "half", "bfloat16", "type_as", "type", "detach", "contiguous", "view", "reshape", "t"}
_MATMUL = {"linear", "addmm", "matmul", "mm", "bmm", "__matmul__", "baddbmm"}
_VECTOR_KIND = {
    "softmax": "softmax", "log_softmax": "softmax",
    "silu": "act", "gelu": "act", "sigmoid": "act", "tanh": "act", "relu": "act", "exp": "act", "erf": "act",
    "add": "add", "__add__": "add", "__radd__": "add", "__iadd__": "add", "add_": "add", "sub": "add",
    "__sub__": "add", "__rsub__": "add", "index_add_": "add",
    "layer_norm": "norm", "rms_norm": "norm", "rsqrt": "norm", "pow": "norm", "__pow__": "norm",
    "mean": "norm", "var": "norm", "cos": "rope", "sin": "rope", "cat": "rope", "neg": "rope", "__neg__": "rope",
}


@dataclass
class Op:
    """One recorded op, in OpTrace terms (see hwsim.capture.convert)."""

    kind: str
    name: str
    m: int = 0
    n: int = 0
    k: int = 0
    flops: float = 0.0
    weight_id: str = ""
    weight_bytes: float = 0.0
    weight_bits: float = 0.0
    act_in_bytes: float = 0.0
    act_out_bytes: float = 0.0
    kv_read_bytes: float = 0.0
    kv_write_bytes: float = 0.0
    layer: int = -1
    block_id: str = ""
    application: int = -1
    expert_id: int | None = None
    tokens: int = 0


@dataclass
class Capture:
    """What one forward executed: ops in order, the physical layer of every layer application,
    every parameter once (unique weights) and the KV cache slots written."""

    model_type: str
    phase: str
    batch: int
    context_len: int
    itemsize: int = 2           # bytes per activation / KV element (the model dtype)
    ops: list[Op] = field(default_factory=list)
    applications: list[int] = field(default_factory=list)
    parameter_bytes: dict[str, float] = field(default_factory=dict)
    kv_slots: set[int] = field(default_factory=set)


def build_config(config: dict[str, Any], source: str):
    """A transformers config object from a config.json dict (keys starting with '_' other than
    the standard ones are notes, e.g. `_source`, and are dropped)."""
    _, transformers = require()
    model_type = config.get("model_type")
    if not isinstance(model_type, str):
        raise ConfigError(f"{source}: model_type: required to capture (the transformers architecture)")
    fields = {k: v for k, v in config.items() if k != "model_type" and not (k.startswith("_") and k != "_name_or_path")}
    try:
        return transformers.AutoConfig.for_model(model_type, **fields)
    except ValueError as exc:
        raise ConfigError(f"{source}: model_type: transformers {transformers.__version__} cannot build "
                          f"{model_type!r} ({' '.join(str(exc).split())[:200]})") from None


def instantiate(config: dict[str, Any], source: str, dtype: str = "bfloat16"):
    """The model built on the meta device: a causal LM where transformers has one for the
    architecture, else the base model (ALBERT: encoder and pooler)."""
    torch, transformers = require()
    from transformers.models.auto import modeling_auto

    transformers.logging.set_verbosity_error()   # config warnings about token ids etc. are not ours
    cfg = build_config(config, source)
    _register_attention()
    causal = cfg.model_type in modeling_auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
    auto = transformers.AutoModelForCausalLM if causal else transformers.AutoModel
    try:
        with torch.device("meta"):
            model = auto.from_config(cfg, dtype=getattr(torch, dtype), attn_implementation=ATTENTION_IMPL)
    except (ValueError, TypeError, KeyError) as exc:
        raise ConfigError(f"{source}: transformers cannot build this model on the meta device: "
                          f"{' '.join(str(exc).split())[:200]}") from None
    return model.eval(), causal


def capture(config: dict[str, Any], phase: str, batch: int = 1, context_len: int = 64, *,
            seq_len: int | None = None, source: str = "config", dtype: str = "bfloat16") -> Capture:
    """Record one prefill over `context_len` tokens per sequence (or `seq_len` for a
    non-causal model), or one decode step of one token with `context_len` tokens cached."""
    torch, _ = require()
    model, causal = instantiate(config, source, dtype)
    if phase == "decode" and not causal:
        raise ConfigError(f"{source}: {model.config.model_type} has no causal LM head: no decode phase; use prefill")
    tokens = seq_len or context_len
    if tokens < 1:
        raise ConfigError(f"{source}: prefill needs at least one token, got {tokens}")
    result = Capture(model.config.model_type, phase, batch, context_len, itemsize=getattr(torch, dtype).itemsize)
    recorder = _Recorder(model, result, torch)
    with torch.no_grad(), recorder.installed():
        kwargs: dict[str, Any] = {}
        if causal:
            kwargs["use_cache"] = True
        ids = torch.zeros(batch, tokens, dtype=torch.long, device="meta")
        try:
            if phase == "decode":
                past = model(input_ids=ids, logits_to_keep=1, **kwargs).past_key_values
                ids = torch.zeros(batch, 1, dtype=torch.long, device="meta")
                kwargs["past_key_values"] = past
            elif causal:
                kwargs["logits_to_keep"] = 1   # generation's prefill: logits of the last token only
            recorder.recording = True
            with recorder.mode():
                model(input_ids=ids, **kwargs)
        except (RuntimeError, NotImplementedError, ValueError, TypeError) as exc:
            raise ConfigError(f"{source}: the transformers {model.config.model_type} code cannot run on the meta "
                              f"device (data-dependent control flow?): {' '.join(str(exc).split())[:200]}") from None
    return result


# -- the recorder ---------------------------------------------------------------------------

_ACTIVE: list["_Recorder"] = []


def _register_attention() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface

    AttentionInterface.register(ATTENTION_IMPL, _attention)
    AttentionMaskInterface.register(ATTENTION_IMPL, lambda *args, **kwargs: None)


def _attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """Q.K^T and P.V of one attention call, recorded from the real shapes; output is empty."""
    import torch

    recorder = _ACTIVE[-1] if _ACTIVE else None
    batch, heads, q_len, head_dim = query.shape
    keys, value_dim = key.shape[-2], value.shape[-1]
    if recorder is not None and recorder.recording:
        recorder.attention(batch * heads, q_len, keys, head_dim, value_dim, query)
    return torch.empty(batch, q_len, heads, value_dim, dtype=query.dtype, device=query.device), None


class _Recorder:
    def __init__(self, model, result: Capture, torch):
        self.model, self.result, self.torch = model, result, torch
        self.recording = False
        self.paused = 0
        self.names = {id(p): name for name, p in model.named_parameters()}
        self.params = {name: p for name, p in model.named_parameters()}
        result.parameter_bytes = {name: float(p.numel() * p.element_size()) for name, p in self.params.items()}
        out = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
        self.head_id = self.names.get(id(out.weight)) if out is not None else None
        self.alias: dict[int, tuple[Any, str]] = {}   # id(tensor) -> (tensor, parameter name) for casts
        self.where = (-1, "", -1)                        # (layer, block path, application)
        self.pending_kv: tuple[float, float, float] | None = None
        self.layers = _layer_modules(model, torch)

    # -- installation ------------------------------------------------------------------------
    @contextmanager
    def installed(self):
        from unittest import mock

        from transformers.cache_utils import DynamicCache

        original_update = DynamicCache.update
        recorder = self

        def update(cache, key_states, value_states, layer_idx, *args, **kwargs):
            with recorder.pause():
                keys, values = original_update(cache, key_states, value_states, layer_idx, *args, **kwargs)
            if recorder.recording:
                recorder.kv(layer_idx, key_states, value_states, keys, values)
            return keys, values

        with ExitStack() as stack:
            stack.enter_context(mock.patch.object(DynamicCache, "update", update))
            for index, (path, module) in enumerate(self.layers):
                stack.callback(module.register_forward_pre_hook(self._enter(index, path)).remove)
                stack.callback(module.register_forward_hook(self._leave).remove)
            for name, module in self.model.named_modules():
                if _is_experts(module):
                    stack.enter_context(mock.patch.object(module, "forward", self._experts(name, module)))
            _ACTIVE.append(self)
            stack.callback(_ACTIVE.pop)
            yield

    @contextmanager
    def mode(self):
        from torch.overrides import TorchFunctionMode

        recorder = self

        class Mode(TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):
                kwargs = kwargs or {}
                out = func(*args, **kwargs)
                if recorder.recording and not recorder.paused:
                    recorder.observe(func, args, kwargs, out)
                return out

        with Mode():
            yield

    @contextmanager
    def pause(self):
        self.paused += 1
        try:
            yield
        finally:
            self.paused -= 1

    def _enter(self, index: int, path: str):
        def hook(module, args):
            if self.recording:
                self.result.applications.append(index)
                self.where = (index, path, len(self.result.applications) - 1)
        return hook

    def _leave(self, module, args, output):
        self.where = (-1, "", -1)

    # -- rows --------------------------------------------------------------------------------
    def add(self, **row) -> Op:
        layer, block, application = self.where
        op = Op(layer=layer, block_id=block, application=application, **row)
        self.result.ops.append(op)
        return op

    def _param(self, tensor) -> str | None:
        name = self.names.get(id(tensor))
        if name is None and id(tensor) in self.alias:
            name = self.alias[id(tensor)][1]
        return name

    def _bytes(self, tensor) -> float:
        return float(tensor.numel() * tensor.element_size())

    def observe(self, func, args, kwargs, out) -> None:
        torch = self.torch
        name = getattr(func, "__name__", "")
        if not isinstance(out, torch.Tensor):
            return
        if name in _CASTS and args and isinstance(args[0], torch.Tensor):
            param = self._param(args[0])
            if param is not None:
                self.alias[id(out)] = (out, param)
        if not out.is_floating_point() or name in _FREE:
            return
        if name in _MATMUL:
            self._matmul(name, args, kwargs, out)
        elif name == "embedding":
            self.add(kind="embed", name=self._param(args[1]) or "embedding",
                     act_in_bytes=self._bytes(out), act_out_bytes=self._bytes(out), tokens=self._rows(out))
        else:
            self._vector(name, args, kwargs, out)

    def _rows(self, out) -> int:
        return int(out.numel() // out.shape[-1]) if out.dim() and out.shape[-1] else 1

    def _matmul(self, name, args, kwargs, out) -> None:
        torch = self.torch
        tensors = [a for a in args if isinstance(a, torch.Tensor)]
        bias = kwargs.get("bias")
        if name == "linear":
            x, weight = tensors[0], tensors[1]
            bias = tensors[2] if len(tensors) > 2 else bias
            k, n = weight.shape[-1], weight.shape[0]
            m, act_in = x.numel() // k, self._bytes(x)
        elif name == "addmm":          # GPT-2's Conv1D: addmm(bias, x, W[in, out])
            bias, x, weight = tensors[0], tensors[1], tensors[2]
            m, k, n = x.shape[0], weight.shape[0], weight.shape[1]
            act_in = self._bytes(x)
        else:
            a, b = tensors[-2], tensors[-1]
            k, n = b.shape[-1 if b.dim() == 1 else -2], (1 if b.dim() == 1 else b.shape[-1])
            m = out.numel() // n
            weight = b if self._param(b) else a if self._param(a) else None
            act_in = sum(self._bytes(t) for t in (a, b) if t is not weight)
        weight_id = self._param(weight) if weight is not None else None
        weight_bytes = self._bytes(self.params[weight_id]) if weight_id else 0.0
        bias_id = self._param(bias) if isinstance(bias, torch.Tensor) else None
        if bias_id:
            weight_bytes += self._bytes(self.params[bias_id])
        kind = "lm_head" if weight_id is not None and weight_id == self.head_id and self.where[0] < 0 else "matmul"
        self.add(kind=kind, name=weight_id or name, m=int(m), n=int(n), k=int(k), flops=2.0 * m * n * k,
                 weight_id=weight_id or "", weight_bytes=weight_bytes,
                 weight_bits=8.0 * weight.element_size() if weight_id else 0.0,
                 act_in_bytes=act_in, act_out_bytes=self._bytes(out), tokens=int(m))

    def _vector(self, name, args, kwargs, out) -> None:
        torch = self.torch
        tensors = [a for a in list(args) + list(kwargs.values()) if isinstance(a, torch.Tensor)]
        params = list(dict.fromkeys(p for p in (self._param(t) for t in tensors) if p))
        elements = max([t.numel() for t in tensors] + [out.numel()])
        self.add(kind=_VECTOR_KIND.get(name, "scale"), name=name, flops=float(elements),
                 weight_id=params[0] if params else "",
                 weight_bytes=sum(self._bytes(self.params[p]) for p in params),
                 weight_bits=8.0 * self.params[params[0]].element_size() if params else 0.0,
                 act_in_bytes=sum(self._bytes(t) for t in tensors), act_out_bytes=self._bytes(out),
                 tokens=self._rows(out))

    def kv(self, slot: int, new_k, new_v, all_k, all_v) -> None:
        self.result.kv_slots.add(int(slot))
        self.pending_kv = (self._bytes(new_k) + self._bytes(new_v), self._bytes(all_k), self._bytes(all_v))

    def attention(self, heads_m: int, q_len: int, keys: int, head_dim: int, value_dim: int, query) -> None:
        """attn_score, softmax, attn_value rows; K/V read and written come from the cache update
        this attention call followed (none for a model without a cache: ALBERT)."""
        write, read_k, read_v = self.pending_kv or (0.0, 0.0, 0.0)
        self.pending_kv = None
        item = query.element_size()
        m = heads_m * q_len
        self.add(kind="attn_score", name="attn_score", m=m, n=keys, k=head_dim, flops=2.0 * m * keys * head_dim,
                 act_in_bytes=float(m * head_dim * item), act_out_bytes=float(m * keys * item),
                 kv_read_bytes=read_k, kv_write_bytes=write, tokens=q_len)
        self.add(kind="softmax", name="softmax", flops=float(m * keys), act_in_bytes=float(m * keys * item),
                 act_out_bytes=float(m * keys * item), tokens=q_len)
        self.add(kind="attn_value", name="attn_value", m=m, n=value_dim, k=keys, flops=2.0 * m * value_dim * keys,
                 act_in_bytes=float(m * keys * item), act_out_bytes=float(m * value_dim * item),
                 kv_read_bytes=read_v, tokens=q_len)

    def _experts(self, name: str, module):
        """Replacement forward of a fused-experts module (gate_up_proj [E, 2F, H], down_proj [E, H, F])."""
        from hwsim.spec.model import MoESpec
        from hwsim.workload.moe import expert_token_counts

        gate_up, down = module.gate_up_proj, module.down_proj
        experts = gate_up.shape[0]
        up_bytes, down_bytes = self._bytes(gate_up) / experts, self._bytes(down) / experts
        bits = 8.0 * gate_up.element_size()
        gate_up_name, down_name = self.names[id(gate_up)], self.names[id(down)]

        def forward(hidden_states, top_k_index, top_k_weights, *args, **kwargs):
            tokens, hidden = hidden_states.shape[0], hidden_states.shape[-1]
            top_k = top_k_index.shape[-1]
            width = down.shape[1] if down.shape[2] == hidden else down.shape[2]
            twice = gate_up.shape[1] if gate_up.shape[2] == hidden else gate_up.shape[2]
            item = hidden_states.element_size()
            if self.recording and not self.paused:
                spec = MoESpec(num_experts=experts, top_k=top_k, expert_intermediate_size=width)
                for expert, count in enumerate(expert_token_counts(spec, tokens)):
                    if not count:
                        continue
                    count = int(count)
                    self.add(kind="expert", name=f"{gate_up_name}[{expert}]", m=count, n=twice, k=hidden,
                             flops=2.0 * count * twice * hidden, weight_id=f"{gate_up_name}[{expert}]",
                             weight_bytes=up_bytes, weight_bits=bits, act_in_bytes=float(count * hidden * item),
                             act_out_bytes=float(count * twice * item), expert_id=expert, tokens=count)
                    self.add(kind="act", name="expert_act", flops=float(count * twice),
                             act_in_bytes=float(count * twice * item), act_out_bytes=float(count * width * item),
                             tokens=count)
                    self.add(kind="expert", name=f"{down_name}[{expert}]", m=count, n=hidden, k=width,
                             flops=2.0 * count * hidden * width, weight_id=f"{down_name}[{expert}]",
                             weight_bytes=down_bytes, weight_bits=bits, act_in_bytes=float(count * width * item),
                             act_out_bytes=float(count * hidden * item), expert_id=expert, tokens=count)
                self.add(kind="add", name="moe_combine", flops=float(2 * tokens * top_k * hidden),
                         act_in_bytes=float(tokens * top_k * hidden * item),
                         act_out_bytes=float(tokens * hidden * item), tokens=tokens)
            with self.pause():
                return self.torch.zeros_like(hidden_states)

        return forward


def _is_experts(module) -> bool:
    gate_up, down = getattr(module, "gate_up_proj", None), getattr(module, "down_proj", None)
    return all(getattr(p, "dim", lambda: 0)() == 3 for p in (gate_up, down))


def _layer_modules(model, torch) -> list[tuple[str, Any]]:
    """The repeated layers: children of a ModuleList that contain an attention module, in
    module order (innermost lists); their position is the physical layer index."""
    found = []
    for path, module in model.named_modules():
        if isinstance(module, torch.nn.ModuleList):
            for i, child in enumerate(module):
                if any(type(sub).__name__.endswith("Attention") for sub in child.modules()):
                    found.append((f"{path}.{i}", child))
    # ALBERT nests its layers in a list of layer groups: keep the innermost level.
    return [(path, m) for path, m in found if not any(other.startswith(path + ".") for other, _ in found)]
