"""Write a report: figures (PNG), report.md, a self-contained index.html, the data as CSV and
the manifest as JSON.

index.html carries its CSS inline and no scripts, fonts or remote links; figures sit alongside
in figures/ (or are embedded as base64 with `embed=True`), so the directory opens offline.
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from hwsim.report import figures as fig
from hwsim.report import iso as iso_tables
from hwsim.report.collect import ReportData
from hwsim.report.conclusion import Conclusion, write_conclusion
from hwsim.report.manifest import build_manifest
from hwsim.report.table import fmt, residency_rows, residency_table, summary_table, to_markdown

FOCUS_METRICS = ("tokens_per_s", "ttft_s", "tpot_s", "energy_per_token_j", "dram_bytes_per_token")


@dataclass
class WrittenReport:
    out_dir: Path
    figures: dict[str, Path]          # name -> PNG
    skipped: dict[str, str]           # name -> why it has no figure
    table: pd.DataFrame
    conclusion: Conclusion
    manifest: dict
    residency: pd.DataFrame | None = None     # the residency curve's table (display strings)
    iso: object = None                        # hwsim.report.iso.IsoTables of an equal-quality report


def write_report(data: ReportData, out_dir: Path, command: list[str] | None = None,
                 embed: bool = False) -> WrittenReport:
    out_dir = Path(out_dir)
    (out_dir / "figures").mkdir(parents=True, exist_ok=True)
    written, skipped, sections = {}, {}, []
    for definition, figure in fig.build_all(data):
        if figure is None:
            skipped[definition.name] = "nothing to draw for this data"
            continue
        written[definition.name] = fig.save(figure, out_dir / "figures" / f"{definition.name}.png")
        sections.append(definition)
    table = summary_table(data.results, data.objective)
    curve = residency_rows(data.residency)
    chip = data.focus_hardware.name if data.focus_hardware is not None else ""
    tables = iso_tables.tables(data)
    conclusion = write_conclusion(data.results, data.objective, curve, chip, iso=tables)
    manifest = build_manifest(data.sources, command)
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    data.results.drop(columns=[], errors="ignore").to_csv(out_dir / "results.csv", index=False)
    focus_rows = _focus_rows(data)
    report = WrittenReport(out_dir, written, skipped, table, conclusion, manifest,
                           residency_table(curve) if curve is not None else None, tables)
    (out_dir / "report.md").write_text(_markdown(data, report, sections, focus_rows))
    (out_dir / "index.html").write_text(_html(data, report, sections, focus_rows, embed))
    return report


def _focus_rows(data: ReportData) -> list[list[str]]:
    """The focus point by the event simulation next to the same point in the design table
    (which may come from the roofline engine): how far the fast engine is from the DES."""
    if data.focus is None:
        return []
    inputs = data.focus.inputs
    results = data.results
    match = results[(results["hardware"] == inputs["hardware"]) & (results["quant"] == inputs.get("quant"))
                    & (results["model"] == inputs["model"])]
    if inputs.get("loops") is not None and results["loops"].notna().any():
        match = match[match["loops"] == inputs["loops"]]
    grid = match.iloc[0] if len(match) else None
    engine = grid["engine"] if grid is not None else "-"
    rows = [["metric", "event simulation (DES)", f"design table ({engine})"]]
    for metric in FOCUS_METRICS:
        rows.append([metric, fmt(metric, data.focus.totals[metric]),
                     fmt(metric, grid[metric]) if grid is not None else "-"])
    return rows


_ISO_NOTES = {
    iso_tables.QUALITY_TABLE: "Published scores of the comparison set (one comparable group, unquantised "
                              "checkpoints); avg = the group's aggregate benchmarks.",
    iso_tables.ISO: "Each chip, the looped model first; tokens/s low/high = tokens/s times one minus/plus the "
                    "measured decode error of the chip's class; looped / this = the looped model's tokens/s over "
                    "the row's.",
    iso_tables.DEPTH: "The looped model at each loop count (quality: published, or marked past the trained depth).",
    iso_tables.CONTEXT: "Decode speed and footprint against context length.",
    iso_tables.SENSITIVITY: "One chip parameter at a time; peer = the fastest standard model of equal or better "
                            "published quality.",
}


def _iso_sections(data: ReportData, report: WrittenReport) -> list[tuple[str, str, pd.DataFrame]]:
    """(heading, note, table) of each equal-quality table, in reading order."""
    if report.iso is None:
        return []
    note = f" Measured error: {data.error_source}." if data.error_source else ""
    return [(f"Equal quality: {name}", _ISO_NOTES[name] + (note if name == iso_tables.ISO else ""), shown)
            for name, shown in report.iso.shown.items()]


def _inputs_lines(manifest: dict) -> list[str]:
    return [f"hwsim {manifest['hwsim_version']}, git {manifest['git_sha'] or 'unknown'}",
            f"command: {manifest['command']}", f"created (UTC): {manifest['created_utc']}"]


def _engines_note(data: ReportData) -> str:
    engines = sorted(set(data.results["engine"].dropna().astype(str)))
    return (f"Design points were evaluated with the {' and '.join(engines)} engine; the focus point, its "
            "roofline and timeline figures and the residency curve come from the event simulation (DES).")


# ----------------------------------------------------------------------------- markdown


def _markdown(data: ReportData, report: WrittenReport, sections, focus_rows) -> str:
    metric, sense = data.objective
    lines = [f"# {data.title}", "", f"**Question.** {data.question}", "", "## Conclusion", "",
             report.conclusion.text, "", "## Inputs", ""]
    lines += [f"- {line}" for line in _inputs_lines(report.manifest)]
    lines += [f"- winner picked by `{metric}` ({sense}); Pareto objectives: "
              + ", ".join(f"`{k}` ({v})" for k, v in data.pareto.items()),
              f"- {_engines_note(data)}", "- full inputs: `manifest.json`; every number: `results.csv`", "",
              *[line for heading, note, shown in _iso_sections(data, report)
                for line in (f"## {heading}", "", note, "", to_markdown(shown), "")],
              "## Summary table", "", "Usable design points by chip, best first; *winner's lead* = the chip's best "
              "value over this row's.", "", to_markdown(report.table), ""]
    if focus_rows:
        lines += [f"## Focus point: {data.focus_label}", "", to_markdown(pd.DataFrame(focus_rows[1:], columns=focus_rows[0])), ""]
    for definition in sections:
        lines += [f"## {definition.heading}", "", f"![{definition.heading}](figures/{definition.name}.png)", "",
                  definition.caption, ""]
        if definition.name == "residency" and report.residency is not None:
            lines += [to_markdown(report.residency), ""]
    for name, why in report.skipped.items():
        lines.append(f"- no {name} figure: {why}")
    lines += [f"- {note}" for note in data.notes]
    return "\n".join(lines).rstrip() + "\n"


# ----------------------------------------------------------------------------- html

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.8em; margin-bottom: 0.2em; }
h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2em; margin-top: 1.8em; }
.question { font-size: 1.1em; background: #f4f6fa; border-left: 4px solid #4a6fa5; padding: 0.6em 1em; }
.conclusion p { font-size: 1.05em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #eef1f6; position: sticky; top: 0; }
td.label, th.label { text-align: left; }
tr.best td { font-weight: bold; background: #f1f8ec; }
figure { margin: 1em 0 2em 0; }
figure img { max-width: 100%; border: 1px solid #e4e4e4; }
figcaption { color: #444; font-size: 0.95em; }
details pre { font-size: 0.8em; background: #f7f7f7; padding: 0.8em; overflow-x: auto; }
.note { color: #555; }
"""


def _cell(value: str, label: bool) -> str:
    return f'<td class="label">{html.escape(value)}</td>' if label else f"<td>{html.escape(value)}</td>"


def _html_table(table: pd.DataFrame, best_rows=(), label_columns: int = 3) -> str:
    head = "".join(f'<th class="{"label" if i < label_columns else ""}">{html.escape(c)}</th>'
                   for i, c in enumerate(table.columns))
    body = []
    for index, row in zip(table.index, table.itertuples(index=False)):
        css = ' class="best"' if index in best_rows else ""
        body.append(f"<tr{css}>" + "".join(_cell(str(v), i < label_columns) for i, v in enumerate(row)) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _image(path: Path, name: str, embed: bool) -> str:
    if embed:
        return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()
    return f"figures/{name}.png"


def _html(data: ReportData, report: WrittenReport, sections, focus_rows, embed: bool) -> str:
    from hwsim.report.table import ranked

    metric, sense = data.objective
    ranks = ranked(data.results, data.objective)
    best = set(ranks.index[ranks["rank"] == 1])
    parts = [f"<h1>{html.escape(data.title)}</h1>",
             f'<p class="question"><b>Question.</b> {html.escape(data.question)}</p>',
             '<h2>Conclusion</h2><div class="conclusion">'
             + "".join(f"<p>{html.escape(p)}</p>" for p in report.conclusion.paragraphs) + "</div>",
             "<h2>Inputs</h2><ul>"
             + "".join(f"<li>{html.escape(line)}</li>" for line in _inputs_lines(report.manifest))
             + f"<li>winner picked by <code>{metric}</code> ({sense}); Pareto objectives: "
             + ", ".join(f"<code>{html.escape(k)}</code> ({v})" for k, v in data.pareto.items()) + "</li>"
             + f"<li>{html.escape(_engines_note(data))}</li></ul>"
             + "<details><summary>manifest.json (specs, version, command)</summary><pre>"
             + html.escape(json.dumps(report.manifest, indent=2, default=str)) + "</pre></details>",
             *[f"<h2>{html.escape(heading)}</h2><p>{html.escape(note)}</p>" + _html_table(shown, (), 3)
               for heading, note, shown in _iso_sections(data, report)],
             "<h2>Summary table</h2><p>Usable design points by chip, best first (bold: best on its chip); "
             "<i>winner's lead</i> = the chip's best value over this row's.</p>" + _html_table(report.table, best)]
    if focus_rows:
        frame = pd.DataFrame(focus_rows[1:], columns=focus_rows[0])
        parts.append(f"<h2>Focus point: {html.escape(data.focus_label)}</h2>" + _html_table(frame, (), 1))
    for definition in sections:
        source = _image(report.figures[definition.name], definition.name, embed)
        parts.append(f"<h2>{html.escape(definition.heading)}</h2><figure><img src=\"{source}\" "
                     f"alt=\"{html.escape(definition.heading)}\"><figcaption>{html.escape(definition.caption)}"
                     "</figcaption></figure>")
        if definition.name == "residency" and report.residency is not None:
            parts.append(_html_table(report.residency, (), 2))
    notes = [f"no {name} figure: {why}" for name, why in report.skipped.items()] + data.notes
    if notes:
        parts.append('<h2>Notes</h2><ul class="note">' + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(data.title)}</title><style>{_CSS}</style></head><body>\n"
            + "\n".join(parts) + "\n</body></html>\n")
