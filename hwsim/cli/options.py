"""Options shared by several subcommands, parsed in one place."""

from __future__ import annotations

import click

from hwsim.errors import ConfigError
from hwsim.vocab import KV_POLICIES


def text_table(headers: list[str], rows: list[list[str]]) -> str:
    """A plain left-aligned text table for the terminal."""
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows)]

    def line(cells) -> str:
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


def parse_sets(values: tuple[str, ...], option: str = "--set") -> dict[str, str]:
    """`--set memory.sram.capacity="8 MiB"` pairs -> {dotted path: value}. The short alias
    `sram` / `dram` / `bandwidth` name the common fields."""
    aliases = {"sram": "memory.sram.capacity", "dram": "memory.dram.capacity",
               "bandwidth": "memory.dram.bandwidth", "dram_bandwidth": "memory.dram.bandwidth"}
    result: dict[str, str] = {}
    for item in values:
        if "=" not in item:
            raise ConfigError(f"{option} {item!r}: expected PATH=VALUE, e.g. memory.sram.capacity='8 MiB'")
        path, value = item.split("=", 1)
        path = aliases.get(path.strip(), path.strip())
        if not path:
            raise ConfigError(f"{option} {item!r}: empty path")
        result[path] = _scalar(value.strip())
    return result


def _scalar(text: str):
    """Numbers and booleans become numbers and booleans; everything else stays a string
    (unit strings are parsed later, against the field's dimension)."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text.strip("'\"")


set_option = click.option(
    "--set", "sets", multiple=True, metavar="PATH=VALUE",
    help="Override a hardware field by dotted path, e.g. --set memory.sram.capacity='8 MiB' "
         "(aliases: sram, dram, bandwidth).")


def _check_runtime(ctx, param, value):
    if value is None:
        return None
    from hwsim.spec.runtime import parse_runtime

    return parse_runtime(value, "--runtime").value


runtime_option = click.option(
    "--runtime", callback=_check_runtime, metavar="NAME",
    help="Inference runtime whose calibration applies (llama.cpp, tensorrt-llm, mlc, qnn, rkllm, ...; "
         "ollama = llama.cpp). Default: the hardware class's (see docs/validation.md).")


def load_cli_model(name: str, *, loops: int | None = None, quant: str | None = None,
                   kv_policy: str | None = None, kv_last_k: int | None = None, head_format: str | None = None):
    """The model preset `name` with the variant options applied. An option that does not apply
    is an error, never silently ignored: loop options on a standard model, --kv-last-k without
    the last_k policy, last_k without its K."""
    from hwsim.spec import loader
    from hwsim.spec.variants import configure_model

    model = loader.load_model(name)
    if not model.is_looped:
        given = [option for option, value in (("--loops", loops), ("--kv-policy", kv_policy),
                                              ("--kv-last-k", kv_last_k)) if value is not None]
        if given:
            raise ConfigError(f"{given[0]}: {model.name} is not a looped model (its layers run once)")
    else:
        policy = kv_policy or model.loop.kv_policy
        if kv_last_k is not None and policy != "last_k":
            raise ConfigError(f"--kv-last-k applies only with --kv-policy last_k ({model.name} uses {policy})")
        if kv_policy == "last_k" and kv_last_k is None:
            raise ConfigError("--kv-policy last_k: give --kv-last-k K, the loop iterations that keep K/V")
    return configure_model(model, loops=loops, quant=quant, kv_policy=kv_policy, kv_last_k=kv_last_k,
                           head_format=head_format)


def check_positions(model, prompt_len: int, gen_len: int, allow: bool) -> None:
    """Prompt plus generated tokens must fit the model's position range (its RoPE or learned
    positions were trained up to there) unless the user asks for it."""
    total = prompt_len + gen_len
    if total > model.max_position_embeddings and not allow:
        raise ConfigError(f"--prompt {prompt_len} + --gen {gen_len} = {total} tokens exceed {model.name}'s "
                          f"{model.max_position_embeddings} positions (max_position_embeddings); pass "
                          "--allow-beyond-max-positions to simulate it anyway")


def explicit(ctx: click.Context, name: str) -> bool:
    """Whether the user gave option `name` (a parameter name) rather than its default."""
    return ctx.get_parameter_source(name) not in (None, click.core.ParameterSource.DEFAULT)


kv_policy_option = click.option("--kv-policy", type=click.Choice(KV_POLICIES),
                                help="Which loop iterations keep K/V (looped models).")
kv_last_k_option = click.option("--kv-last-k", type=click.IntRange(min=1),
                                help="Loop iterations that keep K/V under --kv-policy last_k.")
allow_positions_option = click.option("--allow-beyond-max-positions", "allow_beyond", is_flag=True,
                                      help="Simulate prompt + generated tokens beyond the model's position range.")
