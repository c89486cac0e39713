"""The formation report: answer first, glossary, markdown and HTML from one template."""

from __future__ import annotations

import copy
import html.parser

import pytest

import ssdfl
from ssdfl.planner import PlanConfig, plan_formation
from ssdfl.planner.report import (
    GLOSSARY,
    ReportSection,
    render_report,
    report_context,
    write_report,
)


@pytest.fixture(scope="module")
def planned():
    from conftest import ROOT

    g = ssdfl.read_graph(ROOT / "examples" / "barbell.edgelist")
    plan = plan_formation(g, None, PlanConfig(fastest_mixing=False, max_clusters=6))
    return g, plan


class _Checker(html.parser.HTMLParser):
    """Tracks open tags; a well-nested document ends with none open."""

    VOID = frozenset({"meta", "img", "br", "hr", "link"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag) -> None:
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-5:])
        self.stack.pop()

    def handle_data(self, data) -> None:
        self.text.append(data)


def test_report_opens_with_the_verdict_and_defines_its_symbols(planned, tmp_path) -> None:
    g, plan = planned
    path = write_report(plan, g, tmp_path, "barbell")
    md = path.read_text()
    lines = [x for x in md.splitlines() if x.strip()]
    assert lines[0].startswith("# ") and lines[1] == "## Verdict"
    # the verdict names the chosen S right away
    assert f"S = {plan.S}" in lines[2]
    assert md.index("## Verdict") < md.index("## Clusters") < md.index("## Glossary")
    for term, _ in GLOSSARY:
        assert f"**{term}**" in md
    for fig in ("formation.png", "objective_vs_S.png"):
        assert (tmp_path / fig).exists() and f"]({fig})" in md


def test_html_is_well_formed_and_says_the_same(planned, tmp_path) -> None:
    g, plan = planned
    write_report(plan, g, tmp_path, "barbell & <friends>")
    doc = (tmp_path / "report.html").read_text()
    chk = _Checker()
    chk.feed(doc)
    chk.close()
    assert chk.stack == []
    text = "".join(chk.text)
    assert "barbell & <friends>" in text  # escaped in the source, intact as text
    assert "<friends>" not in doc.split("<body>")[1].replace("&lt;friends&gt;", "")
    ctx = report_context(plan, "barbell")
    first = ctx["verdict"][0].replace("**", "")
    assert first in text


def test_vacuous_bound_is_said_loudly(planned) -> None:
    _g, plan = planned
    bad = copy.deepcopy(plan)
    bad.bounds["chosen"] = {**bad.bounds["chosen"], "rate": 1.008, "radius": float("inf"),
                            "converges": False}  # fmt: skip
    v = " ".join(report_context(bad)["verdict"])
    assert "proves nothing" in v and "1.008" in v
    md = render_report(report_context(bad), "md")
    assert "**no** (rate ≥ 1)" in md


def test_schedule_mismatch_is_reported(planned) -> None:
    _g, plan = planned
    p = copy.deepcopy(plan)
    cfg = p.config
    p.schedule = {**p.schedule, "best": {**p.schedule["best"], "tau_a": cfg["tau_a"] + 1}}
    v = " ".join(report_context(p)["verdict"])
    assert f"planned for (τ_a, τ_r) = ({cfg['tau_a']}, {cfg['tau_r']})" in v
    assert f"--tau-a {cfg['tau_a'] + 1}" in v


def test_extra_sections_join_the_verdict(planned) -> None:
    _g, plan = planned
    sec = ReportSection("Training", ["a paragraph"], verdict=["sDFL beat the pick."])
    ctx = report_context(plan, "g", [sec])
    assert ctx["verdict"][-1] == "sDFL beat the pick."
    md = render_report(ctx, "md")
    assert "## Training" in md and "a paragraph" in md


def test_recommendation_leads_the_verdict_and_round_trips(planned) -> None:
    _g, plan = planned
    p = copy.deepcopy(plan)
    p.recommendation = {"id": "S=1", "S": 1, "clusters": [list(range(plan.n))],
                        "budget": {"kind": "bytes", "cycles": 20, "units": 1.0},
                        "model": "softmax", "verdict": "Do not cluster: because."}  # fmt: skip
    v = report_context(p)["verdict"]
    assert v[0].startswith("**Recommended: do not cluster (S = 1)**") and "because" in v[0]
    assert any(s.startswith("**J's optimum: S =") for s in v)
    from ssdfl.planner.plan import FormationPlan

    back = FormationPlan.from_json(p.to_json())
    assert back.recommendation == p.recommendation
    assert FormationPlan.from_json(plan.to_json()).recommendation is None
