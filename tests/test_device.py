"""Device choice and the host allocator settings a CPU fit applies (inrzip/fit/device.py).

The allocator state is per process, so each check runs in a fresh interpreter.
"""
from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from inrzip.errors import UsageError
from inrzip.fit import device

glibc_only = pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                                reason="the allocator settings are glibc's mallopt")


def fresh(code: str, **env: str) -> str:
    out = subprocess.run([sys.executable, "-c", "from inrzip.fit import device\n" + code],
                         env={**os.environ, **env}, capture_output=True, text=True, check=True)
    return out.stdout.strip()


@glibc_only
def test_a_cpu_device_tunes_the_allocator_once():
    # True only if glibc took every setting
    assert fresh("print(device._tuned); device.resolve('cpu'); print(device._tuned, device.tune_host_allocator())",
                 INRZIP_MALLOC_TUNING="1").split() == ["None", "True", "True"]


def test_the_opt_out_variable_leaves_the_allocator_alone():
    assert fresh("device.resolve('cpu'); print(device._tuned)", INRZIP_MALLOC_TUNING="0") == "False"


def test_unknown_and_absent_devices_are_usage_errors(monkeypatch):
    with pytest.raises(UsageError, match="choose auto, cpu or cuda"):
        device.resolve("tpu")
    monkeypatch.setattr(device.torch.cuda, "is_available", lambda: False)
    with pytest.raises(UsageError, match="no CUDA GPU"):
        device.resolve("cuda")
    assert device.resolve("auto").type == "cpu"
