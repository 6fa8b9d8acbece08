"""ModelSpec: the architecture of a standard or looped transformer, as frozen data.

One schema covers every family. A model is a list of `blocks` (groups of physical layers,
each layer with its own weights) and a `schedule` that says in which order blocks run and
which parts repeat:

- standard decoder:   blocks [stack x L],            schedule [stack]
- looped stack (Ouro): blocks [core x L],             schedule [{repeat: loop, body: [core], exit_gate: true}]
- recurrent depth (Huginn): [prelude, core, coda],   schedule [prelude, {repeat: loop, inject: adapter, body: [core]}, coda]
- TRM (one net used twice per cycle, nested):         schedule [{repeat: loop, body: [{repeat: 3, body: [{repeat: 6, inject: add, body: [net]}, net]}]}]
- ALBERT (one shared layer applied 12 times):        schedule [{repeat: loop, body: [layer]}]

The name `final_norm` in the top level of a schedule applies the model's final norm there (same
weights), in addition to the one before the head: Huginn's ln_f runs after the recurrence and
again after the coda: [prelude, {repeat: loop, ...}, final_norm, coda].

`repeat: loop` takes its count from `loop` (the LoopSpec), which is what `--loops` overrides;
an integer repeat is fixed by the architecture. A weight keeps one identity however often its
block runs: that is what lets the simulator keep a shared block resident on chip.
"""

from __future__ import annotations

from typing import Literal, Union

from pydantic import Field, model_validator

from hwsim.spec._base import Spec
from hwsim.spec.quant import QuantSpec
from hwsim.vocab import KVPolicy

ModelFamily = Literal["decoder", "looped", "recurrent_depth", "recursive_reasoning", "encoder"]
NormPlacement = Literal["pre", "sandwich", "post_residual"]
FINAL_NORM = "final_norm"   # schedule item: the model's final norm applied at that point

# Where a layer's norms sit, by (norm_placement, norms_per_layer), in layer order. attn_in /
# mlp_in: on the branch input (pre-norm); attn_out / mlp_out: on the branch output before the
# residual add (Ouro's sandwich); attn_residual / mlp_residual: on the sum after the residual
# add (post-norm: BERT/ALBERT, TRM/HRM; Huginn's SandwichBlock x = n2(attn(n1(x)) + x)).
NORM_SLOTS: dict[tuple[str, int], tuple[str, ...]] = {
    ("pre", 0): (),
    ("pre", 1): ("attn_in",),
    ("pre", 2): ("attn_in", "mlp_in"),
    ("sandwich", 3): ("attn_in", "attn_out", "mlp_in"),
    ("sandwich", 4): ("attn_in", "attn_out", "mlp_in", "mlp_out"),
    ("post_residual", 2): ("attn_residual", "mlp_residual"),
    ("post_residual", 4): ("attn_in", "attn_residual", "mlp_in", "mlp_residual"),
}


class AttentionSpec(Spec):
    num_heads: int = Field(gt=0)
    num_kv_heads: int = Field(gt=0)
    head_dim: int = Field(gt=0)
    causal: bool = True
    qkv_bias: bool = False
    out_bias: bool = False
    qk_bias: bool = Field(False, description="Huginn's learned per-head additive bias on q and k")
    qk_norm: Literal["none", "per_head", "full"] = "none"
    output_gate: bool = Field(False, description="HRM-Text's gate: the attention output times "
                              "sigmoid(Linear(h -> heads x head_dim)) of the layer input, before o")
    kind: Literal["full", "sliding_window", "linear", "sparse"] = Field(
        "full", description="softmax over every key; over the last `window` keys (cache capped at "
        "the window); a linear mixer with a head_dim x head_dim state per KV head (GDN/Mamba-style, "
        "LT2); sparse: `window` selected keys read from a full cache (NSA/DSA)")
    window: int | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _gqa_divides(self):
        if self.num_heads % self.num_kv_heads:
            raise ValueError(f"num_heads ({self.num_heads}) must be a multiple of num_kv_heads ({self.num_kv_heads})")
        if (self.kind in ("sliding_window", "sparse")) != (self.window is not None):
            raise ValueError("window is given exactly for sliding_window and sparse attention")
        return self


class MLPSpec(Spec):
    kind: Literal["swiglu", "gelu"]
    intermediate_size: int = Field(gt=0)
    bias: bool = False


class RoutingSpec(Spec):
    """How tokens pick experts: `uniform`, `skewed` (Zipf with exponent `skew`), or `given` probs."""

    kind: Literal["uniform", "skewed", "given"] = "uniform"
    skew: float = Field(1.0, ge=0)
    probs: list[float] | None = None

    @model_validator(mode="after")
    def _given_needs_probs(self):
        if self.kind == "given" and not self.probs:
            raise ValueError("routing kind 'given' needs probs")
        if self.probs is not None and (any(p < 0 for p in self.probs) or abs(sum(self.probs) - 1) > 1e-6):
            raise ValueError("routing probs must be non-negative and sum to 1")
        return self


class MoESpec(Spec):
    num_experts: int = Field(gt=0)
    top_k: int = Field(gt=0)
    expert_intermediate_size: int = Field(gt=0)
    shared_experts: int = Field(0, ge=0)
    shared_expert_intermediate_size: int = Field(0, ge=0)
    shared_expert_gate: bool = False
    normalize_top_k: bool = Field(True, description="renormalise the chosen experts' router "
                                  "probabilities to sum to one (HF norm_topk_prob; Mixtral always)")
    routing: RoutingSpec = RoutingSpec()

    @model_validator(mode="after")
    def _k_le_e(self):
        if self.top_k > self.num_experts:
            raise ValueError(f"top_k ({self.top_k}) exceeds num_experts ({self.num_experts})")
        if self.routing.probs is not None and len(self.routing.probs) != self.num_experts:
            raise ValueError("routing.probs needs one entry per expert")
        if self.shared_experts and not self.shared_expert_intermediate_size:
            raise ValueError("shared_experts needs shared_expert_intermediate_size")
        return self


class BlockSpec(Spec):
    """A group of consecutive physical layers, each with its own weights."""

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    num_layers: int = Field(gt=0)


class RepeatSpec(Spec):
    """A part of the schedule that runs `repeat` times with the same weights."""

    repeat: Union[int, Literal["loop"]]
    body: list[Union[str, "RepeatSpec"]] = Field(min_length=1)
    inject: Literal["none", "adapter", "add"] = Field(
        "none", description="input injection at the start of each iteration: Huginn's "
        "adapter Linear(2h->h) on [state, embedding], or TRM/HRM's addition of states")
    exit_gate: bool = Field(False, description="Ouro's Linear(h->1) exit gate after each iteration")
    final_norm: bool = Field(False, description="a model-level norm after each iteration (Ouro)")
    streams: int = Field(1, ge=1, description="residual streams joined by a hyper-connection after "
                         "each iteration (Hyperloop, arXiv 2604.21254: n = 4); 1 = none")

    @model_validator(mode="after")
    def _positive(self):
        if isinstance(self.repeat, int) and self.repeat < 1:
            raise ValueError("repeat must be >= 1 or 'loop'")
        return self


ScheduleItem = Union[str, RepeatSpec]


class ExitPolicySpec(Spec):
    """Per-token early exit. `geometric`: each iteration a token exits with probability `p`
    (Ouro's gate or ACT halting with a constant halting rate); `threshold`: exit at the first
    step whose cumulative exit probability reaches `threshold` given per-step gate values."""

    kind: Literal["geometric", "threshold"]
    p: float = Field(0.0, ge=0, le=1)
    threshold: float = Field(1.0, gt=0, le=1)
    gate_probs: list[float] | None = None
    min_count: int = Field(1, ge=1)
    check: Literal["gate", "kl"] = Field("gate", description=(
        "what deciding to exit costs per decode iteration: `gate`, the schedule's exit gate (Ouro's "
        "Linear(h->1), cheap); `kl`, Huginn's KL criterion (arXiv 2502.05171, adaptive compute), which "
        "runs the steps after the loop (coda) and the LM head after every iteration but the last"))


class LoopSpec(Spec):
    """Loop count of the schedule's `repeat: loop`: fixed `count` (the maximum), a per-token
    `distribution` (probability that a token runs exactly t iterations, t = 1..len), or an
    `exit_policy`. `batch_exit` says what a batch does when its tokens exit at different
    depths: `run_to_max` (all run to the deepest token; HF Ouro, Huginn batched) or
    `compact` (exited tokens leave the batch)."""

    count: int = Field(1, ge=1)
    distribution: list[float] | None = None
    exit_policy: ExitPolicySpec | None = None
    batch_exit: Literal["run_to_max", "compact"] = "run_to_max"
    kv_policy: KVPolicy = "per_loop"
    kv_last_k: int = Field(1, ge=1)
    kv_window: int | None = Field(None, gt=0, description="with kv_policy first: later iterations "
                                  "also keep and attend their own last kv_window keys (Parallel Loop "
                                  "Transformer, arXiv 2510.24824: shared first-loop KV + sliding window)")

    @model_validator(mode="after")
    def _one_source_of_depth(self):
        if self.kv_window is not None and self.kv_policy != "first":
            raise ValueError("kv_window applies to kv_policy first only")
        if self.distribution is not None and self.exit_policy is not None:
            raise ValueError("give either distribution or exit_policy, not both")
        if self.distribution is not None:
            if any(p < 0 for p in self.distribution) or abs(sum(self.distribution) - 1) > 1e-6:
                raise ValueError("distribution must be non-negative and sum to 1")
            if len(self.distribution) > self.count:
                raise ValueError(f"distribution has {len(self.distribution)} entries but count is {self.count}")
        return self


class TaskSpec(Spec):
    """Fixed-size non-causal workloads (TRM/HRM puzzles, ALBERT): one forward over `seq_len`
    tokens plus `prefix_tokens` (TRM's puzzle embedding); no decode phase."""

    seq_len: int = Field(gt=0)
    prefix_tokens: int = Field(0, ge=0)
    name: str = ""


class HeadSpec(Spec):
    """A small extra linear head (TRM/HRM's Q head, ALBERT's pooler) run once per forward."""

    name: str
    out_features: int = Field(gt=0)
    bias: bool = True
    in_features: int | None = None


class ModelSpec(Spec):
    name: str
    family: ModelFamily
    source: str = Field(min_length=1)
    notes: str = ""
    training_tokens: float | None = Field(None, gt=0, description="tokens the model was (or would be) "
                                          "trained on: the D of the recurrence scaling law, which estimates the "
                                          "quality of a model without published scores (hwsim.scaling)")
    hidden_size: int = Field(gt=0)
    vocab_size: int = Field(gt=0)
    embedding_size: int | None = Field(None, gt=0, description="ALBERT's factorised embedding width")
    tied_embeddings: bool = False
    lm_head: bool = True
    positional: Literal["rope", "learned", "sinusoidal", "none"] = "rope"
    max_position_embeddings: int = Field(4096, gt=0)
    token_type_embeddings: int = Field(0, ge=0)
    embedding_norm: bool = False
    embedding_scale: float = Field(1.0, gt=0, description="factor on the summed embeddings "
                                   "(Huginn, TRM, HRM: sqrt(hidden_size))")
    norm: Literal["rmsnorm", "layernorm", "rmsnorm_no_weight"] = "rmsnorm"
    norms_per_layer: int = Field(2, ge=0)
    norm_placement: NormPlacement = Field(description="pre-norm, sandwich (norm on each branch "
                                          "output) or post_residual (norm after each residual add)")
    norm_eps: float = Field(1e-6, gt=0)
    rope_theta: float = Field(10000.0, gt=0)
    final_norm: bool = True
    attention: AttentionSpec
    mlp: MLPSpec | None = None
    moe: MoESpec | None = None
    blocks: list[BlockSpec] = Field(min_length=1)
    schedule: list[ScheduleItem] | None = None
    loop: LoopSpec = LoopSpec()
    quant: QuantSpec = QuantSpec()
    task: TaskSpec | None = None
    heads: list[HeadSpec] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _default_norm_placement(cls, data):
        """Without norm_placement, 3-4 norms per layer mean sandwich and fewer pre-norm."""
        if isinstance(data, dict) and "norm_placement" not in data:
            data = {**data, "norm_placement": "sandwich" if data.get("norms_per_layer") in (3, 4) else "pre"}
        return data

    @model_validator(mode="after")
    def _consistent(self):
        if (self.mlp is None) == (self.moe is None):
            raise ValueError("give exactly one of mlp or moe")
        if (self.norm_placement, self.norms_per_layer) not in NORM_SLOTS:
            counts = [n for p, n in NORM_SLOTS if p == self.norm_placement]
            raise ValueError(f"norm_placement {self.norm_placement} needs norms_per_layer in {counts}, "
                             f"got {self.norms_per_layer}")
        names = [b.name for b in self.blocks]
        if len(set(names)) != len(names):
            raise ValueError(f"block names must be unique: {names}")
        if FINAL_NORM in names:
            raise ValueError(f"{FINAL_NORM!r} is reserved for the schedule's final-norm step; rename the block")
        loops = _count_loop_repeats(self.effective_schedule)
        for item in _walk(self.effective_schedule):
            if isinstance(item, str) and item not in names and item != FINAL_NORM:
                raise ValueError(f"schedule names unknown block {item!r}; blocks are {names}")
            if isinstance(item, RepeatSpec) and FINAL_NORM in item.body:
                raise ValueError(f"{FINAL_NORM} may only appear at the top level of the schedule (a repeat "
                                 f"takes final_norm: true for a norm after every iteration)")
        if FINAL_NORM in self.effective_schedule and not self.final_norm:
            raise ValueError(f"the schedule applies {FINAL_NORM} but the model has final_norm: false")
        if loops > 1:
            raise ValueError("at most one schedule entry may repeat 'loop' times")
        if self.family in ("looped", "recurrent_depth", "recursive_reasoning") and loops == 0:
            raise ValueError(f"a {self.family} model needs a schedule entry with repeat: loop")
        if not self.attention.causal and self.task is None:
            raise ValueError("a non-causal model needs a task (fixed sequence length)")
        return self

    @property
    def effective_schedule(self) -> list[ScheduleItem]:
        return self.schedule if self.schedule is not None else [b.name for b in self.blocks]

    @property
    def is_looped(self) -> bool:
        return _count_loop_repeats(self.effective_schedule) == 1

    @property
    def has_decode(self) -> bool:
        return self.attention.causal and self.lm_head

    @property
    def norm_slots(self) -> tuple[str, ...]:
        """Positions of a layer's norms (see NORM_SLOTS); norm i of a layer sits at slot i."""
        return NORM_SLOTS[(self.norm_placement, self.norms_per_layer)]

    def block(self, name: str) -> BlockSpec:
        return next(b for b in self.blocks if b.name == name)

    def with_loops(self, count: int) -> "ModelSpec":
        """The same model with a fixed loop count (a distribution is dropped)."""
        loop = self.loop.model_copy(update={"count": count, "distribution": None, "exit_policy": None})
        return self.model_copy(update={"loop": loop})


def _walk(items):
    for item in items:
        yield item
        if isinstance(item, RepeatSpec):
            yield from _walk(item.body)


def _count_loop_repeats(items) -> int:
    return sum(1 for item in _walk(items) if isinstance(item, RepeatSpec) and item.repeat == "loop")


RepeatSpec.model_rebuild()
ModelSpec.model_rebuild()
