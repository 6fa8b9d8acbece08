"""Options shared by several subcommands, parsed in one place."""

from __future__ import annotations

import click

from hwsim.errors import ConfigError


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
