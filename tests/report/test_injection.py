"""Hostile text from input files never becomes markup, code or script in a report.

Two attack paths: ``radval report`` on a results.json whose every free-text field
carries payloads (the run report), and ``radval validate`` on a hostile bundle,
features table and clinical table (the site report).  Each report is rendered to
HTML, DOCX and PDF; the HTML is loaded in headless Chromium when available (the DOM
after scripts ran) and parsed: no element has an ``on*`` attribute, no ``<script>``
comes from input, nothing changed the document title, and every payload is shown as
literal text.  The ``.qmd`` is parsed by pandoc: no code, raw, math block or inline,
and no citation other than radval's own cross-references.
"""

from __future__ import annotations

import html.parser
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from radval.report._escape import _plain

from .fixtures import make_results

pypandoc = pytest.importorskip("pypandoc")
pytest.importorskip("typst")
docx = pytest.importorskip("docx")

pytestmark = pytest.mark.render

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PDFTOTEXT = shutil.which("pdftotext")

BASE = ("<script>document.title='PWNED';alert(1)</script> "
        "<img src=x onerror=\"document.title='PWNED';alert(1)\"> "
        "```{python}\nimport os\nos.system('touch /tmp/radval-pwned')\n``` "
        "{{< include /etc/passwd >}} $\\input{/etc/passwd}$ @fig-x `x`{=html} "
        "| a | b |\n# not a header\n::: {.callout}")


def payload(tag: str) -> str:
    return f"{tag}: {BASE}"


def _norm(text: str) -> str:
    return " ".join(text.replace("\xa0", " ").split())


class _Dom(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.events: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.scripts: list[str] = []
        self.title = ""
        self._in: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in.append(tag)
        for k, v in attrs:
            if k.lower().startswith("on"):
                self.events.append((tag, k, v or ""))

    def handle_endtag(self, tag: str) -> None:
        if tag in self._in:
            del self._in[len(self._in) - 1 - self._in[::-1].index(tag):]

    def handle_data(self, data: str) -> None:
        if "script" in self._in:
            self.scripts.append(data)
        elif "title" in self._in:
            self.title += data
        elif "style" not in self._in:
            self.text.append(data)


def _dom(html_path: Path, tmp_path: Path) -> str:
    if CHROMIUM is None:
        return html_path.read_text("utf-8")
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'chromium-profile'}", "--virtual-time-budget=3000",
           "--dump-dom", html_path.as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def _walk(node: Any, found: dict[str, list[Any]]) -> None:
    if isinstance(node, dict):
        t = node.get("t")
        if isinstance(t, str):
            found.setdefault(t, []).append(node.get("c"))
        for v in node.values():
            _walk(v, found)
    elif isinstance(node, list):
        for v in node:
            _walk(v, found)


def check_qmd(qmd: Path) -> None:
    text = qmd.read_text("utf-8")
    assert not re.search(r"^\s*(```|~~~)", text, re.M), "a code fence in the qmd"
    assert "{{<" not in text  # Quarto shortcodes are found in the raw text
    ast = json.loads(subprocess.run(
        [pypandoc.get_pandoc_path(), "-f", "markdown", "-t", "json"], input=text,
        capture_output=True, text=True, check=True).stdout)
    found: dict[str, list[Any]] = {}
    _walk(ast["blocks"], found)
    _walk(ast["meta"], found)
    for kind in ("CodeBlock", "Code", "RawBlock", "RawInline", "Math", "Note"):
        assert kind not in found, (kind, found.get(kind, [])[:2])
    labels = set(re.findall(r"\{#((?:fig|tbl|sec)-[a-z0-9-]+)", text))
    for cite in found.get("Cite", []):
        for c in cite[0]:
            assert c["citationId"] in labels, c["citationId"]


def check_html(html_paths: Path | list[Path], tmp_path: Path, payloads: list[str]) -> None:
    """Each document: no event handler, no script from input, title unchanged; every
    payload shown as literal text in one of them (main report or supplement)."""
    texts = []
    for html_path in html_paths if isinstance(html_paths, list) else [html_paths]:
        dom = _dom(html_path, tmp_path)
        p = _Dom()
        p.feed(dom)
        assert p.events == [], p.events[:3]
        assert not any("PWNED" in s or "alert" in s for s in p.scripts), p.scripts[:2]
        assert p.title.strip() != "PWNED"  # what the injected scripts would set
        texts.append(_norm(" ".join(p.text)))
    text = " ".join(texts)
    for pl in payloads:
        assert _norm(_plain(pl)) in text, pl[:40]
    assert not Path("/tmp/radval-pwned").exists()


def check_docx_pdf(out: dict[str, Any], payloads: list[str]) -> None:
    parts = []
    for key in ("docx", "supplement_docx"):
        if key not in out:
            continue
        d = docx.Document(str(out[key]))
        parts += [p.text for p in d.paragraphs]
        parts += [c.text for t in d.tables for row in t.rows for c in row.cells]
    text = _norm(" ".join(parts))
    for pl in payloads:
        assert _norm(_plain(pl)) in text, pl[:40]
    assert Path(out["pdf"]).stat().st_size > 10_000
    if PDFTOTEXT:
        pdf = "".join(subprocess.run([PDFTOTEXT, str(out[key]), "-"], capture_output=True,
                                     text=True, check=True).stdout
                      for key in ("pdf", "supplement_pdf") if key in out)
        squeezed = re.sub(r"\s+", "", pdf)
        for pl in payloads[:2]:
            assert re.sub(r"\s+", "", _plain(pl))[:60] in squeezed, pl[:40]


def _tree(root: Path, skip: Path) -> set[Path]:
    return {p for p in root.rglob("*") if skip not in p.parents and p != skip}


# -- the run report from a hostile results.json -------------------------------------

FIELDS = {"external_1": "cohort", "Radiomics signature": "label", "tumour size": "subgroup",
          "female": "level", "empty mask": "reason", "radiomics_original_glcm_F1": "feature",
          "age_years": "variable"}


def _hostile_results() -> tuple[dict[str, Any], pd.DataFrame, dict[str, str]]:
    results, pred = make_results(7)
    text = json.dumps(results)
    made = {}
    for old, tag in FIELDS.items():
        made[tag] = payload(tag)
        assert json.dumps(old) in text, old
        text = text.replace(json.dumps(old), json.dumps(made[tag]))
    results = json.loads(text)
    pred["cohort"] = pred["cohort"].replace("external_1", made["cohort"])
    study = results["study"]
    for key in ("name", "question", "outcome", "positive_label", "prediction_moment"):
        made[key] = study[key] = payload(key)
    made["warning"] = payload("warning")
    results["warnings"].append({"code": payload("code"), "message": made["warning"],
                                "context": {}})
    made["code"] = payload("code")
    made["formula"] = results["selection"]["radiomics"]["formula"] = payload("formula")
    # a family name that is also a path: its LASSO figure must stay in figures/
    results["selection"]["../../../evil " + BASE] = results["selection"]["radiomics"]
    results["provenance"]["input_sha256"][payload("input")] = "ab" * 32
    made["input"] = payload("input")
    # display names from the study file are input too (variables, levels, models, cohorts)
    for tag in ("var label", "unit", "level label", "model label", "cohort label"):
        made[tag] = payload(tag)
    results["labels"] = {
        "variables": {"sex": {"label": made["var label"], "unit": made["unit"],
                              "levels": {"male": made["level label"]},
                              "kind": "categorical"},
                      "grade": {"label": None, "unit": made["unit"], "levels": None,
                                "kind": "categorical"}},
        "subgroups": {}, "models": {"deep": made["model label"]},
        "cohorts": {"internal": made["cohort label"]}}
    return results, pred, made


@pytest.mark.filterwarnings("ignore:Tight layout not applied")
def test_run_report_from_hostile_results(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from radval.report import figures, render_report

    monkeypatch.setitem(figures.SAVE_OPTIONS, "formats", ("png",))
    monkeypatch.setitem(figures.SAVE_OPTIONS, "dpi", 40)
    results, pred, made = _hostile_results()
    from radval.workflow._outputs import RunFolder

    run = tmp_path / "run"
    run.mkdir()
    folder = RunFolder(run)
    stage = folder.stage()
    (stage / "results.json").write_text(json.dumps(results))
    pred.to_parquet(stage / "predictions.parquet", index=False)
    folder.commit(stage, steps=["select", "fit", "evaluate"])
    before = _tree(tmp_path, run)
    out = render_report(run, formats="html,docx,pdf")
    assert _tree(tmp_path, run) == before  # nothing written outside the run folder
    report = run / "report"
    assert {p.name for p in run.iterdir()} == {"results.json", "predictions.parquet", "run.json",
                                               "report"}
    assert sorted(p.name for p in (report / "figures").glob("fig-lasso-*.png"))[0].startswith(
        "fig-lasso-evil-")
    check_qmd(out["qmd"])
    check_qmd(out["supplement_qmd"])
    check_html([out["html"], out["supplement_html"]], tmp_path, list(made.values()))
    # DOCX/PDF: the texts printed in the body (captions of figures are images' alt text)
    check_docx_pdf(out, [made["question"], made["cohort"], made["warning"], made["feature"],
                         made["var label"], made["cohort label"]])
    for csv in (report / "tables").glob("*.csv"):
        for v in pd.read_csv(csv, dtype=str).fillna("").to_numpy().ravel():
            assert not v.startswith(("=", "+", "@")), (csv.name, v[:30])


@pytest.mark.filterwarnings("ignore:Tight layout not applied")
def test_figure_labels_are_never_mathtext(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Every text artist of every figure drawn from hostile results shows its text."""
    import matplotlib.text
    from matplotlib import cbook

    from radval.report import figures

    results, pred, made = _hostile_results()
    seen: list[str] = []

    def capture(fig: Any, out_dir: Any, name: str) -> Path:
        for t in fig.findobj(matplotlib.text.Text):
            s = t.get_text()
            if s and not re.fullmatch(r"\$\\mathdefault\{[^$]*\}\$", s):  # log-axis ticks
                assert not (t.get_parse_math() and cbook.is_math_text(s)), s[:60]
                seen.append(s.replace("\\$", "$"))
        import matplotlib.pyplot as plt

        plt.close(fig)
        return Path(out_dir) / f"{name}.png"

    monkeypatch.setattr(figures, "save", capture)
    drawn = figures.draw_all(results, pred, tmp_path, jobs=1)
    failed = {k: v for k, v in drawn.items() if isinstance(v, str)}
    assert not failed, failed
    joined = _norm(" ".join(seen))
    for tag in ("cohort", "label", "subgroup", "model label", "cohort label"):
        assert _norm(made[tag]) in joined, tag


# -- the site report from a hostile bundle -------------------------------------------

def _hostile_site(tmp_path: Path) -> tuple[Path, Path, Path, dict[str, str]]:
    from radval.models.bundle import write_bundle
    from radval.models.signature import LinearScore, LogisticModel
    from tests.models.test_signature import make_signature

    # feature names must be plain labels (build_share refuses others: they go to share.json)
    f1, f2 = "radiomics_a-b.c", "radiomics_d"
    score = payload("score")
    outcome = "ln " + BASE
    rad = LinearScore(name=score, features=[f1, f2], intercept=-0.5, coef=[0.8, -1.2],
                      means=[1.0, 2.0], sds=[0.5, 1.5])
    combined = LogisticModel(name="combined", inputs=[score], intercept=-1.0, coef=[1.1])
    summ = {f: {"n": 100, "mean": m, "sd": s, "min": m - 3 * s, "max": m + 3 * s,
                "q01": m - 2.3 * s, "q99": m + 2.3 * s} for f, m, s in [(f1, 1.0, 0.5),
                                                                       (f2, 2.0, 1.5)]}
    made = {"intended_use": payload("intended use"), "moment": payload("moment"),
            "score": score, "outcome": outcome}
    sig = make_signature(
        outcome={"name": outcome, "positive_label": 1, "definition": payload("definition")},
        intended_use=made["intended_use"], population=payload("population"),
        prediction_moment=made["moment"],
        predictors=[{"name": score, "kind": payload("kind"), "timing": payload("timing")}],
        deep=None, scores={score: rad}, combined=combined,
        development_summary={"n": 100, "events": 30, "prevalence": 0.3, "features": summ,
                             "predicted_risk": summ[f1]})
    bundle = write_bundle(tmp_path / "bundle", sig, zip=True)
    rng = np.random.default_rng(3)
    n = 120
    feats = pd.DataFrame({"patient_id": [f"p{i}" for i in range(n)],
                          "cohort": "site", f1: rng.normal(1.0, 0.5, n),
                          f2: rng.normal(2.0, 1.5, n)})
    lp = sig.predict(feats)["linear_predictor"].to_numpy()
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(lp - lp.mean())))).astype(int)
    clin = pd.DataFrame({"patient_id": feats["patient_id"], outcome: y,
                         payload("column"): [payload("value")] * n})
    feats.to_parquet(tmp_path / "features.parquet", index=False)
    clin.to_csv(tmp_path / "clinical.csv", index=False)
    return bundle, tmp_path / "features.parquet", tmp_path / "clinical.csv", made


def test_site_report_from_hostile_bundle(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import warnings

    from radval.cli import main
    from radval.exceptions import RadvalWarning

    bundle, feats, clin, made = _hostile_site(tmp_path)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    before = _tree(tmp_path, tmp_path / "out")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RadvalWarning)
        code = main(["validate", str(bundle), "--features", str(feats), "--clinical", str(clin),
                     "--out", str(tmp_path / "out"), "--site", "hostile", "--bootstrap", "20",
                     "--formats", "html,docx,pdf", "-q"])
    assert code == 0
    assert _tree(tmp_path, tmp_path / "out") == before
    report = tmp_path / "out" / "report"
    check_qmd(report / "report.qmd")
    check_html(report / "report.html", tmp_path, list(made.values()))
    check_docx_pdf({"docx": report / "report.docx", "pdf": report / "report.pdf"},
                   [made["intended_use"], made["score"]])


def test_pooled_report_markdown_escapes_share_values() -> None:
    """Share files are validated on reading; the pooled report escapes them anyway."""
    from radval.pool.pooling import _report_markdown

    pooled = {"sites": [{"site": payload("site"), "n": payload("n"), "events": None,
                         "auc": 0.7, "slope": 1.0, "citl": 0.0, "o_e": 1.0, "brier": 0.2,
                         "n_flagged_features": payload("flagged")}],
              "method": payload("method"), "hksj": False,
              "measures": {"auc": {"label": payload("label"), "k": 1, "result": None,
                                   "reason": payload("reason")}}}
    text = _report_markdown(pooled, {})
    ast = json.loads(subprocess.run(
        [pypandoc.get_pandoc_path(), "-f", "markdown", "-t", "json"], input=text,
        capture_output=True, text=True, check=True).stdout)
    found: dict[str, list[Any]] = {}
    _walk(ast["blocks"], found)
    for kind in ("CodeBlock", "Code", "RawBlock", "RawInline", "Math", "Cite"):
        assert kind not in found, kind
    assert [b["t"] for b in ast["blocks"]].count("Table") == 2
