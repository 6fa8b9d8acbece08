"""report.md and index.html: complete, offline, and carrying the manifest."""

import json
import re

from hwsim.report.figures import EQUAL_QUALITY, FIGURES

PLAIN = [d for d in FIGURES if d.name not in EQUAL_QUALITY]   # the tiny report compares at equal parameters


def test_html_is_self_contained_and_shows_every_figure(tiny_report):
    page = (tiny_report.out_dir / "index.html").read_text()
    assert "<script" not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "@import" not in page and "url(" not in page
    for definition in PLAIN:
        assert f'src="figures/{definition.name}.png"' in page
        assert (tiny_report.out_dir / "figures" / f"{definition.name}.png").is_file()
    for paragraph in tiny_report.conclusion.paragraphs[:1]:
        assert paragraph.split(":")[0].replace("&", "&amp;") in page


def test_markdown_has_sections_table_and_figures(tiny_report):
    text = (tiny_report.out_dir / "report.md").read_text()
    for heading in ("## Conclusion", "## Inputs", "## Summary table", *(f"## {d.heading}" for d in PLAIN)):
        assert heading in text
    assert "| hardware | design | quant |" in text


def test_manifest_names_inputs_version_and_command(tiny_report):
    manifest = json.loads((tiny_report.out_dir / "manifest.json").read_text())
    assert manifest["hwsim_version"]
    assert manifest["command"] == "hwsim report --preset tiny"
    assert set(manifest["inputs"]["sweeps"]) == {"looped", "standard", "tasks"}
    assert "git_sha" in manifest and manifest["created_utc"].endswith("Z")


def test_embedded_html_carries_images(tiny_data, tmp_path):
    from hwsim.report.document import write_report

    write_report(tiny_data, tmp_path, ["hwsim"], embed=True)
    page = (tmp_path / "index.html").read_text()
    assert page.count("data:image/png;base64,") == len(PLAIN)
