"""The reproduction report: joining with reference CSVs, tolerance, atomic sidecars, failure
isolation (a failing experiment, a worker that dies, a failing notebook), ``--only``; the module
structure (references <- report <- reproduce, no cycles)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from consensuslab.experiments.registry import Experiment, Result
from consensuslab.experiments.runner import run_trials
from consensuslab.jobs import InlineExecutor, JobOutcome, write_result
from consensuslab.references import compare, load_references, within_tolerance
from consensuslab.report import Report, render_html, render_markdown
from consensuslab.reproduce import reproduce, select

HEADER = "id,quantity,reference,tolerance,tolerance_kind,unit,source\n"


def write_refs(folder: Path, name: str, rows: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(HEADER + "".join(r + "\n" for r in rows))
    return path


# ------------------------------------------------------------------ fake experiments (picklable)


def _square_trial(rng: np.random.Generator, k: int) -> dict:
    return {"x": float(rng.random()) * k}


def good_experiment(quick: bool = False, seed: int = 0, executor=None) -> Result:
    table = run_trials(_square_trial, {"k": 2}, trials=4 if quick else 8, seed=seed, executor=executor, progress=True)
    return Result(table=table, measured={"fake_ok": 1.02, "fake_off": 3.0}, params={"k": 2, "shape": (2, 3)})


def failing_experiment(quick: bool = False, seed: int = 0, executor=None) -> Result:
    raise RuntimeError("deliberate failure for the test")


def crashing_experiment(quick: bool = False, seed: int = 0, executor=None) -> Result:
    os._exit(3)  # kills the worker process: the pool breaks


def other_experiment(quick: bool = False, seed: int = 0, executor=None) -> Result:
    return Result(table=pd.DataFrame({"a": [1, 2]}), measured={"fake_abs": 10.4}, params={})


FAKES = {
    "good": Experiment("good", "a fake experiment that works", good_experiment),
    "broken": Experiment("broken", "a fake experiment that raises", failing_experiment),
    "other": Experiment("other", "another fake that works", other_experiment),
}


def make_notebook(path: Path, cells: list[str]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {path.stem} title")] + [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, str(path))
    return path


@pytest.fixture
def refs(tmp_path: Path) -> Path:
    folder = tmp_path / "reference"
    write_refs(folder, "a.csv", ["fake_ok,ok quantity,1.0,0.05,rel,ms,Paper A §1", "fake_off,off quantity,1.0,0.5,abs,,Paper A Fig. 2"])
    write_refs(folder, "b.csv", ["fake_abs,abs quantity,10.0,0.5,abs,ops,Paper B Table 3", "fake_never,never measured,5,1,abs,,Paper B"])
    return folder


# ------------------------------------------------------------------ the pure part


@pytest.mark.parametrize(
    ("ours", "ref", "tol", "kind", "expected"),
    [
        (1.04, 1.0, 0.05, "rel", True),
        (1.06, 1.0, 0.05, "rel", False),
        (-1.04, -1.0, 0.05, "rel", True),  # relative to |reference|
        (0.0, 0.0, 0.0, "rel", True),
        (0.1, 0.0, 0.5, "rel", False),  # nothing is within a relative tolerance of 0 but 0
        (10.5, 10.0, 0.5, "abs", True),  # the bound itself counts
        (10.51, 10.0, 0.5, "abs", False),
        (float("nan"), 1.0, 1.0, "abs", False),
        (float("inf"), 1.0, 1.0, "abs", False),
    ],
)
def test_within_tolerance(ours: float, ref: float, tol: float, kind: str, expected: bool) -> None:
    assert within_tolerance(ours, ref, tol, kind) is expected


def test_within_tolerance_rejects_unknown_kind() -> None:
    with pytest.raises(ValueError, match="`kind` must be one of"):
        within_tolerance(1.0, 1.0, 0.1, "pct")


def test_load_references_concatenates_files_in_order(refs: Path) -> None:
    table = load_references(refs)
    assert table["id"].tolist() == ["fake_ok", "fake_off", "fake_abs", "fake_never"]
    assert table["file"].tolist() == ["a.csv", "a.csv", "b.csv", "b.csv"]
    assert table["reference"].dtype == float and table.loc[1, "unit"] == ""


def test_load_references_empty_folder(tmp_path: Path) -> None:
    assert load_references(tmp_path).empty


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("id,quantity,reference\nx,q,1\n", "missing"),
        (HEADER + "x,q,1,0.1,pct,,s\n", "tolerance_kind"),
        (HEADER + "x,q,abc,0.1,abs,,s\n", "`reference` must be a number"),
        (HEADER + "x,q,1,-0.1,abs,,s\n", "`tolerance` must be >= 0"),
    ],
)
def test_load_references_rejects_bad_files(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "bad.csv").write_text(content)
    with pytest.raises(ValueError, match=message) as info:
        load_references(tmp_path)
    assert "bad.csv" in str(info.value)


def test_load_references_rejects_repeated_ids(tmp_path: Path) -> None:
    write_refs(tmp_path, "a.csv", ["x,q,1,0.1,abs,,s"])
    write_refs(tmp_path, "b.csv", ["x,q,2,0.1,abs,,s"])
    with pytest.raises(ValueError, match="repeated: \\['x'\\]"):
        load_references(tmp_path)


def test_compare_joins_measured_with_references(refs: Path) -> None:
    table = compare(load_references(refs), {"fake_ok": 1.02, "fake_off": 3.0, "fake_abs": np.float64(10.4), "extra": 7},
                    {"fake_ok": "good", "fake_abs": "other"})
    by_id = table.set_index("id")
    assert table["id"].tolist() == ["fake_ok", "fake_off", "fake_abs", "fake_never", "extra"]
    assert by_id.loc["fake_ok", "status"] == "ok" and by_id.loc["fake_ok", "experiment"] == "good"
    assert by_id.loc["fake_ok", "deviation"] == pytest.approx(0.02)
    assert by_id.loc["fake_ok", "rel_deviation"] == pytest.approx(0.02)
    assert by_id.loc["fake_off", "status"] == "out of tolerance" and by_id.loc["fake_off", "within"] is False
    assert by_id.loc["fake_abs", "status"] == "ok" and by_id.loc["fake_abs", "deviation"] == pytest.approx(0.4)
    assert by_id.loc["fake_never", "status"] == "not measured" and math.isnan(by_id.loc["fake_never", "ours"])
    assert by_id.loc["fake_never", "within"] is None
    assert by_id.loc["extra", "status"] == "no reference" and by_id.loc["extra", "ours"] == 7.0
    assert by_id.loc["fake_abs", "source"] == "Paper B Table 3"


def test_compare_marks_non_numbers_invalid_and_can_drop_unmeasured(refs: Path) -> None:
    table = compare(load_references(refs), {"fake_ok": float("nan"), "fake_abs": "n/a"}, include_unmeasured=False)
    assert table["id"].tolist() == ["fake_ok", "fake_abs"]
    assert table["status"].tolist() == ["invalid", "invalid"]
    assert table["within"].tolist() == [False, False]


def test_compare_zero_reference_has_no_relative_deviation(tmp_path: Path) -> None:
    write_refs(tmp_path, "z.csv", ["z,zero,0,0.01,abs,,s"])
    row = compare(load_references(tmp_path), {"z": 0.005}).iloc[0]
    assert row["status"] == "ok" and math.isnan(row["rel_deviation"])


def test_markdown_and_html_show_every_row_and_failure(refs: Path, tmp_path: Path) -> None:
    table = compare(load_references(refs), {"fake_ok": 1.02, "fake_off": 3.0})
    outcomes = [JobOutcome("experiment", "good", True, 1.0, measured={"fake_ok": 1.02}),
                JobOutcome("notebook", "07-<bad>", False, 2.0, error="ZeroDivisionError: boom in cell 3")]
    report = Report(outcomes, table, True, tmp_path, 3.0, 2, 0)
    md = render_markdown(report)
    for rid in ("fake_ok", "fake_off", "fake_abs", "fake_never"):
        assert f"| {rid} |" in md
    assert "1 of 4 published measurements reproduced within tolerance" in md and "1 outside" in md
    assert "2 not measured" in md
    assert "**notebook 07-<bad>**: ZeroDivisionError: boom in cell 3" in md
    assert "| fake_off | off quantity | 1 | 3 | – | – | +2 (+200.0%) | ±0.5 | NO | Paper A Fig. 2 |" in md
    page = render_html(report)
    assert "07-&lt;bad&gt;" in page and "<bad>" not in page  # escaped
    assert page.count("<tr class='ok'>") >= 1 and "Paper B Table 3" in page
    assert report.exit_code == 1 and [o.name for o in report.failures] == ["07-<bad>"]


# ------------------------------------------------------------------ sidecars


def test_write_result_writes_table_and_sidecar(tmp_path: Path) -> None:
    result = good_experiment(quick=True, seed=5, executor=InlineExecutor())
    csv_path, json_path = write_result("good", result, seed=5, quick=True, duration=1.25, description="d", folder=tmp_path)
    assert pd.read_csv(csv_path).shape == result.table.shape
    meta = json.loads(json_path.read_text())
    assert meta["params"] == {"k": 2, "shape": [2, 3]}
    assert (meta["seed"], meta["quick"], meta["duration_s"], meta["rows"]) == (5, True, 1.25, 4)
    assert meta["measured"] == {"fake_ok": 1.02, "fake_off": 3.0}
    from consensuslab import __version__

    assert meta["version"] == __version__
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.csv", "good.json"]


class _ExplodingTable(pd.DataFrame):
    """A table whose CSV writer dies half-way through (an interrupted run)."""

    @property
    def _constructor(self):  # keep the subclass through pandas operations
        return _ExplodingTable

    def to_csv(self, path=None, *args, **kwargs):  # type: ignore[override]
        Path(path).write_text("a\n1\n")  # partial content...
        raise KeyboardInterrupt  # ...then the interruption


def test_write_result_is_atomic(tmp_path: Path) -> None:
    first = Result(table=pd.DataFrame({"a": [1, 2, 3]}), measured={}, params={"v": 1})
    csv_path, json_path = write_result("exp", first, seed=0, quick=False, duration=0.1, folder=tmp_path)
    before = (csv_path.read_bytes(), json_path.read_bytes())
    second = Result(table=_ExplodingTable({"a": [9]}), measured={}, params={"v": 2})
    with pytest.raises(KeyboardInterrupt):
        write_result("exp", second, seed=0, quick=False, duration=0.1, folder=tmp_path)
    assert (csv_path.read_bytes(), json_path.read_bytes()) == before  # old files intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exp.csv", "exp.json"]  # no temp left


def test_inline_executor_runs_at_submit_and_carries_exceptions() -> None:
    ex = InlineExecutor()
    assert ex.submit(pow, 2, 5).result() == 32
    with pytest.raises(ZeroDivisionError):
        ex.submit(lambda: 1 / 0).result()


# ------------------------------------------------------------------ selection


def test_select_by_name_number_topic_and_unknown(tmp_path: Path) -> None:
    nbs = [tmp_path / "01-simulator.ipynb", tmp_path / "03-raft-election.ipynb"]
    exps, chosen = select(["good", "03"], FAKES, nbs)
    assert list(exps) == ["good"] and chosen == [nbs[1]]
    exps, chosen = select(["raft-election", "01-simulator.ipynb"], FAKES, nbs)
    assert exps == {} and chosen == nbs
    assert select(None, FAKES, nbs) == (FAKES, nbs)
    with pytest.raises(ValueError, match=r"unknown \['nope'\]") as info:
        select(["good", "nope"], FAKES, nbs)
    assert "03-raft-election" in str(info.value) and "good" in str(info.value)


# ------------------------------------------------------------------ orchestration


def test_reproduce_isolates_failures_and_writes_everything(refs: Path, tmp_path: Path) -> None:
    nbdir = tmp_path / "nbs"
    nbdir.mkdir()
    make_notebook(nbdir / "01-fine.ipynb", [
        "import os\nimport matplotlib.pyplot as plt\nQUICK = os.environ.get('CONSENSUSLAB_QUICK') == '1'",
        "fig, ax = plt.subplots(figsize=(2, 2)); ax.plot([0, 1], [0, 1 if QUICK else 2]); plt.show()",
    ])
    make_notebook(nbdir / "02-fails.ipynb", ["x = 1", "1 / 0", "never = True"])
    fakes = {**FAKES, "crash": Experiment("crash", "kills its worker", crashing_experiment)}
    out, results = tmp_path / "out", tmp_path / "results"
    report = reproduce(quick=True, workers=2, out_dir=out, experiments=fakes, notebooks_folder=nbdir,
                       references=refs, results=results, progress=False)

    status = {o.name: o.ok for o in report.outcomes}
    assert status == {"01-fine": True, "02-fails": False, "good": True, "broken": False, "other": True, "crash": False}
    assert report.exit_code == 1
    errors = {o.name: o.error for o in report.failures}
    assert "ZeroDivisionError" in errors["02-fails"] and "cell 3" in errors["02-fails"]
    assert "deliberate failure" in errors["broken"]
    assert "worker process died" in errors["crash"]
    # results of the good experiments, with sidecars; nothing for the failed ones
    assert sorted(p.name for p in results.iterdir()) == ["good.csv", "good.json", "other.csv", "other.json"]
    # executed notebooks (also the failed one, for debugging), HTML, figures
    assert (out / "notebooks" / "01-fine.html").exists() and (out / "notebooks" / "02-fails.ipynb").exists()
    assert [f.path.name for f in report.figures] == ["01-fine-01.png"]
    assert (out / "figures" / "01-fine-01.png").read_bytes()[:4] == b"\x89PNG"
    executed = nbformat.read(out / "notebooks" / "02-fails.ipynb", as_version=4)
    assert executed.cells[2].outputs[0]["ename"] == "ZeroDivisionError"
    # the report joins what was measured and lists what was not
    rows = report.table.set_index("id")["status"].to_dict()
    assert rows == {"fake_ok": "ok", "fake_off": "out of tolerance", "fake_abs": "ok", "fake_never": "not measured"}
    page = (out / "report.html").read_text()
    for text in ("02-fails", "broken", "crash", "Paper B Table 3", "figures/01-fine-01.png"):
        assert text in page
    assert "02-fails" in (out / "report.md").read_text()
    assert pd.read_csv(out / "report.csv")["id"].tolist() == ["fake_ok", "fake_off", "fake_abs", "fake_never"]


def test_reproduce_only_runs_the_named_jobs(refs: Path, tmp_path: Path) -> None:
    report = reproduce(quick=True, only=["other"], workers=1, out_dir=tmp_path / "out", experiments=FAKES,
                       notebooks=[], references=refs, results=tmp_path / "res", progress=False)
    assert [o.name for o in report.outcomes] == ["other"] and report.exit_code == 0
    assert report.table["id"].tolist() == ["fake_abs"]  # unmeasured rows are left out under --only
    assert sorted(p.name for p in (tmp_path / "res").iterdir()) == ["other.csv", "other.json"]


def test_reproduce_validates_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="`workers` must be an int >= 1; got 0"):
        reproduce(workers=0, experiments={}, notebooks=[], out_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown"):
        reproduce(only=["missing"], experiments=FAKES, notebooks=[], out_dir=tmp_path)


def test_reproduce_reports_broken_reference_data(tmp_path: Path) -> None:
    (tmp_path / "ref").mkdir()
    (tmp_path / "ref" / "x.csv").write_text("id,quantity\n")
    report = reproduce(experiments={"other": FAKES["other"]}, notebooks=[], workers=1, out_dir=tmp_path / "o",
                       references=tmp_path / "ref", results=tmp_path / "r", progress=False)
    assert report.exit_code == 1 and "x.csv" in report.failures[0].error
    assert report.table.empty or (report.table["status"] == "no reference").all()


# ------------------------------------------------------------------ structure (issue 12)

ROOT = Path(__file__).resolve().parents[1]


def _imported_modules(module: str) -> set[str]:
    """The consensuslab modules ``module`` imports (any level, parsed, not executed)."""
    import ast

    path = ROOT / (module.replace(".", "/") + ".py")
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("consensuslab"):
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("consensuslab"))
    return names


def test_report_modules_point_down_without_cycles() -> None:
    refs = _imported_modules("consensuslab.references")
    assert not refs & {"consensuslab.jobs", "consensuslab.report", "consensuslab.reproduce", "consensuslab.notebook_runner"}
    report = _imported_modules("consensuslab.report")
    assert "consensuslab.reproduce" not in report and "consensuslab.notebook_runner" not in report
    jobs = _imported_modules("consensuslab.jobs")
    assert not jobs & {"consensuslab.report", "consensuslab.reproduce", "consensuslab.references", "consensuslab.cli"}
    assert "consensuslab.cli" not in _imported_modules("consensuslab.reproduce")
    # rendering does not execute: report.py uses no pool, kernel or experiment runner
    text = (ROOT / "consensuslab" / "report.py").read_text()
    for word in ("ProcessPoolExecutor", "execute_notebook", "run_jobs", ".run("):
        assert word not in text


def test_notebooks_import_references_not_the_runner() -> None:
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert "consensuslab.reproduce" not in path.read_text(), path.name


# ------------------------------------------------------------------ intervals, sections, quick mode


def _estimate(value: float, low: float, high: float, n: int = 100, statistic: str = "mean", q: float | None = None):
    from consensuslab.stats import Estimate

    return Estimate(value, low, high, n, statistic, "test", q=q)


def test_interval_meeting_the_band_is_within_and_point_alone_is_not_enough(refs: Path) -> None:
    table = compare(load_references(refs), {"fake_ok": 1.10, "fake_off": 1.2, "fake_abs": 10.4},
                    estimates={"fake_ok": _estimate(1.10, 1.04, 1.16),     # point out, interval meets [0.95, 1.05]
                               "fake_off": _estimate(1.2, 1.0, 1.4),       # point in, interval in
                               "fake_abs": _estimate(10.4, 10.6, 10.7)})   # interval misses the band (odd but possible)
    by_id = table.set_index("id")
    assert by_id.loc["fake_ok", "status"] == "ok" and by_id.loc["fake_ok", "within"] is True
    assert by_id.loc["fake_abs", "status"] == "out of tolerance"
    assert (by_id.loc["fake_ok", "ci_low"], by_id.loc["fake_ok", "ci_high"], by_id.loc["fake_ok", "n"]) == (1.04, 1.16, 100)
    assert by_id.loc["fake_never", "status"] == "not measured" and math.isnan(by_id.loc["fake_never", "ci_low"])


def test_quick_mode_marks_size_dependent_statistics_not_comparable(refs: Path) -> None:
    estimates = {"fake_ok": _estimate(3.0, 2.9, 3.0, n=20, statistic="max"),
                 "fake_off": _estimate(9.0, 8.0, 9.5, n=400, statistic="quantile", q=0.995),   # 2 points beyond
                 "fake_abs": _estimate(10.4, 10.3, 10.5, n=20, statistic="mean")}
    measured = {"fake_ok": 3.0, "fake_off": 9.0, "fake_abs": 10.4}
    quick = compare(load_references(refs), measured, estimates=estimates, quick=True).set_index("id")["status"]
    assert quick["fake_ok"] == quick["fake_off"] == "not comparable in quick mode"
    assert quick["fake_abs"] == "ok"
    full = compare(load_references(refs), measured, estimates=estimates, quick=False).set_index("id")["status"]
    assert full["fake_ok"] == full["fake_off"] == "out of tolerance"  # judged at full size


def test_report_sections_ci_columns_and_headline_count_reproductions_only(tmp_path: Path) -> None:
    write_refs(tmp_path / "ref", "a.csv", [])
    (tmp_path / "ref" / "a.csv").write_text(
        HEADER.rstrip("\n") + ",kind\n"
        "rep_ok,a measured value,1.0,0.1,abs,ms,Paper A §2 Figure 3,reproduction\n"
        "rep_nc,a maximum,5.0,0.1,rel,ms,Paper A Figure 3,\n"
        "chk_ok,a closed form,0.5,0,abs,,Paper B Eq. 1,check\n"
        "chk_bad,a message count,2,0,abs,round trips,Paper C §2,check\n")
    table = compare(load_references(tmp_path / "ref"), {"rep_ok": 1.05, "rep_nc": 3.0, "chk_ok": 0.5, "chk_bad": 3},
                    estimates={"rep_ok": _estimate(1.05, 0.98, 1.12, n=1000),
                               "rep_nc": _estimate(3.0, 2.5, 3.0, n=25, statistic="max")}, quick=True)
    report = Report([JobOutcome("experiment", "x", True, 1.0)], table, True, tmp_path, 1.0, 2, 0)
    md = render_markdown(report)
    assert "**1 of 2 published measurements reproduced within tolerance, 1 not comparable in quick mode.** 1 of 2 checks hold." in md
    repro = md.split("## Reproductions of published measurements (2)")[1].split("## Checks")[0]
    checks = md.split("## Checks: analytic identities (2)")[1].split("## Jobs")[0]
    assert "| 95% CI | n |" in repro and "| rep_ok |" in repro and "| rep_nc |" in repro and "chk_" not in repro
    assert "| rep_ok | a measured value | 1 ms | 1.05 | [0.98, 1.12] | 1,000 trials | +0.05 (+5.0%) | ±0.1 | yes |" in repro
    assert "not comparable in quick mode" in repro and "| NO |" not in repro
    assert "| chk_ok |" in checks and "| chk_bad |" in checks and "| NO |" in checks and "rep_" not in checks
    page = render_html(report)
    assert "<th>95% CI</th><th>n</th>" in page and "[0.98, 1.12]" in page and "1,000 trials" in page
    assert page.index("id='reproductions'") < page.index("id='checks'")
    assert "1 of 2 published measurements reproduced within tolerance" in page


def test_figures_have_captions_and_cell_links(tmp_path: Path) -> None:
    from consensuslab.jobs import notebook_job

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# 01 — a title"), nbformat.v4.new_markdown_cell("## Balance of a ring"),
                nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nplt.plot([0, 1]); plt.show()")]
    nbformat.write(nb, str(tmp_path / "01-fig.ipynb"))
    outcome = notebook_job(str(tmp_path / "01-fig.ipynb"), True, str(tmp_path / "out"), 60.0)
    assert outcome.ok, outcome.error
    (fig,) = outcome.figures
    assert fig.caption == "01-fig: Balance of a ring"
    assert fig.link == f"notebooks/01-fig.html#cell-id={nb.cells[2].id}"
    page = (tmp_path / "out" / "notebooks" / "01-fig.html").read_text()
    assert f'id="cell-id={nb.cells[2].id}"' in page  # the anchor the link points at
    report = Report([outcome], compare(load_references(tmp_path), {}), True, tmp_path / "out", 1.0, 1, 0)
    assert "01-fig: Balance of a ring" in render_html(report) and fig.link in render_html(report)
    assert f"([notebook cell]({fig.link}))" in render_markdown(report, figure_links=True)


# ------------------------------------------------------------------ static exports (issue 13, item 5)


def test_html_export_keeps_execution_counts_and_shows_widgets_not_their_repr(tmp_path: Path) -> None:
    from consensuslab.jobs import notebook_job

    make_notebook(tmp_path / "01-widgets.ipynb", [
        "x = 1",
        "import ipywidgets as W\nfrom IPython.display import display\nout = W.Output()\n"
        "with out:\n    print('inside the output widget')\n"
        "W.VBox([W.HBox([W.IntSlider(value=3, description='n')]), out])",
        "print('done')",
    ])
    outcome = notebook_job(str(tmp_path / "01-widgets.ipynb"), True, str(tmp_path / "out"), 60.0)
    assert outcome.ok, outcome.error
    executed = nbformat.read(tmp_path / "out" / "notebooks" / "01-widgets.ipynb", as_version=4)
    assert [c.execution_count for c in executed.cells if c.cell_type == "code"] == [1, 2, 3]
    state = executed.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    names = {s["model_name"] for s in state.values()}
    assert {"VBoxModel", "HBoxModel", "IntSliderModel", "OutputModel"} <= names
    outputs = [s["state"]["outputs"] for s in state.values() if s["model_name"] == "OutputModel" and s["state"].get("outputs")]
    assert any("inside the output widget" in o.get("text", "") for out in outputs for o in out)
    assert not any("inside the output widget" in str(o) for o in executed.cells[2].outputs)  # not loose in the cell
    page = (tmp_path / "out" / "notebooks" / "01-widgets.html").read_text()
    assert "VBox(children" not in page and "Output(" not in page and "IntSlider(" not in page
    assert "application/vnd.jupyter.widget-view+json" in page and "application/vnd.jupyter.widget-state+json" in page
    import re

    prompts = re.findall(r"In(?:\s|&nbsp;)\[([ 0-9]*)\]:", page)
    assert prompts == ["1", "2", "3"]  # execution counts kept: no "In [ ]:"
    # where the state is missing (a widget that cannot render statically) nothing shows, no repr
    from consensuslab.notebook_runner import export_html

    del executed.metadata["widgets"]
    bare = export_html(executed)
    assert "VBox(children" not in bare and "widget-view+json" not in bare


# ------------------------------------------------------------------ reference data and notebooks agree with the report


def test_reference_rows_have_valid_kinds_and_checks_are_exact() -> None:
    refs = load_references()
    assert set(refs["kind"]) <= {"reproduction", "check"}
    checks = set(refs.loc[refs["kind"] == "check", "id"])
    assert {"majority5_load", "paxos_uncontended_round_trips", "bounded_max_over_cap", "maglev_share_spread"} <= checks
    assert "raft_150_155_median_ms" not in checks


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "data" / "reference").glob("*.csv")))
def test_sources_name_papers_sections_and_figures_only(name: str, request: pytest.FixtureRequest) -> None:
    import re

    refs = load_references(ROOT / "data" / "reference")
    bad = [(r["id"], r["source"]) for r in refs[refs["file"] == name].to_dict("records")
           if re.search(r"\.\./|\b[\w.-]+/[\w.-]+/|\b\w+\.(json|go|py|csv|txt|edn)\b|\bissue\b|consensuslab|test_data", r["source"])]
    assert not bad, f"{name}: source texts name files or project history, not papers: {bad}"


def _parameters(path: Path, quick: bool) -> dict:
    """The notebook's first code cells (imports left out) run as plain Python, QUICK set."""
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    env = {"os": os, "el": __import__("consensuslab.experiments.election", fromlist=["x"]),
           "PAPER_RANGES": __import__("consensuslab.experiments.election", fromlist=["x"]).PAPER_RANGES}
    saved = os.environ.get("CONSENSUSLAB_QUICK")
    os.environ["CONSENSUSLAB_QUICK"] = "1" if quick else "0"
    try:
        exec(cell.source, env)  # noqa: S102 - our own notebook's parameters cell
    finally:
        if saved is None:
            os.environ.pop("CONSENSUSLAB_QUICK")
        else:
            os.environ["CONSENSUSLAB_QUICK"] = saved
    return env


@pytest.mark.parametrize("quick", [True, False])
def test_notebooks_use_the_reports_trial_counts_and_seed(quick: bool) -> None:
    from consensuslab.experiments import election as el
    from consensuslab.experiments.quorum import PBS_TRIALS

    mode = "quick" if quick else "full"
    p03 = _parameters(ROOT / "notebooks" / "03-raft-election-convergence.ipynb", quick)
    sizes = el.REPORT_SIZES[mode]
    assert (p03["FIG16_TRIALS"], p03["NO_RANDOMNESS_TRIALS"], p03["SPLIT_TRIALS"]) == (
        sizes["fig16_trials"], sizes["no_randomness_trials"], sizes["split_trials"])
    assert tuple(p03["SPLIT_LS"][:2]) == el.REPORT_SPLIT_LS and p03["SPLIT_SIZES"][0] == 5
    p06 = _parameters(ROOT / "notebooks" / "06-quorum-math.ipynb", quick)
    assert p06["WARS_TRIALS"] == PBS_TRIALS[mode]
    for name in ("03-raft-election-convergence", "06-quorum-math"):  # the seed `reproduce --seed` passes
        first = next(c for c in nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4).cells if c.cell_type == "code")
        assert 'SEED = int(os.environ.get("CONSENSUSLAB_SEED", "0"))' in first.source, name


def test_notebook_split_votes_are_the_reports_rows() -> None:
    from consensuslab.experiments import election as el

    nb_rates = el.split_vote_rates(ls=(0.1, 0.2, 0.05), sizes=(5, 9), trials=40, seed=3, executor="inline")
    report_rates = el.split_vote_rates(ls=el.REPORT_SPLIT_LS, trials=40, seed=3, executor="inline")
    pd.testing.assert_frame_equal(nb_rates.iloc[:2].reset_index(drop=True), report_rates.reset_index(drop=True))


def test_timing_notebook_runs_alone_after_the_others(tmp_path: Path) -> None:
    from consensuslab.jobs import JobSpec, run_jobs
    from consensuslab.notebook_runner import runs_alone

    assert runs_alone(ROOT / "notebooks" / "09-scale-out.ipynb")
    assert not runs_alone(ROOT / "notebooks" / "03-raft-election-convergence.ipynb")
    order: list[str] = []
    specs = [JobSpec("experiment", "timed", _timed_job, ("timed", str(tmp_path)), alone=True),
             JobSpec("experiment", "a", _timed_job, ("a", str(tmp_path))),
             JobSpec("experiment", "b", _timed_job, ("b", str(tmp_path)))]
    outcomes = run_jobs(specs, 2, lambda o: order.append(o.name))
    assert [o.name for o in outcomes] == ["timed", "a", "b"] and order[-1] == "timed"
    spans = {o.name: tuple(map(float, o.detail.split())) for o in outcomes}
    others_end = max(spans["a"][1], spans["b"][1])
    assert spans["timed"][0] >= others_end  # nothing else ran while the timing job ran


def test_shared_jobs_start_longest_first_and_unknown_costs_first(tmp_path: Path) -> None:
    from consensuslab.jobs import JobSpec, run_jobs
    from consensuslab.reproduce import EXPECTED_SECONDS

    order: list[str] = []
    costs = {"short": 1.0, "long": 9.0, "unknown": None, "middle": 5.0, "also-short": 1.0}
    specs = [JobSpec("experiment", n, _timed_job, (n, str(tmp_path)), cost=c) for n, c in costs.items()]
    outcomes = run_jobs(specs, 1, lambda o: order.append(o.name))
    assert [o.name for o in outcomes] == list(costs)  # outcomes keep the order of the specs
    assert order == ["unknown", "long", "middle", "short", "also-short"]  # one worker: the start order
    assert EXPECTED_SECONDS["hashing-balance"][0] > EXPECTED_SECONDS["quorum-math"][0]


def _timed_job(name: str, folder: str) -> JobOutcome:
    import time

    start = time.time()
    time.sleep(0.3)
    return JobOutcome("experiment", name, True, detail=f"{start} {time.time()}")


# ------------------------------------------------------------------ a fresh clone with no siblings (issue 13, item 1)

_AUDIT_HOOK = '''
"""Test helper: log every file a Python process opens or lists (sys.addaudithook)."""
import os
import sys

_log = open(os.environ["CONSENSUSLAB_AUDIT_LOG"] + "." + str(os.getpid()), "w", buffering=1)


def _hook(event, args):
    if event in ("open", "os.listdir", "os.scandir") and args and isinstance(args[0], (str, bytes, os.PathLike)):
        try:
            _log.write(os.path.abspath(os.fsdecode(args[0])) + "\\n")
        except Exception:
            pass


sys.addaudithook(_hook)
'''

_FRESH_RUN = '''
import sys
from pathlib import Path

import consensuslab
from consensuslab.notebook_runner import list_notebooks
from consensuslab.reproduce import reproduce

clone = Path.cwd()
assert Path(consensuslab.__file__).resolve().is_relative_to(clone), consensuslab.__file__
# every experiment (quick) and the notebook that reads the Jepsen histories
report = reproduce(quick=True, notebooks=[p for p in list_notebooks() if p.stem.startswith("08")], workers=2,
                   progress=False)
print("failures:", [(o.name, o.error) for o in report.failures])
'''


def _copy_repository(dest: Path) -> None:
    """The repository's files as a clone would have them (tracked plus new, not ignored)."""
    import shutil
    import subprocess

    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


@pytest.fixture(scope="module")
def fresh_clone(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """``reproduce --quick`` (every experiment, notebook 08) in a copy of the repository that
    sits alone in an empty temporary folder, every opened or listed path logged."""
    import subprocess
    import sys

    alone = tmp_path_factory.mktemp("alone")
    clone = alone / "consensuslab"
    _copy_repository(clone)
    hooks = tmp_path_factory.mktemp("hooks")
    (hooks / "sitecustomize.py").write_text(_AUDIT_HOOK)
    logs = tmp_path_factory.mktemp("audit")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSENSUSLAB_")}
    env.update(PYTHONPATH=f"{clone}{os.pathsep}{hooks}", CONSENSUSLAB_AUDIT_LOG=str(logs / "opened"))
    done = subprocess.run([sys.executable, "-c", _FRESH_RUN], cwd=clone, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    opened = {line for path in logs.iterdir() for line in path.read_text().splitlines()}
    return {"clone": clone, "stdout": done.stdout, "opened": opened, "harness": (hooks, logs),
            "table": pd.read_csv(clone / "output" / "report.csv")}


def test_fresh_clone_reads_no_file_outside_the_repository(fresh_clone: dict) -> None:
    import sys
    import tempfile

    clone: Path = fresh_clone["clone"]
    prefixes = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    watched = [clone.parent, ROOT.parent]  # the clone's empty folder; where this checkout and its siblings live
    # Not the repository's business: this test's own audit hook and log folders, and the
    # process's temporary files (a kernel's connection file), which sit directly in the temp
    # folder — that matters when this checkout itself lives in the temp folder.
    harness = fresh_clone["harness"]
    tmp = Path(tempfile.gettempdir()).resolve()
    outside = sorted(
        p for p in fresh_clone["opened"]
        if any(Path(p).is_relative_to(w) for w in watched)
        and not Path(p).is_relative_to(clone)
        and not any(Path(p).is_relative_to(h) for h in harness)
        and Path(p).resolve().parent != tmp
        and not any(Path(p).resolve().is_relative_to(pre) or Path(p).is_relative_to(pre) for pre in prefixes)
    )
    assert not outside, f"files read outside the repository and the Python installation: {outside[:20]}"
    assert any(p.startswith(str(clone / "data" / "reference")) for p in fresh_clone["opened"])  # the log works


def test_fresh_clone_report_has_every_row_measured(fresh_clone: dict) -> None:
    table = fresh_clone["table"]
    assert "failures: []" in fresh_clone["stdout"]
    missing = table.loc[table["status"] == "not measured", "id"].tolist()
    assert not missing, f"rows not measured on a fresh clone: {missing}"


def test_fresh_clone_reproduction_rows_carry_trial_counts_and_intervals(fresh_clone: dict) -> None:
    table = fresh_clone["table"]
    sampled = table[(table["kind"] == "reproduction") & table["ours"].notna()
                    & (table["experiment"] != "linearizability-porcupine")]  # exact verdict counts (branch check)
    assert len(sampled) >= 29
    assert sampled["n"].notna().all() and sampled["ci_low"].notna().all() and sampled["ci_high"].notna().all()
    assert (sampled["ci_low"] <= sampled["ours"] + 1e-9).all() and (sampled["ours"] <= sampled["ci_high"] + 1e-9).all()
    # known deviation, explained in notebook 05 and data/reference/hashing.csv: the Maglev paper's
    # Karger values lie below the 1st percentile of any table of its stated setup
    known = {"maglev_paper_karger_small_max", "maglev_paper_karger_large_max"}
    out = table[(table["status"] == "out of tolerance") & ~table["id"].isin(known)]
    assert out.empty, out
    checks = table[table["kind"] == "check"]
    assert len(checks) >= 9 and (checks["status"] == "ok").all()
