"""Map the strings of a measured row to presets: hardware, model and quantisation.

The explicit table (validation/mapping.yaml) comes first; Apple chips are matched by a regex
on family, tier and GPU-core count ("Apple M3 Pro (18-core GPU, 150 GB/s)" -> apple-m3-pro-18c),
so a new Apple row needs no table entry. Every row that cannot be mapped gets a reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from pathlib import Path

from hwsim.errors import ConfigError
from hwsim.spec.loader import HARDWARE_DIR, MODELS_DIR, REPO_ROOT, _display, read_document
from hwsim.spec.quant import FORMATS, QUANT_PRESETS
from hwsim.spec.runtime import Runtime, parse_runtime

if TYPE_CHECKING:
    from hwsim.validation.measured import MeasuredRow

MAPPING_PATH = REPO_ROOT / "validation" / "mapping.yaml"

_APPLE = re.compile(r"\bApple\s+M(?P<gen>\d)(?:\s+(?P<tier>Pro|Max|Ultra))?\b.*?(?P<cores>\d+)-core\s+GPU",
                    re.IGNORECASE)


def match_apple(text: str) -> str | None:
    """Preset name for an Apple M-series string with a GPU-core count, else None."""
    found = _APPLE.search(text)
    if not found:
        return None
    tier = f"-{found['tier'].lower()}" if found["tier"] else ""
    return f"apple-m{found['gen']}{tier}-{found['cores']}c"


@dataclass(frozen=True)
class Entry:
    """One table entry: the preset (None = deliberately unmapped) and why."""

    preset: str | None
    note: str = ""
    head: str | None = None   # quant entries: the LM head and embeddings' format (as --head-format)
    by_runtime: tuple[tuple[Runtime, str], ...] = ()   # quant entries: another preset under a runtime

    def for_runtime(self, runtime: Runtime | None) -> Entry:
        """This entry with the preset the row's runtime reads the string as (a llama.cpp build
        of 'a 4-bit model' is one of llama.cpp's own block formats)."""
        chosen = dict(self.by_runtime).get(runtime) if runtime is not None else None
        return Entry(chosen, self.note, self.head) if chosen else self


@dataclass(frozen=True)
class RuntimeRule:
    """Rows whose id or source contains `match` ran on `runtime` (first matching rule wins)."""

    match: str
    runtime: Runtime


@dataclass(frozen=True)
class ContextRule:
    """Rows whose id or source contains `match` decoded against a KV cache of `decode_context`
    tokens whatever their prompt: the runtime's graph is compiled for that context and attends
    over all of it at every step (`note`: the source)."""

    match: str
    decode_context: int
    note: str


def _first_match(rules, row_id: str, source: str):
    """The first rule whose `match` is in the row's id, else the first in its source; None."""
    for text in (row_id, source):
        for rule in rules:
            if rule.match in text:
                return rule
    return None


@dataclass(frozen=True)
class Mapping:
    hardware: dict[str, Entry]
    models: dict[str, Entry]
    quant: dict[str, Entry]
    source: str
    runtimes: tuple[RuntimeRule, ...] = ()
    contexts: tuple[ContextRule, ...] = ()

    def runtime_for(self, row_id: str, source: str) -> tuple[Runtime | None, str]:
        """(runtime, reason if None) of a row: the first rule matching its id, else its source."""
        rule = _first_match(self.runtimes, row_id, source)
        if rule is not None:
            return rule.runtime, ""
        return None, f"source {source[:60]!r}... has no runtime in {self.source} (section runtimes)"

    def decode_context_for(self, row_id: str, source: str) -> int:
        """The KV context a row's decode ran against regardless of its prompt (0: its own)."""
        rule = _first_match(self.contexts, row_id, source)
        return rule.decode_context if rule is not None else 0

    def hardware_preset(self, text: str) -> tuple[str | None, str]:
        """(preset, reason if None) for a hardware string."""
        entry = self.hardware.get(text.strip())
        if entry is None:
            matched = match_apple(text)
            if matched is None:
                return None, f"hardware {text!r} is not in {self.source} and matches no chip pattern"
            entry = Entry(matched)
        return _existing(entry, "hardware", text, _preset_names(HARDWARE_DIR))

    def model_preset(self, text: str) -> tuple[str | None, str]:
        entry = self.models.get(text.strip())
        if entry is None:
            return None, f"model {text!r} is not in {self.source}"
        return _existing(entry, "model", text, _preset_names(MODELS_DIR))

    def quant_preset(self, text: str, runtime: Runtime | None = None) -> tuple[str | None, str]:
        entry = self.quant.get(text.strip())
        if entry is None:
            return None, f"quant {text!r} is not in {self.source}"
        return _existing(entry.for_runtime(runtime), "quant", text, set(QUANT_PRESETS))

    def quant_head(self, text: str) -> str | None:
        """The LM head and embeddings' format a quant string states (None: the preset's own)."""
        entry = self.quant.get(text.strip())
        return entry.head if entry is not None else None


def _existing(entry: Entry, kind: str, text: str, known: set[str]) -> tuple[str | None, str]:
    if entry.preset is None:
        return None, f"{kind} {text!r}: {entry.note or 'deliberately unmapped'}"
    if entry.preset.lower() not in known:
        return None, f"{kind} {text!r} -> {entry.preset}: no such preset"
    return entry.preset, ""


def _preset_names(directory: Path) -> set[str]:
    return {p.stem.lower() for p in directory.glob("*.yaml")}


def load_mapping(path: Path | str = MAPPING_PATH) -> Mapping:
    """Read the mapping table; each section maps a string to a preset name or {preset, note}."""
    path = Path(path)
    data = read_document(path)
    shown = _display(path)   # shipped files relative to the data tree: no machine path
    sections = {}
    for section in ("hardware", "models", "quant"):
        raw = data.get(section) or {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{shown}: {section}: expected a mapping of string -> preset")
        sections[section] = {str(k).strip(): _entry(v, f"{shown}: {section}.{k}", allow_head=section == "quant")
                             for k, v in raw.items()}
    unknown = set(data) - set(sections) - {"runtimes", "contexts"}
    if unknown:
        raise ConfigError(f"{shown}: unknown sections: {', '.join(sorted(unknown))}")
    return Mapping(source=shown, runtimes=_runtime_rules(data.get("runtimes") or [], shown),
                   contexts=_context_rules(data.get("contexts") or [], shown), **sections)


def _context_rules(raw, shown: str) -> tuple[ContextRule, ...]:
    shape = "{match: TEXT, decode_context: TOKENS, note: TEXT}"
    if not isinstance(raw, list):
        raise ConfigError(f"{shown}: contexts: expected a list of {shape}")
    rules = []
    for index, item in enumerate(raw):
        where = f"{shown}: contexts[{index}]"
        if (not isinstance(item, dict) or set(item) != {"match", "decode_context", "note"}
                or not str(item["match"]).strip() or not str(item["note"]).strip()):
            raise ConfigError(f"{where}: expected {shape}")
        tokens = item["decode_context"]
        if not isinstance(tokens, int) or isinstance(tokens, bool) or tokens < 1:
            raise ConfigError(f"{where}.decode_context: expected a whole number of tokens >= 1, got {tokens!r}")
        rules.append(ContextRule(str(item["match"]), tokens, str(item["note"])))
    return tuple(rules)


def _runtime_rules(raw, shown: str) -> tuple[RuntimeRule, ...]:
    if not isinstance(raw, list):
        raise ConfigError(f"{shown}: runtimes: expected a list of {{match: TEXT, runtime: NAME}}")
    rules = []
    for index, item in enumerate(raw):
        where = f"{shown}: runtimes[{index}]"
        if not isinstance(item, dict) or set(item) != {"match", "runtime"} or not str(item["match"]).strip():
            raise ConfigError(f"{where}: expected {{match: TEXT, runtime: NAME}}")
        rules.append(RuntimeRule(str(item["match"]), parse_runtime(item["runtime"], f"{where}.runtime")))
    return tuple(rules)


def _by_runtime(raw, value: dict, where: str) -> tuple[tuple[Runtime, str], ...]:
    """A quant entry's `runtimes: {RUNTIME: PRESET}`: the preset a runtime reads the string as."""
    if raw is None:
        return ()
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise ConfigError(f"{where}.runtimes: expected a mapping of runtime -> quant preset")
    if not value.get("note"):
        raise ConfigError(f"{where}: presets by runtime need a note saying why")
    return tuple((parse_runtime(k, f"{where}.runtimes"), v) for k, v in raw.items())


def _entry(value, where: str, allow_head: bool = False) -> Entry:
    keys = {"preset", "note", "head", "runtimes"} if allow_head else {"preset", "note"}
    if isinstance(value, str):
        return Entry(value)
    if isinstance(value, dict) and set(value) <= keys and "preset" in value:
        preset = value["preset"]
        if preset is not None and not isinstance(preset, str):
            raise ConfigError(f"{where}.preset: expected a preset name or null")
        if preset is None and not value.get("note"):
            raise ConfigError(f"{where}: an unmapped entry (preset: null) needs a note saying why")
        head = value.get("head")
        if head is not None and head not in FORMATS:
            raise ConfigError(f"{where}.head: unknown format {head!r}; known: {', '.join(sorted(FORMATS))}")
        if head is not None and not value.get("note"):
            raise ConfigError(f"{where}: a head format needs a note giving its source")
        return Entry(preset, str(value.get("note", "")), head, _by_runtime(value.get("runtimes"), value, where))
    shape = "{preset: NAME or null, note: TEXT" + (", head: FORMAT, runtimes: {RUNTIME: NAME}}" if allow_head else "}")
    raise ConfigError(f"{where}: expected a preset name or {shape}")


@dataclass(frozen=True)
class Case:
    """A measured row with its presets: what the simulator runs to predict it."""

    row: "MeasuredRow"
    hardware: str
    model: str
    quant: str
    runtime: Runtime = Runtime.LLAMA_CPP
    head_format: str | None = None   # the LM head and embeddings' format, where the row's quant states one
    decode_context: int = 0          # KV tokens a decode step attends over whatever its prompt (0: its own)


@dataclass(frozen=True)
class Unmapped:
    """A row left out of the comparison, kept so reports can list it with the reason."""

    id: str
    hardware: str
    model: str
    metric: str
    reason: str


def map_rows(frame, mapping: Mapping) -> tuple[list[Case], list[Unmapped]]:
    """Split the rows of a measured CSV into simulatable cases and unmapped rows (with reasons)."""
    from hwsim.validation.measured import POWER_REASON, parse_row

    cases: list[Case] = []
    unmapped: list[Unmapped] = []
    for record in frame.to_dict("records"):
        parsed = parse_row(record)
        if parsed == POWER_REASON:  # another model's rows: no need to say what else they lack
            unmapped.append(Unmapped(record["id"], record["hardware"], record["model"], record["metric"], parsed))
            continue
        reasons = [parsed] if isinstance(parsed, str) else []
        runtime, runtime_reason = mapping.runtime_for(record["id"], record["source"])
        presets = []
        model_lookup = mapping.model_preset
        if not reasons and parsed.spec.group == "kernel":
            model_lookup = _gemm_shape
        for lookup, text in ((mapping.hardware_preset, record["hardware"]),
                             (model_lookup, record["model"]),
                             (lambda text: mapping.quant_preset(text, runtime), record["quant"])):
            preset, reason = lookup(text)
            presets.append(preset)
            if reason:
                reasons.append(reason)
        if runtime_reason:
            reasons.append(runtime_reason)
        if reasons:
            unmapped.append(Unmapped(record["id"], record["hardware"], record["model"],
                                     record["metric"], "; ".join(reasons)))
        else:
            cases.append(Case(parsed, *presets, runtime=runtime, head_format=mapping.quant_head(record["quant"]),
                              decode_context=mapping.decode_context_for(record["id"], record["source"])))
    return cases, unmapped


GEMM_SHAPE = re.compile(r"\bGEMM\s+M=(\d+)\s+N=(\d+)\s+K=(\d+)")


def _gemm_shape(text: str) -> tuple[str | None, str]:
    """A kernel row names its GEMM shape instead of a model: 'GEMM M=64 N=12288 K=12288'."""
    if GEMM_SHAPE.search(text):
        return GEMM_MODEL, ""
    return None, f"kernel row {text!r} has no GEMM shape 'GEMM M=.. N=.. K=..'"


GEMM_MODEL = "gemm"
