"""Scripts that call radval outside ``if __name__ == "__main__":``: worker processes would
run them again, so radval warns and runs in the calling process (radval._main_guard)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

_PROBE = """
import warnings
from radval._main_guard import unguarded_main
from radval.features.executor import map_cases
"""


def _run(tmp_path: Path, body: str, *args: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "analysis.py"
    script.write_text(_PROBE + textwrap.dedent(body))
    return subprocess.run([sys.executable, *args, str(script)], capture_output=True,
                          text=True, timeout=240, cwd=tmp_path, check=False)


@pytest.mark.parametrize(("body", "expected"), [
    ("print(unguarded_main())\n", "analysis.py, line 5"),
    ("def f():\n    return unguarded_main()\nprint(f())\n", "analysis.py, line 7"),
    ("if __name__ == '__main__':\n    print(unguarded_main())\n", "None"),
    ("if '__main__' == __name__:\n    x = 1\n    print(unguarded_main())\n", "None"),
    ("def f():\n    return unguarded_main()\nif __name__ == '__main__':\n    print(f())\n",
     "None"),
    ("if __name__ != '__main__':\n    pass\nelse:\n    print(unguarded_main())\n", "None"),
])
def test_where_a_script_calls_radval_outside_its_guard(tmp_path: Path, body: str,
                                                       expected: str) -> None:
    res = _run(tmp_path, body)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == expected


def test_python_c_and_a_thread_are_not_a_script_top_level() -> None:
    code = ("import threading; from radval._main_guard import unguarded_main; "
            "out = []; t = threading.Thread(target=lambda: out.append(unguarded_main())); "
            "t.start(); t.join(); print(unguarded_main(), out[0])")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=False)
    assert res.stdout.strip() == "None None", res.stderr


def test_an_unguarded_script_runs_in_one_process_with_a_warning(tmp_path: Path) -> None:
    """Before: every case 'WorkerDied' (the workers failed while starting, running the
    script again); the report's figure workers could wait for ever."""
    res = _run(tmp_path, """
        out = map_cases(abs, [-1, -2, -3], jobs=2)
        from radval.features.executor import runs_in_workers
        print([o.value for o in out], runs_in_workers(3, jobs=2))
    """)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[1, 2, 3] False"  # as map_cases decided, no 2nd warning
    warning = [ln for ln in res.stderr.splitlines() if "RadvalWarning" in ln]
    assert len(warning) == 1
    assert "analysis.py, line 6" in warning[0] and '__name__ == "__main__"' in warning[0]
    assert "WorkerDied" not in res.stderr


def test_a_guarded_script_starts_its_workers(tmp_path: Path) -> None:
    res = _run(tmp_path, """
        import os
        if __name__ == "__main__":
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                out = map_cases(os.getpgid, [0, 0, 0, 0], jobs=2)
            from radval.features.executor import runs_in_workers
            print(all(o.ok for o in out), runs_in_workers(4, jobs=2))
    """)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "True True"


@pytest.mark.parametrize("flags", [(), ("-O",)])
def test_a_script_edited_while_it_runs_is_not_judged_by_its_new_lines(
        tmp_path: Path, flags: tuple[str, ...]) -> None:
    """Before: a guarded script whose file was edited during a long run (lines added above
    the guard) was read anew, its running line fell outside the guard in the new text, and
    radval ran everything in one process.  The file on disk is used only while its top-level
    bytecode, line numbers included, is the running one."""
    res = _run(tmp_path, """
        from pathlib import Path
        if __name__ == "__main__":
            script = Path(__file__)
            script.write_text("\\n" * 40 + script.read_text())  # every line moves down
            print(unguarded_main())
    """, *flags)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "None"
    # unchanged files are still judged, with -O too (same bytecode as the running one)
    res = _run(tmp_path, "print(unguarded_main())\n", *flags)
    assert res.stdout.strip() == "analysis.py, line 5", res.stderr


def test_a_module_run_with_dash_m_is_judged_by_its_source(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "job.py").write_text(_PROBE + "print(unguarded_main())\n"
                                "if __name__ == '__main__':\n    print(unguarded_main())\n")
    for _ in range(2):  # the second run loads the module's code from __pycache__
        res = subprocess.run([sys.executable, "-m", "pkg.job"], capture_output=True,
                             text=True, timeout=120, cwd=tmp_path, check=False)
        assert res.returncode == 0, res.stderr
        assert res.stdout.split("\n")[:2] == ["job.py, line 5", "None"]
