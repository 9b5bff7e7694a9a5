"""The ``consensuslab`` command line: subcommands, outputs, exit codes, clear argument errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from consensuslab import cli
from consensuslab.dashboard import find_free_port, resolve_notebook, voila_command
from consensuslab.experiments import registry
from consensuslab.experiments.registry import Experiment, Result

HEADER = "id,quantity,reference,tolerance,tolerance_kind,unit,source\n"


def tiny_experiment(quick: bool = False, seed: int = 0, executor=None) -> Result:
    n = 3 if quick else 6
    return Result(table=pd.DataFrame({"i": range(n), "seed": seed}), measured={"cli_value": 2.0 + seed},
                  params={"n": n})


def broken_experiment(quick: bool = False, seed: int = 0, executor=None) -> Result:
    raise RuntimeError("deliberately broken")


@pytest.fixture
def fake_registry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Only two fake experiments are registered; results and references go to tmp_path."""
    monkeypatch.setattr(registry, "_REGISTRY", {
        "tiny": Experiment("tiny", "a tiny fake experiment", tiny_experiment),
        "broken": Experiment("broken", "a fake experiment that raises", broken_experiment),
    })
    monkeypatch.setattr(registry, "_load_all", lambda: None)
    monkeypatch.setenv("CONSENSUSLAB_RESULTS", str(tmp_path / "results"))
    ref = tmp_path / "reference"
    ref.mkdir()
    (ref / "cli.csv").write_text(HEADER + "cli_value,a value,2.0,0.1,abs,ms,Test paper §4\n")
    monkeypatch.setattr("consensuslab.references.references_dir", lambda: ref)
    return tmp_path


def test_list_shows_experiments_and_notebooks(fake_registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "tiny" in out and "a tiny fake experiment" in out and "broken" in out
    assert "Notebooks" in out


def test_run_writes_table_sidecar_and_reference_rows(fake_registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "tiny", "--quick", "--seed", "0", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    table = pd.read_csv(fake_registry / "results" / "tiny.csv")
    meta = json.loads((fake_registry / "results" / "tiny.json").read_text())
    assert len(table) == 3 and meta["params"] == {"n": 3} and meta["quick"] is True and meta["seed"] == 0
    assert "| cli_value | a value | 2 ms | 2 | – | – | 0 | ±0.1 | yes | Test paper §4 |" in out
    assert "3 row(s)" in out


def test_run_full_mode_and_seed(fake_registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "tiny", "--seed", "1", "--workers", "2"]) == 0
    meta = json.loads((fake_registry / "results" / "tiny.json").read_text())
    assert (meta["quick"], meta["seed"], meta["rows"]) == (False, 1, 6)
    assert "| NO |" in capsys.readouterr().out  # 3.0 vs 2.0 +- 0.1


def test_run_failure_exits_non_zero(fake_registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "broken", "--workers", "1"]) == 1
    assert "deliberately broken" in capsys.readouterr().err
    assert not (fake_registry / "results" / "broken.csv").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "nope"], "NAME must be one of ['broken', 'tiny']; got 'nope'"),
        (["run", "tiny", "--workers", "0"], "`workers` must be an int >= 1; got 0"),
        (["run", "tiny", "--seed", "x"], "`seed` must be an int >= 0; got 'x'"),
        (["run", "tiny", "--seed", "-2"], "`seed` must be an int >= 0; got -2"),
        (["reproduce", "--quick", "--full"], "not allowed with argument"),
        (["reproduce", "--only", "nope"], "unknown ['nope']"),
        (["reproduce", "--notebooks", "/does/not/exist"], "--notebooks must be an existing folder"),
        (["dashboard", "--port", "70000"], "`port` must be an int in [1, 65535]; got 70000"),
        (["dashboard", "no-such-notebook"], "`notebook` must be one of"),
        (["frobnicate"], "invalid choice"),
        ([], "required"),
    ],
)
def test_bad_arguments_give_clear_errors(fake_registry: Path, capsys: pytest.CaptureFixture[str],
                                         argv: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def _notebook(path: Path, code: list[str]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# A test notebook")] + [nbformat.v4.new_code_cell(c) for c in code]
    nbformat.write(nb, str(path))


def test_reproduce_exit_codes_and_summary(fake_registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nbdir = fake_registry / "nbs"
    nbdir.mkdir()
    _notebook(nbdir / "01-bad.ipynb", ["raise ValueError('notebook failure')"])
    common = ["--quick", "--notebooks", str(nbdir), "--out", str(fake_registry / "out"), "--no-progress", "--workers", "2"]
    assert cli.main(["reproduce", "--only", "tiny", *common]) == 0
    out = capsys.readouterr().out
    assert "1 of 1 published measurements reproduced within tolerance" in out and "| cli_value |" in out
    assert cli.main(["reproduce", *common]) == 1  # everything: one broken experiment, one broken notebook
    captured = capsys.readouterr()
    assert "**experiment broken**: RuntimeError: deliberately broken" in captured.out
    assert "**notebook 01-bad**: ValueError: notebook failure in cell 2" in captured.out
    assert "2 job(s) failed: 01-bad, broken" in captured.err
    assert (fake_registry / "out" / "report.html").exists()
    assert (fake_registry / "results" / "tiny.json").exists()


def test_console_module_entry_point() -> None:
    done = subprocess.run([sys.executable, "-m", "consensuslab.cli", "--version"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0 and done.stdout.startswith("consensuslab ")


def test_voila_command_is_loopback_and_hides_code(tmp_path: Path) -> None:
    cmd = voila_command(tmp_path / "01-x.ipynb", 8899)
    assert cmd[:3] == [sys.executable, "-m", "voila"]
    for flag in ("--no-browser", "--Voila.ip=127.0.0.1", "--strip_sources=True", "--port=8899"):
        assert flag in cmd
    with pytest.raises(ValueError, match="`port` must be an int >= 1 and <= 65535; got 0"):
        voila_command(tmp_path, 0)


def test_find_free_port_is_bindable() -> None:
    import socket

    port = find_free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_resolve_notebook_aliases(tmp_path: Path) -> None:
    for stem in ("01-simulator", "03-raft-election", "04-raft-replication"):
        _notebook(tmp_path / f"{stem}.ipynb", [])
    target = (tmp_path / "03-raft-election.ipynb").resolve()
    for alias in ("03", "03-raft-election", "03-raft-election.ipynb", "raft-election", str(target)):
        assert resolve_notebook(alias, tmp_path) == target
    with pytest.raises(ValueError, match="must be one of"):
        resolve_notebook("raft", tmp_path)


def test_start_voila_rejects_a_busy_port_before_starting(tmp_path: Path) -> None:
    import socket

    from consensuslab.dashboard import start_voila

    _notebook(tmp_path / "01-x.ipynb", [])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = s.getsockname()[1]
        with pytest.raises(ValueError, match=f"`port` must be free on 127.0.0.1; got {busy}"):
            start_voila(tmp_path / "01-x.ipynb", port=busy)
    with pytest.raises(ValueError, match="existing notebook or folder"):
        start_voila(tmp_path / "missing.ipynb")


def test_dashboard_command_stops_its_server_on_sigterm(tmp_path: Path) -> None:
    """A plain ``kill`` (SIGTERM) of ``consensuslab dashboard`` stops its Voilà server too, as
    Ctrl-C does: before, the server and its kernels outlived the command."""
    import re
    import signal
    import socket
    import time

    _notebook(tmp_path / "01-x.ipynb", [])
    port = find_free_port()
    proc = subprocess.Popen([sys.executable, "-m", "consensuslab.cli", "dashboard", str(tmp_path / "01-x.ipynb"),
                             "--no-browser", "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert f"http://127.0.0.1:{port}/" in line, line
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # the server answers
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert "stopping" in proc.stdout.read()  # type: ignore[union-attr]
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) != 0:
                    break
            time.sleep(0.2)
        else:
            pytest.fail(f"the Voilà server still listens on {port} after the command was killed")
        assert re.search(r"log: \S+", line)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_reproduce_defaults_to_published_size_runs() -> None:
    parser = cli.build_parser()
    assert parser.parse_args(["reproduce"]).full is True
    assert parser.parse_args(["reproduce", "--quick"]).full is False


# ------------------------------------------------------------------ the README's commands (issue 13, item 2)

ROOT = Path(__file__).resolve().parents[1]


def _readme_block(marker: str) -> str:
    text = (ROOT / "README.md").read_text()
    after = text.split(f"<!-- {marker} -->", 1)[1]
    return after.split("```bash", 1)[1].split("```", 1)[0].strip()


def _extra_requirements(extra: str) -> set[str]:
    """Distribution names an extra installs, self-references (consensuslab[x]) expanded."""
    import re

    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    names: set[str] = set()
    for req in extras[extra]:
        name = re.match(r"[A-Za-z0-9_.-]+", req).group(0).lower()
        if name == "consensuslab":
            for inner in re.search(r"\[(.*)\]", req).group(1).split(","):
                names |= _extra_requirements(inner.strip())
        else:
            names.add(name)
    return names


def test_readme_main_install_brings_what_the_readme_commands_need() -> None:
    import re

    main = _readme_block("main-command")
    extras = re.findall(r'pip install -e "\.\[([a-z,]+)\]"', main)
    assert extras, f"the main command installs no extra: {main}"
    installed = set().union(*(_extra_requirements(e.strip()) for x in extras for e in x.split(",")))
    readme = (ROOT / "README.md").read_text()
    needs = {"jupyterlab": "jupyter lab", "voila": "consensuslab dashboard", "dask": "dask.distributed"}
    for dist, shown in needs.items():
        assert shown in readme, f"the README no longer shows {shown!r}; update this test"
        assert dist in installed, f"the README shows {shown!r} but its main install ({main}) does not bring {dist}"
    assert _extra_requirements("lab") <= _extra_requirements("dev")  # CI tests what users install


@pytest.mark.slow
def test_readme_commands_work_in_a_fresh_virtual_environment(tmp_path: Path) -> None:
    """The main install line, then the dashboard and Dask scale-out the README shows (minutes:
    creates a virtual environment and installs from the package index; `pytest -m slow`)."""
    import os
    import shutil
    import socket
    import time
    import urllib.request

    shutil.copytree(ROOT, tmp_path / "repo", ignore=shutil.ignore_patterns(".venv", ".git", "output", ".mypy_cache",
                                                                              "__pycache__", "*.egg-info"))
    repo = tmp_path / "repo"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("CONSENSUSLAB_")}
    install = _readme_block("main-command").split("&& consensuslab reproduce")[0]
    subprocess.run(["bash", "-c", install], cwd=repo, env=env, check=True, capture_output=True, timeout=1500)
    bin_dir = repo / ".venv" / "bin"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dash = subprocess.Popen([str(bin_dir / "consensuslab"), "dashboard", "05-hash-ring-balance.ipynb", "--no-browser",
                             "--port", str(port), "--quick"], cwd=repo, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline, page = time.monotonic() + 180, ""
        while time.monotonic() < deadline and not page:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=120) as reply:
                    page = reply.read().decode()
            except OSError:
                time.sleep(1)
        assert "Hash" in page or "hash" in page, page[:500]
    finally:
        dash.terminate()
        dash.wait(timeout=30)
    script = tmp_path / "scale_out.py"  # the README's Dask example, run as a script
    blocks = [b.split("```", 1)[0] for b in (ROOT / "README.md").read_text().split("```python")[1:]]
    script.write_text(next(b for b in blocks if "LocalCluster" in b))  # not the first block: that one is not Dask's
    done = subprocess.run([str(bin_dir / "python"), str(script)], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "rows x" in done.stdout  # the printed result table
