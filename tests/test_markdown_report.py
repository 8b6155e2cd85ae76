"""The Markdown post-mortem on real sample runs: text, evidence, remedies and linked plots."""

from __future__ import annotations

import re
import shutil
from html import unescape
from urllib.parse import unquote

import pytest
from sample_runs import LABELS, firing_run, firing_runs_on_disk, healthy_run, read_from, run_path

from lrdoctor.audit import audit
from lrdoctor.discovery import read_runs
from lrdoctor.plots import sketch_runs
from lrdoctor.reporters.markdown import plots_folder, render_markdown
from lrdoctor.reporters.wording import GENERAL_CHECK

# One run per failure verdict the corpus shows plus a healthy one, in several formats.
DIVERGING = firing_run("LRD101")
_BY_VERDICT = {LABELS[name]["label"]: name for name in firing_runs_on_disk().values()}
SUBSET = tuple(dict.fromkeys((DIVERGING, *_BY_VERDICT.values(), healthy_run())))
HOSTILE_NAME = "run |<b>bold| [link](x) #1.csv"  # a file name: no slash, so no </b>


@pytest.fixture(scope="module")
def post_mortem(tmp_path_factory):
    folder = tmp_path_factory.mktemp("post mortem")
    hostile = folder / "logs" / HOSTILE_NAME
    hostile.parent.mkdir()
    plain = next(name for name, entry in LABELS.items() if entry["logger"] == "plain_csv")
    shutil.copyfile(run_path(plain), hostile)
    paths = [run_path(part) for part in SUBSET] + [hostile]
    result = audit(paths)
    out_path = folder / "audit report.md"
    text = render_markdown(result, sketch_runs(result.diagnoses, read_runs(paths).runs), out_path)
    out_path.write_text(text, encoding="utf-8")
    return result, out_path, text


def _unescaped(markdown: str) -> str:
    return re.sub(r"\\([\\`*_\[\]|~])", r"\1", markdown)


def _sections(text: str) -> dict[str, str]:
    parts = re.split(r"^## ", text, flags=re.M)[1:]
    return {part.split("\n", 1)[0]: part for part in parts}


def test_every_run_has_a_section_with_its_verdict_and_a_plot_linked_relatively(post_mortem):
    result, out_path, text = post_mortem
    sections = _sections(text)
    assert len(sections) == len(result.diagnoses) == len(SUBSET) + 1
    links = re.findall(r"!\[(?:\\.|[^\]])*\]\(([^)]+)\)", text)
    assert len(links) == len(result.diagnoses) + 1  # each run, then the overview
    for link in links:
        assert not link.startswith(("/", "http")) and str(out_path.parent) not in link
        target = out_path.parent / unquote(link)
        assert target.parent == plots_folder(out_path)
        assert target.read_bytes().startswith(b"\x89PNG")
    assert sorted(p.name for p in plots_folder(out_path).iterdir()) == sorted(
        unquote(link).split("/")[1] for link in links
    )
    by_name = {unescape(_unescaped(heading)): part for heading, part in sections.items()}
    for diagnosis in result.diagnoses:
        section = by_name[diagnosis.name]
        assert f"**{diagnosis.verdict}** (confidence {diagnosis.confidence:.2f})" in section


def test_findings_show_message_evidence_table_and_remedies_in_order(post_mortem):
    result, _, text = post_mortem
    diverging = next(d for d in result.diagnoses if read_from(d.source, DIVERGING))
    section = next(
        part
        for heading, part in _sections(text).items()
        if unescape(_unescaped(heading)) == diverging.name
    )
    for finding in diverging.to_dict()["findings"]:
        block = section.split(f"#### {finding['rule']} ", 1)[1].split("\n#### ", 1)[0]
        assert finding["message"] in _unescaped(block)
        rows = re.findall(r"^\| (\S+) \| (\S+) \|$", block, flags=re.M)
        assert [_unescaped(name) for name, _ in rows[2:]] == list(finding["evidence"])
        remedies = re.findall(r"^(\d+)\. (.*)$", block, flags=re.M)
        assert [int(n) for n, _ in remedies] == list(range(1, len(finding["remedies"]) + 1))
        assert [unescape(_unescaped(text)) for _, text in remedies] == [
            text + GENERAL_CHECK[basis]
            for text, basis in zip(finding["remedies"], finding["remedy_basis"], strict=True)
        ]


def test_names_from_the_logs_cannot_inject_markup_or_links(post_mortem):
    _, _, text = post_mortem
    assert "<b>" not in text and "[link](x)" not in text
    heading = r"run \|&lt;b&gt;bold\| \[link\](x) #1.csv"
    assert heading in _sections(text)
