"""A parametric looped model: begin / middle x loops / end layers at one width, built into a
ModelSpec so it traces and simulates like any preset, and sweeps like hardware does.

A model YAML with a `parametric:` section is built here (spec/loader.py hands it over), so sweep
axes address its fields: `model.parametric.loops: [2, 4, 6]`, `model.parametric.streams: [1, 4]`,
`model.quant: [int4-g128, int8]`. The quality of the design comes from the recurrence law
(hwsim.scaling.law), and `dense_peer` gives the dense model of equal estimated quality with the
same width rules.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from hwsim.errors import ConfigError
from hwsim.scaling import law
from hwsim.spec._base import Spec
from hwsim.spec.model import ModelSpec

ParamConvention = Literal["non_embedding", "hyperloop", "total"]


class RoutingSpec(Spec):
    """MoR per-token recursion depth (arXiv 2507.10524 section 2.2): `capacity[t]` is the share
    of tokens that run recursion t+1 (non-increasing, first 1). Default: (N_r - t) / N_r, the
    linear schedule under which recursion-wise caching keeps (N_r + 1) / (2 N_r) of the KV, as
    the paper states."""

    capacity: list[float] | None = None

    def shares(self, loops: int) -> list[float]:
        capacity = self.capacity or [(loops - t) / loops for t in range(loops)]
        if len(capacity) != loops or capacity[0] != 1 or any(b > a for a, b in zip(capacity, capacity[1:])) \
                or capacity[-1] < 0:
            raise ValueError(f"routing.capacity needs {loops} non-increasing shares starting at 1")
        return capacity


class ParametricSpec(Spec):
    begin_layers: int = Field(ge=0)
    middle_layers: int = Field(gt=0)
    end_layers: int = Field(ge=0)
    loops: int = Field(1, ge=1)
    hidden_size: int = Field(gt=0)
    num_heads: int = Field(gt=0)
    num_kv_heads: int | None = Field(None, gt=0)
    head_dim: int | None = Field(None, gt=0)
    mlp: Literal["swiglu", "gelu"] = "swiglu"
    ffn_mult: float = Field(2.75, gt=0, description="intermediate size / hidden size (Hyperloop 2.75)")
    intermediate_size: int | None = Field(None, gt=0)
    vocab_size: int = Field(32000, gt=0)
    tied_embeddings: bool = False
    streams: int = Field(1, ge=1, description="residual streams with a hyper-connection per loop")
    attention: Literal["full", "sliding_window", "linear", "sparse"] = "full"
    window: int | None = Field(None, gt=0)
    kv_policy: Literal["per_loop", "shared", "recursion_wise", "first_loop", "first_loop_window"] = "per_loop"
    kv_window: int | None = Field(None, gt=0, description="own-window keys of later loops (first_loop_window)")
    routing: RoutingSpec | None = None
    training_tokens: float = Field(10e9, gt=0, description="D of the scaling law (same for the dense peer)")
    phi: str | float = law.DEFAULT_PHI

    @model_validator(mode="after")
    def _consistent(self):
        if self.hidden_size % self.num_heads and self.head_dim is None:
            raise ValueError("hidden_size must be a multiple of num_heads (or give head_dim)")
        if (self.attention in ("sliding_window", "sparse")) != (self.window is not None):
            raise ValueError("window is given exactly for sliding_window and sparse attention")
        if self.routing is not None:
            self.routing.shares(self.loops)
        if (self.kv_policy == "first_loop_window") != (self.kv_window is not None):
            raise ValueError("kv_window is given exactly for kv_policy first_loop_window")
        if self.kv_policy == "recursion_wise" and self.routing is None:
            raise ValueError("kv_policy recursion_wise needs routing (per-token recursion depth)")
        if isinstance(self.phi, str) and self.phi not in law.PHI:
            raise ValueError(f"phi: unknown variant {self.phi!r}; known: {', '.join(law.PHI)}")
        return self

    @property
    def ffn(self) -> int:
        return self.intermediate_size or round(self.ffn_mult * self.hidden_size)

    @property
    def effective_layers(self) -> int:
        return self.begin_layers + self.middle_layers * self.loops + self.end_layers


def build(spec: ParametricSpec, name: str, source: str, quant: Any = None, notes: str = "") -> ModelSpec:
    """The ModelSpec of a parametric looped design (a plain decoder when loops == 1 and it has
    neither streams nor routing)."""
    heads = spec.num_heads
    attention = {"num_heads": heads, "num_kv_heads": spec.num_kv_heads or heads,
                 "head_dim": spec.head_dim or spec.hidden_size // heads, "kind": spec.attention,
                 "window": spec.window}
    looped = spec.loops > 1 or spec.streams > 1 or spec.routing is not None
    parts = [("begin", spec.begin_layers), ("middle", spec.middle_layers), ("end", spec.end_layers)]
    blocks = [{"name": n, "num_layers": k} for n, k in parts if k]
    data: dict[str, Any] = {
        "name": name, "family": "looped" if looped else "decoder", "source": source, "notes": notes,
        "training_tokens": spec.training_tokens,
        "hidden_size": spec.hidden_size, "vocab_size": spec.vocab_size,
        "tied_embeddings": spec.tied_embeddings, "norm_placement": "pre", "attention": attention,
        "mlp": {"kind": spec.mlp, "intermediate_size": spec.ffn}, "blocks": blocks,
    }
    if looped:
        repeat = {"repeat": "loop", "body": ["middle"], "streams": spec.streams}
        data["schedule"] = [b["name"] if b["name"] != "middle" else repeat for b in blocks]
        loop: dict[str, Any] = {"count": spec.loops, "kv_policy": {
            "per_loop": "per_loop", "shared": "shared", "recursion_wise": "per_loop",
            "first_loop": "first", "first_loop_window": "first"}[spec.kv_policy],
            "kv_window": spec.kv_window}
        if spec.routing is not None:
            shares = spec.routing.shares(spec.loops) + [0.0]
            loop["distribution"] = [shares[t] - shares[t + 1] for t in range(spec.loops)]
            # recursion-wise caching: a token leaves the batch (and the cache) after its depth
            loop["batch_exit"] = "compact"
        data["loop"] = loop
    if quant is not None:
        data["quant"] = quant
    from hwsim.spec.loader import _resolve_quant, validate

    return validate(ModelSpec, _resolve_quant(data, name), f"parametric model {name}")


def from_document(data: dict[str, Any], origin: str) -> ModelSpec:
    """A model YAML whose `parametric:` section describes the architecture (loader hook)."""
    from hwsim.spec.loader import validate

    allowed = {"parametric", "name", "source", "notes", "quant"}
    extra = sorted(set(data) - allowed)
    if extra:
        raise ConfigError(f"{origin}: a parametric model takes only {', '.join(sorted(allowed))}; got {', '.join(extra)}")
    spec = validate(ParametricSpec, data["parametric"], f"{origin}: parametric")
    return build(spec, data.get("name") or "parametric", data.get("source") or origin, data.get("quant"),
                 data.get("notes", ""))


# ----------------------------------------------------------------------------- counts and quality


def param_count(model: ModelSpec, convention: ParamConvention = "non_embedding") -> int:
    """Parameters under a paper's convention: `non_embedding` (MoR, the iso-depth law: every
    tensor but the embedding and the LM head), `hyperloop` (every tensor but the input
    embedding: layers, norms, untied unembedding, hyper-connections; reproduces all nine counts
    of 2604.21254 Table 1 to their printed digits), `total` (every tensor)."""
    from hwsim.workload.weights import weight_table

    total = 0
    for t in weight_table(model).tensors:
        if convention == "total":
            total += t.num_elements
        elif convention == "non_embedding":
            total += 0 if t.kind == "embedding" or t.role == "lm_head" else t.num_elements
        elif t.weight_id != "embed":
            total += t.num_elements
    return total


def model_law_params(model: ModelSpec) -> tuple[float, float]:
    """(N_once, N_rec) non-embedding parameters of any ModelSpec for the recurrence law: layers
    of blocks inside the `loop` repeat, and loop-level tensors (Huginn's adapter, exit gate,
    hyper-connections), are recurrent; other layers and norms are used once."""
    from hwsim.workload.schedule import expand
    from hwsim.workload.weights import weight_table

    looped = {s.layer for s in expand(model, 1) if s.kind == "layer" and s.loop_iter >= 0}
    n_once = n_rec = 0.0
    for t in weight_table(model).tensors:
        if t.kind == "embedding" or t.role == "lm_head":
            continue
        if t.layer in looped or t.weight_id.startswith("loop."):
            n_rec += t.num_elements
        else:
            n_once += t.num_elements
    return n_once, n_rec


def law_params(spec: ParametricSpec) -> tuple[float, float]:
    """(N_once, N_rec) of a parametric design (begin + end once; middle and streams recurrent)."""
    return model_law_params(build(spec.model_copy(update={"routing": None, "kv_policy": "per_loop",
                                                          "kv_window": None}), "law", "law"))


def model_quality(model: ModelSpec, tokens: float, phi: str | float = law.DEFAULT_PHI) -> law.QualityEstimate:
    """The recurrence-law estimate for any (looped or dense) ModelSpec trained on `tokens`: the
    fallback quality of a model without a published score."""
    from hwsim.workload.schedule import layer_applications

    n_once, n_rec = model_law_params(model)
    return law.estimate(n_once, n_rec, model.loop.count if model.is_looped else 1, tokens, phi,
                        effective_layers=layer_applications(model))


def quality(spec: ParametricSpec, phi: str | float | None = None) -> law.QualityEstimate:
    """The recurrence-law estimate of a design (phi: the design's own unless given)."""
    n_once, n_rec = law_params(spec)
    return law.estimate(n_once, n_rec, spec.loops, spec.training_tokens, spec.phi if phi is None else phi,
                        effective_layers=spec.effective_layers)


def dense_peer(spec: ParametricSpec, phi: str | float | None = None) -> ParametricSpec:
    """The dense design of equal estimated quality at the same tokens: same width, heads and
    FFN rule, one stream, loops 1, and the whole-layer count whose non-embedding size is
    closest to the looped design's N_once + r^phi N_rec."""
    target = quality(spec, phi).dense_equivalent_params
    one = spec.model_copy(update={"begin_layers": 0, "middle_layers": 1, "end_layers": 0, "loops": 1,
                                  "streams": 1, "routing": None, "kv_policy": "per_loop", "kv_window": None})
    per_layer = sum(law_params(one))
    layers = max(1, round(target / per_layer))
    return one.model_copy(update={"middle_layers": layers})
