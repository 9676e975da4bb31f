"""Every kind of bad input in benchmarks/bad_inputs.py, through the CLI entry point in-process
(the benchmark runs the same cases as real subprocesses): a non-zero exit code as documented,
one 'inrzip: error:' line on stderr that says what is wrong, no traceback, no file left behind."""
import importlib.util
import io
import sys
from pathlib import Path

import pytest

from inrzip import cli

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "bad_inputs.py"
_spec = importlib.util.spec_from_file_location("bench_bad_inputs", _PATH)
bad = importlib.util.module_from_spec(_spec)
sys.modules["bench_bad_inputs"] = bad
_spec.loader.exec_module(bad)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    bad.prepare(d)
    return d


class _Stdin:
    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)


def test_at_least_twenty_kinds():
    assert len(bad.CASES) >= 20 and len({c.kind for c in bad.CASES}) == len(bad.CASES)
    assert {c.code for c in bad.CASES} == {1, 2}


@pytest.mark.parametrize("case", bad.CASES, ids=[c.kind for c in bad.CASES])
def test_bad_input(case, workdir, capsys, monkeypatch):
    args = [a.replace("{d}", str(workdir)) for a in case.args]
    if case.stdin is not None:
        monkeypatch.setattr(sys, "stdin", _Stdin((workdir / case.stdin).read_bytes() if case.stdin else b""))
    before = bad.listing(workdir)
    code = cli.main(args)
    err = capsys.readouterr().err
    assert bad.check(case, code, err, before, bad.listing(workdir)) == [], err


@pytest.mark.parametrize("exc,code,line", [
    (RuntimeError("boom"), 3, "inrzip: internal error: RuntimeError: boom (please report)"),
    (KeyboardInterrupt(), 130, "inrzip: interrupted"),
])
def test_internal_error_and_interrupt_exit_codes(exc, code, line, workdir, capsys, monkeypatch):
    """A bug (any non-inrzip exception) is exit 3 and Ctrl-C exit 130, each one line."""
    from inrzip import api

    def fail(*args, **kwargs):
        raise exc
    monkeypatch.setattr(api, "decode", fail)
    before = bad.listing(workdir)
    assert cli.main(["decode", str(workdir / "img.inrz"), "-o", str(workdir / "never.png")]) == code
    assert capsys.readouterr().err.strip() == line
    assert bad.listing(workdir) == before
