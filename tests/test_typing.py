"""The package type-checks: mypy reports no errors in ``consensuslab/``.

The package ships ``py.typed``, so its annotations are part of the public surface; this test
keeps them true. It runs mypy in-process (``mypy.api.run``) with the repository's
``pyproject.toml`` (its ``[tool.mypy]`` section, when present) plus ``--ignore-missing-imports``
for the dependencies without type information (pandas, scipy, ipywidgets, tqdm). The cache
lives in the repository's ``.mypy_cache`` (mypy git-ignores it itself): a cold run takes about
12 s, a warm one under a second.
"""

from __future__ import annotations

from pathlib import Path

import pytest

mypy_api = pytest.importorskip(
    "mypy.api", reason="mypy is not installed (pip install mypy) - the type check cannot run"
)

ROOT = Path(__file__).resolve().parents[1]


def test_package_has_no_type_errors() -> None:
    stdout, stderr, status = mypy_api.run(
        [
            str(ROOT / "consensuslab"),
            "--config-file", str(ROOT / "pyproject.toml"),
            "--ignore-missing-imports",
            "--cache-dir", str(ROOT / ".mypy_cache"),
            "--no-error-summary",
            "--no-pretty",
        ]
    )
    errors = [line for line in stdout.splitlines() if ": error:" in line]
    assert status != 2, f"mypy crashed or was misconfigured:\n{stderr}{stdout}"
    assert not errors, f"{len(errors)} mypy error(s):\n" + "\n".join(errors)
    assert status == 0, f"mypy exited with status {status}:\n{stderr}{stdout}"
