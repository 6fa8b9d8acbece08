"""Every weight tensor of a model, each with one identity (`weight_id`) and its size.

This table is the single source of truth for parameters: `hwsim show` counts them, the trace
builder references them by `weight_id` (the same id in every loop iteration of a shared block,
a distinct id per expert), and weight bytes follow from the QuantSpec per tensor role.
Biases are folded into their matrix; norm scales and Huginn's q/k bias are vector tensors.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal, NamedTuple

from hwsim import cache, units
from hwsim.spec.model import ModelSpec
from hwsim.workload.schedule import Step, expand, num_physical_layers, one_pass

TensorKind = Literal["matrix", "vector", "embedding"]
# Tensor roles under the names QuantSpec's per-role rules use (llama.cpp's attn_v, ffn_down).
_QUANT_ROLE = {"v": "attn_v", "down": "mlp_down", "expert_down": "mlp_down"}


class WeightTensor(NamedTuple):
    """One tensor (a NamedTuple, not a dataclass: a model has hundreds and a cold run builds
    them all, at a quarter of a frozen dataclass's construction cost)."""

    weight_id: str
    role: str                 # q, k, v, o, gate, up, down, router, adapter, lm_head, embed, norm, ...
    kind: TensorKind
    in_features: int          # GEMM k (for matrices); vector length otherwise
    out_features: int         # GEMM n (for matrices); 1 otherwise
    num_elements: int         # including a folded bias
    layer: int = -1           # global physical layer, -1 for model-level tensors
    expert_id: int | None = None

    def bits(self, model: ModelSpec, num_layers: int | None = None) -> float:
        """Effective stored bits per element under the model's QuantSpec; `num_layers`
        (num_physical_layers) may be passed by callers that ask for many tensors."""
        quant = model.quant
        if self.kind == "vector":
            return quant.act.effective_bits  # norms and small vectors stay at activation precision
        if num_layers is None:
            num_layers = num_physical_layers(model)
        return quant.weight_bits_for(_QUANT_ROLE.get(self.role, self.role), max(self.layer, 0), num_layers)

    def bytes(self, model: ModelSpec) -> float:
        return units.bytes_for(self.num_elements, self.bits(model))


def _norm_elements(model: ModelSpec, width: int) -> int:
    return {"rmsnorm": width, "layernorm": 2 * width, "rmsnorm_no_weight": 0}[model.norm]


def _layer_template(model: ModelSpec) -> list[WeightTensor]:
    """The tensors of one layer, ids without the layer's prefix: every layer of every block has
    these (only its prefix and number differ), so they are worked out once per model."""
    h, att = model.hidden_size, model.attention
    q_out, kv_out = att.num_heads * att.head_dim, att.num_kv_heads * att.head_dim
    qkv_bias = 1 if att.qkv_bias else 0

    def matrix(role, k, n, bias=False, expert=None, name=None):
        return WeightTensor(name or role, role, "matrix", k, n, k * n + (n if bias else 0), -1, expert)

    def vector(role, length):
        return WeightTensor(role, role, "vector", length, 1, length)

    tensors = [
        matrix("q", h, q_out, qkv_bias), matrix("k", h, kv_out, qkv_bias),
        matrix("v", h, kv_out, qkv_bias), matrix("o", q_out, h, att.out_bias),
    ]
    if att.output_gate:
        tensors.append(matrix("attn_gate", h, q_out, qkv_bias))
    if att.qk_bias:
        tensors.append(vector("qk_bias", q_out + kv_out))
    if att.qk_norm == "per_head":
        tensors.append(vector("qk_norm", 2 * att.head_dim))
    elif att.qk_norm == "full":
        tensors.append(vector("qk_norm", q_out + kv_out))
    norm = _norm_elements(model, h)
    for i in range(model.norms_per_layer if norm else 0):
        tensors.append(vector(f"norm{i}", norm))
    if model.mlp is not None:
        ff, bias = model.mlp.intermediate_size, model.mlp.bias
        if model.mlp.kind == "swiglu":
            tensors += [matrix("gate", h, ff, bias), matrix("up", h, ff, bias)]
        else:
            tensors.append(matrix("up", h, ff, bias))
        tensors.append(matrix("down", ff, h, bias))
    else:
        moe = model.moe
        tensors.append(matrix("router", h, moe.num_experts))
        for e in range(moe.num_experts):
            ff = moe.expert_intermediate_size
            tensors += [matrix("expert_gate", h, ff, expert=e, name=f"expert{e}.gate"),
                        matrix("expert_up", h, ff, expert=e, name=f"expert{e}.up"),
                        matrix("expert_down", ff, h, expert=e, name=f"expert{e}.down")]
        if moe.shared_experts:
            ff = moe.shared_expert_intermediate_size
            tensors += [matrix("shared_gate", h, ff, name="shared.gate"),
                        matrix("shared_up", h, ff, name="shared.up"),
                        matrix("shared_down", ff, h, name="shared.down")]
            if moe.shared_expert_gate:
                tensors.append(matrix("shared_expert_gate", h, 1, name="shared.expert_gate"))
    return tensors


def layer_prefix(block: str, layer: int) -> str:
    """The start of the weight ids of a layer's tensors."""
    return f"{block}.L{layer}."


def _layer_tensors(template: tuple[WeightTensor, ...], prefix: str, layer: int) -> list[WeightTensor]:
    """The template's tensors as those of layer `layer`, ids under `prefix`."""
    return [WeightTensor(prefix + name, role, kind, k, n, elements, layer, expert)
            for name, role, kind, k, n, elements, _, expert in template]


class LayerSpan(NamedTuple):
    """Where one layer's tensors sit in WeightTable.tensors (in the layer template's order)."""

    prefix: str               # layer_prefix of the layer
    layer: int
    start: int
    end: int


@dataclass(frozen=True)
class WeightTable:
    """All tensors of a model, with lookups the trace builder needs. The layers' tensors are
    one contiguous run (at `layers_at` among the model-level tensors), each layer the layer
    template's tensors under its prefix: they are made only when asked for, since building a
    trace needs only their ids and sizes (weight_sizes)."""

    model_tensors: tuple[WeightTensor, ...]     # model-level tensors, in table order
    template: tuple[WeightTensor, ...] = ()     # one layer's tensors, ids without the layer prefix
    layers: tuple[LayerSpan, ...] = ()
    layers_at: int = 0

    @cached_property
    def tensors(self) -> tuple[WeightTensor, ...]:
        """Every tensor, in table order."""
        at, template = self.layers_at, self.template
        layer_tensors = [t for span in self.layers for t in _layer_tensors(template, span.prefix, span.layer)]
        return (*self.model_tensors[:at], *layer_tensors, *self.model_tensors[at:])

    @cached_property
    def model_level(self) -> dict[str, WeightTensor]:
        """The model-level tensors by weight_id (embeddings, heads, loop tensors, final norm)."""
        return {t.weight_id: t for t in self.model_tensors}

    def by_id(self) -> dict[str, WeightTensor]:
        """Tensors by weight_id: one dict per table, built on first use (read it, do not modify it)."""
        return self._by_id

    @cached_property
    def _by_id(self) -> dict[str, WeightTensor]:
        return {t.weight_id: t for t in self.tensors}

    def of_layer(self, layer: int) -> list[WeightTensor]:
        return [t for t in self.tensors if t.layer == layer]

    def get(self, weight_id: str) -> WeightTensor:
        tensor = self.model_level.get(weight_id)
        return tensor if tensor is not None else self.by_id()[weight_id]

    @property
    def num_params(self) -> int:
        return sum(t.num_elements for t in self.tensors)


def weight_table(model: ModelSpec) -> WeightTable:
    """The model's tensors, memoised per spec object (hwsim.cache.per_spec)."""
    return cache.per_spec.get("weight_table", model, lambda: _build_weight_table(model))


def _build_weight_table(model: ModelSpec) -> WeightTable:
    h = model.hidden_size
    emb = model.embedding_size or h
    tensors: list[WeightTensor] = []
    tied = model.tied_embeddings and model.lm_head
    # A tied embedding gets the output head's storage rule (llama.cpp stores it as Q6_K).
    tensors.append(WeightTensor("embed", "lm_head" if tied else "embed", "embedding", emb,
                                model.vocab_size, model.vocab_size * emb))
    if model.positional == "learned":
        tensors.append(WeightTensor("pos_embed", "embed", "embedding", emb, model.max_position_embeddings,
                                    model.max_position_embeddings * emb))
    if model.token_type_embeddings:
        tensors.append(WeightTensor("type_embed", "embed", "embedding", emb, model.token_type_embeddings,
                                    model.token_type_embeddings * emb))
    if model.embedding_norm:
        n = _norm_elements(model, emb)
        if n:
            tensors.append(WeightTensor("embed_norm", "norm", "vector", n, 1, n))
    if emb != h:
        tensors.append(WeightTensor("embed_proj", "embed_proj", "matrix", emb, h, emb * h + h))
    template, layers_at = _layer_template(model), len(tensors)
    layer_names = [block.name for block in model.blocks for _ in range(block.num_layers)]   # by global layer
    size = len(template)
    layers = [LayerSpan(layer_prefix(name, layer), layer, layers_at + layer * size, layers_at + (layer + 1) * size)
              for layer, name in enumerate(layer_names)]
    loop_steps = {s.inject or s.kind for s in one_pass(model) if s.kind in ("inject", "exit_gate")}
    if "adapter" in loop_steps:
        tensors.append(WeightTensor("loop.adapter", "adapter", "matrix", 2 * h, h, 2 * h * h))
    if "exit_gate" in loop_steps:
        tensors.append(WeightTensor("loop.exit_gate", "exit_gate", "matrix", h, 1, h + 1))
    tensors += hyper_connection_tensors(model)
    if model.final_norm:
        n = _norm_elements(model, h)
        if n:
            tensors.append(WeightTensor("final_norm", "norm", "vector", n, 1, n))
    if model.lm_head and not model.tied_embeddings:
        tensors.append(WeightTensor("lm_head", "lm_head", "matrix", h, model.vocab_size, h * model.vocab_size))
    for head in model.heads:
        k = head.in_features or h
        tensors.append(WeightTensor(f"head.{head.name}", "head", "matrix", k, head.out_features,
                                    k * head.out_features + (head.out_features if head.bias else 0)))
    return WeightTable(tuple(tensors), tuple(template), tuple(layers), layers_at)


def hyper_connection_tensors(model: ModelSpec) -> list[WeightTensor]:
    """Hyperloop's per-iteration hyper-connection (arXiv 2604.21254 section 3): W_pre, W_post,
    W_res in R^{n x nC} (one GEMM to 3n coefficients), biases 3n, gains 3 and a loop-position
    embedding C, distinct per iteration: 3n^2 C + C + 3n + 3 parameters each (150.6K over 3 loops
    at C = 1024, n = 4, the paper's "150-300K extra parameters")."""
    streams = max((s.streams for s in _repeats(model.effective_schedule) if s.repeat == "loop"), default=1)
    if streams == 1:
        return []
    n, h = streams, model.hidden_size
    return [WeightTensor(f"loop.hc{i}", "hyper_connection", "matrix", n * h, 3 * n,
                         3 * n * n * h + h + 3 * n + 3) for i in range(model.loop.count)]


def _repeats(items):
    for item in items:
        if not isinstance(item, str):
            yield item
            yield from _repeats(item.body)


def lm_head_tensor(model: ModelSpec) -> WeightTensor | None:
    """The tensor the LM head multiplies by (the embedding when tied)."""
    if not model.lm_head:
        return None
    return weight_table(model).get("embed" if model.tied_embeddings else "lm_head")


def unique_weight_bytes(model: ModelSpec) -> float:
    """Bytes of the model's distinct weight tensors (summed in table order, as weight_sizes
    lists them), memoised per spec object (hwsim.cache)."""
    def total() -> float:
        table, level = weight_table(model), model_level_sizes(model)
        head, tail = table.model_tensors[:table.layers_at], table.model_tensors[table.layers_at:]
        return float(sum([level[t.weight_id][0] for t in head]
                         + [size for layer in _layer_sizes(model) for size, _ in layer]
                         + [level[t.weight_id][0] for t in tail]))
    return cache.per_spec.get("weight_bytes", model, total)


def weight_sizes(model: ModelSpec) -> dict[str, tuple[float, float]]:
    """(bytes, bits) of every tensor by weight_id, in table order, memoised per spec object
    (hwsim.cache)."""
    def make() -> dict[str, tuple[float, float]]:
        table, level = weight_table(model), model_level_sizes(model)
        at = table.layers_at
        sizes = {t.weight_id: level[t.weight_id] for t in table.model_tensors[:at]}
        for layer in range(len(table.layers)):
            sizes.update(layer_weight_sizes(model, layer))
        sizes.update((t.weight_id, level[t.weight_id]) for t in table.model_tensors[at:])
        return sizes
    return cache.per_spec.get("weight_sizes", model, make)


def model_level_sizes(model: ModelSpec) -> dict[str, tuple[float, float]]:
    """(bytes, bits) of the model-level tensors by weight_id, memoised per spec object
    (hwsim.cache): a trace builder adds those of the layers whose rows it builds."""
    def make() -> dict[str, tuple[float, float]]:
        num_layers = num_physical_layers(model)
        return {t.weight_id: _size(t, model, num_layers) for t in weight_table(model).model_tensors}
    return cache.per_spec.get("model_level_sizes", model, make)


def layer_weight_sizes(model: ModelSpec, layer: int) -> dict[str, tuple[float, float]]:
    """(bytes, bits) of physical layer `layer`'s tensors by weight_id (WeightTable.layers is in
    layer order)."""
    table = weight_table(model)
    prefix = table.layers[layer].prefix
    return dict(zip([prefix + t.weight_id for t in table.template], _layer_sizes(model)[layer]))


def _size(tensor: WeightTensor, model: ModelSpec, num_layers: int) -> tuple[float, float]:
    bits = tensor.bits(model, num_layers)
    return units.bytes_for(tensor.num_elements, bits), bits


def _layer_sizes(model: ModelSpec) -> list[tuple[tuple[float, float], ...]]:
    """Per layer (WeightTable.layers), the (bytes, bits) of its tensors. A tensor's bits depend
    on its layer only under a more-bits recipe (QuantSpec.weight_bits_for), so otherwise every
    layer shares the first one's, worked out once. Memoised per spec object (hwsim.cache)."""
    def make() -> list[tuple[tuple[float, float], ...]]:
        table, num_layers = weight_table(model), num_physical_layers(model)
        by_layer = bool(model.quant.more_bits_format)
        alike: dict[int, tuple[tuple[float, float], ...]] = {}
        sizes = []
        for span in table.layers:
            key = span.layer if by_layer else 0
            if key not in alike:
                alike[key] = tuple(_size(t, model, num_layers)
                                   for t in _layer_tensors(table.template, span.prefix, span.layer))
            sizes.append(alike[key])
        return sizes
    return cache.per_spec.get("layer_sizes", model, make)


def layer_shapes(model: ModelSpec) -> list[int]:
    """Per physical layer, a small number (cheap to hash in keys) shared by the layers whose rows
    in a trace are alike but for their number: every layer has the layer template's tensors, so
    those whose tensors' bytes and bits are equal. Memoised per spec object (hwsim.cache)."""
    def make() -> list[int]:
        numbers: dict[tuple, int] = {}
        return [numbers.setdefault(sizes, len(numbers)) for sizes in _layer_sizes(model)]
    return cache.per_spec.get("layer_shapes", model, make)


def _step_matmul_elements(model: ModelSpec, step: Step, table: WeightTable) -> float:
    """Matrix weight elements one token multiplies by in one step (MoE: top-k experts)."""
    if step.kind == "layer":
        total = 0.0
        for t in table.of_layer(step.layer):
            if t.kind != "matrix":
                continue
            share = model.moe.top_k / model.moe.num_experts if t.expert_id is not None else 1.0
            total += t.in_features * t.out_features * share
        return total
    if step.kind == "inject" and step.inject == "adapter":
        return 2 * model.hidden_size * model.hidden_size
    if step.kind == "exit_gate":
        return model.hidden_size
    if step.kind == "hyper_connection":
        tensor = table.get(f"loop.hc{step.loop_iter}")
        return tensor.in_features * tensor.out_features
    return 0.0


def matmul_weight_elements_per_token(model: ModelSpec, loop_count: int | None = None) -> float:
    """Weight-matrix elements touched per token, LM head included, embedding lookup excluded;
    2x this is the usual 'matmul FLOPs per token' (2 x matmul parameters)."""
    table = weight_table(model)
    total = sum(_step_matmul_elements(model, s, table) for s in expand(model, loop_count))
    if emb_proj := next((t for t in table.tensors if t.weight_id == "embed_proj"), None):
        total += emb_proj.in_features * emb_proj.out_features
    head = lm_head_tensor(model)
    if head is not None:
        total += model.hidden_size * model.vocab_size
    for t in table.tensors:
        if t.role == "head":
            total += t.in_features * t.out_features
    return total


def kv_cache_slots_per_token(model: ModelSpec, loop_count: int | None = None) -> int:
    """Attention-layer applications that keep a KV entry for a token, under the loop KV policy:
    per_loop keeps every iteration's K/V; shared one per looped layer; last_k the last k
    iterations; exit_only the exit iteration's. Non-causal models keep none."""
    if not model.attention.causal:
        return 0
    steps = one_pass(model)      # the layers of one iteration: the count only scales them
    count = model.loop.count if loop_count is None else loop_count
    policy = model.loop.kv_policy
    kept_iters = {"per_loop": count, "shared": 1, "exit_only": 1, "first": 1,
                  "last_k": min(model.loop.kv_last_k, count)}[policy]
    outside = sum(1 for s in steps if s.kind == "layer" and s.loop_iter < 0)
    looped_layers = sum(1 for s in steps if s.kind == "layer" and s.loop_iter == 0)
    return outside + looped_layers * kept_iters


def kv_cache_bytes(model: ModelSpec, context: int, loop_count: int | None = None) -> float:
    """Bytes of one sequence's cache after `context` tokens: K/V entries per token, capped at the
    window for sliding-window attention; a linear mixer keeps a head_dim x head_dim state per KV
    head instead (constant in context; LT2, arXiv 2605.20670 Table 1)."""
    att = model.attention
    if att.kind == "linear":
        state = units.bytes_for(att.num_kv_heads * att.head_dim ** 2, model.quant.kv.effective_bits)
        return kv_cache_slots_per_token(model, loop_count) * state if context > 0 else 0.0
    kept = min(context, att.window) if att.kind == "sliding_window" and att.window is not None else context
    total = kv_bytes_per_token(model, loop_count) * kept
    kv_window = model.loop.kv_window
    if kv_window:   # PLT: each later iteration's looped layers keep their own window
        count = model.loop.count if loop_count is None else loop_count
        looped = sum(1 for s in one_pass(model) if s.kind == "layer" and s.loop_iter == 0)
        per_slot = units.bytes_for(2 * att.num_kv_heads * att.head_dim, model.quant.kv.effective_bits)
        total += looped * (count - 1) * min(kept, kv_window) * per_slot
    return total


def kv_bytes_per_token(model: ModelSpec, loop_count: int | None = None) -> float:
    """Bytes of K and V added to the cache for one new token (memoised per spec object)."""
    def count() -> float:
        att = model.attention
        per_slot = units.bytes_for(2 * att.num_kv_heads * att.head_dim, model.quant.kv.effective_bits)
        return kv_cache_slots_per_token(model, loop_count) * per_slot
    return cache.per_spec.get(f"kv_bytes_per_token:{loop_count}", model, count)
