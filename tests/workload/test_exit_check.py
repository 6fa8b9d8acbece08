"""What deciding to exit early costs: Huginn's KL criterion runs the coda and the LM head after
every iteration but the last; Ouro's gate is one Linear(h -> 1)."""

from hwsim.spec.model import ExitPolicySpec
from hwsim.workload import trace as T
from hwsim.workload.transformer import build_trace


def _with_exit(model, check):
    policy = ExitPolicySpec(kind="geometric", p=0.0, check=check)   # p = 0: every token runs all r
    return model.model_copy(update={"loop": model.loop.model_copy(update={"count": 4, "exit_policy": policy})})


def test_kl_check_adds_coda_and_lm_head_per_iteration_but_the_last(load_model):
    huginn = load_model("huginn-0125")
    gate = build_trace(_with_exit(huginn, "gate"), "decode", batch=1, context_len=16)
    kl = build_trace(_with_exit(huginn, "kl"), "decode", batch=1, context_len=16)
    heads = kl[kl[T.NAME] == "exit_check.lm_head"]
    assert sorted(heads[T.LOOP_ITER]) == [0, 1, 2]
    # one new token: 2 x vocab x hidden FLOPs per LM head (hand count: 2 x 65536 x 5280)
    assert (heads[T.FLOPS] == 2 * 65536 * 5280).all()
    coda_once = gate[(gate[T.BLOCK_ID] == "coda")][T.FLOPS].sum()
    ln_f_once = gate[(gate[T.NAME] == "final_norm")][T.FLOPS].sum()
    extra = kl[T.FLOPS].sum() - gate[T.FLOPS].sum()
    assert extra == 3 * (coda_once + ln_f_once + 2 * 65536 * 5280)
    checks = kl[(kl[T.BLOCK_ID] == "coda") & (kl[T.LOOP_ITER] >= 0)]
    assert len(checks) and checks[T.KV_WRITE_BYTES].sum() == 0        # the check writes no KV
    assert kl[T.KV_WRITE_BYTES].sum() == gate[T.KV_WRITE_BYTES].sum()


def test_gate_check_is_the_schedules_exit_gate_only(load_model):
    ouro = load_model("ouro-1.4b")
    policy = ExitPolicySpec(kind="geometric", p=0.0)
    model = ouro.model_copy(update={"loop": ouro.loop.model_copy(update={"exit_policy": policy})})
    trace = build_trace(model, "decode", batch=1, context_len=16)
    gates = trace[trace[T.NAME] == "exit_gate"]
    assert len(gates) == 4 and (gates[T.FLOPS] == 2 * 2048).all()      # Linear(2048 -> 1), one token
    assert not (trace[T.NAME] == "exit_check.lm_head").any()
    assert build_trace(_with_exit(load_model("huginn-0125"), "kl"), "prefill", context_len=8)[T.NAME].ne(
        "exit_check.lm_head").all()                                      # prefill runs no check
