"""Safe files and data: real shell pipelines through stdin/stdout for every backend, Ctrl-C
during an encode leaves nothing behind (exit 130, one line), and no code path can run code
from data (no pickle, torch.load only with weights_only=True)."""
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
from conftest import REPO
from helpers import small_image

from inrzip import media

VECTORS = REPO / "formats" / "vectors"
INRZIP = f"{sys.executable} -m inrzip.cli"


def sh(cmd: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-o", "pipefail", "-c", cmd], cwd=cwd, capture_output=True,
                          env={**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"})


def test_lossless_encode_and_decode_through_pipes_is_exact(tmp_path):
    media.write_signal(small_image(12, 16), tmp_path / "in.png", fmt="png")
    res = sh(f"cat in.png | {INRZIP} encode - --lossless -O steps=20 -O width=8 --device cpu -q "
             f"| {INRZIP} decode - -o - > out.png", tmp_path)
    assert res.returncode == 0, res.stderr.decode()
    assert np.array_equal(media.read_signal(tmp_path / "out.png").data, small_image(12, 16).data)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png", "out.png"]


def test_decode_crop_and_info_read_stdin_for_every_backend(tmp_path):
    for name in ("sinr-audio-sparse.inrz", "lossless-audio-stereo.inrz", "croppable-video.inrz"):
        shutil.copy(VECTORS / name, tmp_path / name)
    res = sh(f"{INRZIP} decode - -o - --format wav < lossless-audio-stereo.inrz > a.wav && "
             f"{INRZIP} decode - -o - --format flac < sinr-audio-sparse.inrz > s.flac && "
             f"{INRZIP} crop - --region 1:3,0:8,4:12 -o - < croppable-video.inrz "
             f"| {INRZIP} decode - -o - --format y4m > v.y4m && "
             f"{INRZIP} info - --json < croppable-video.inrz > info.json", tmp_path)
    assert res.returncode == 0, res.stderr.decode()
    import json
    manifest = json.loads((VECTORS / "vectors.json").read_text())
    audio = media.read_signal(tmp_path / "a.wav").data
    assert hashlib.sha256(audio.astype("<i2").tobytes()).hexdigest() == \
        manifest["lossless-audio-stereo.inrz"]["sha256"]
    assert media.read_signal(tmp_path / "s.flac").data.shape == (2000, 1)
    assert media.read_signal(tmp_path / "v.y4m").data.shape == (2, 8, 8, 3)
    assert json.loads((tmp_path / "info.json").read_text())["backend"] == "croppable"


def test_ctrl_c_during_an_encode_leaves_nothing(tmp_path):
    media.write_signal(small_image(24, 24), tmp_path / "in.png", fmt="png")
    before = sorted(p.name for p in tmp_path.iterdir())
    # A shell starts background jobs with SIGINT ignored, and children inherit that: restore
    # Python's own handler, as an interactive shell would give it (a suite run under `nohup ... &`
    # otherwise fits on through the signal). faulthandler: a child that still does not stop
    # dumps its stacks into `err` and exits after 40 s, so a failure says where it was.
    script = ("import faulthandler, signal, sys, torch, inrzip.cli, inrzip.backends.sinr.encoder; "
              "signal.signal(signal.SIGINT, signal.default_int_handler); "
              "faulthandler.dump_traceback_later(40, exit=True); print('ready', flush=True); "
              "sys.exit(inrzip.cli.main(['encode', 'in.png', '-b', '4bpp', '-O', 'steps=100000', "
              "'--device', 'cpu', '-q']))")
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout.readline().strip() == b"ready"
    time.sleep(1.0)                       # well inside the fit
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    assert err.decode().strip() == "inrzip: interrupted"
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_no_code_execution_from_data():
    """Model packs and files are never unpickled: no pickle/marshal/shelve anywhere in the
    package, np.load never with allow_pickle, torch.load only with weights_only=True."""
    problems = []
    for path in sorted((REPO / "inrzip").rglob("*.py")):
        text = path.read_text()
        rel = path.relative_to(REPO)
        if re.search(r"^\s*(import|from)\s+(pickle|cPickle|dill|marshal|shelve|joblib)\b", text, re.M):
            problems.append(f"{rel}: imports an unpickler")
        if "allow_pickle=True" in text:
            problems.append(f"{rel}: np.load(allow_pickle=True)")
        for call in re.findall(r"torch\.load\([^)]*\)", text):
            if "weights_only=True" not in call:
                problems.append(f"{rel}: {call}")
        if re.search(r"\b(eval|exec)\(", text):
            problems.append(f"{rel}: eval/exec")
    assert problems == []
