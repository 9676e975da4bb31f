"""Device choice, and the glibc allocator settings a CPU fit and a decode apply (inrzip/allocator.py).

The allocator state is per process, so those checks run in a fresh interpreter.
"""
from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from inrzip.errors import UsageError
from inrzip.fit import device

glibc_only = pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                                reason="the allocator settings are glibc's mallopt")


def fresh(code: str, **env: str) -> str:
    out = subprocess.run([sys.executable, "-c", "from inrzip import allocator\nfrom inrzip.fit import device\n" + code],
                         env={**os.environ, **env}, capture_output=True, text=True, check=True)
    return out.stdout.strip()


@glibc_only
def test_a_cpu_device_tunes_the_allocator_once():
    # True only if glibc took every setting
    assert fresh("print(allocator._tuned); device.resolve('cpu'); print(allocator._tuned, allocator.tune())",
                 INRZIP_MALLOC_TUNING="1").split() == ["None", "True", "True"]


@glibc_only
def test_decoding_tunes_the_allocator_unless_opted_out():
    vector = Path(__file__).resolve().parents[1] / "formats" / "vectors" / "lossless-image-rgb8.inrz"
    code = f"from inrzip import api\nprint(allocator._tuned); api.decode({str(vector)!r}); print(allocator._tuned)"
    assert fresh(code, INRZIP_MALLOC_TUNING="1").split() == ["None", "True"]
    assert fresh(code, INRZIP_MALLOC_TUNING="0").split() == ["None", "False"]


def test_the_opt_out_variable_leaves_the_allocator_alone():
    assert fresh("device.resolve('cpu'); print(allocator._tuned)", INRZIP_MALLOC_TUNING="0") == "False"


def test_the_allocator_module_needs_no_torch():
    out = subprocess.run([sys.executable, "-c", "import sys; from inrzip import allocator; allocator.tune(); "
                          "print('torch' in sys.modules)"], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_unknown_and_absent_devices_are_usage_errors(monkeypatch):
    with pytest.raises(UsageError, match="choose auto, cpu or cuda"):
        device.resolve("tpu")
    monkeypatch.setattr(device.torch.cuda, "is_available", lambda: False)
    with pytest.raises(UsageError, match="no CUDA GPU"):
        device.resolve("cuda")
    assert device.resolve("auto").type == "cpu"
