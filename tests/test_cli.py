"""The CLI: outputs, stdin/stdout, JSON, and bad input -> one line + the documented exit code."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import small_image
from inrzip import cli, media
from inrzip.errors import EXIT_BAD_INPUT, EXIT_USAGE
from inrzip.fileio import atomic_path

FAST = ["-O", "steps=60", "--device", "cpu"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    media.write_signal(small_image(), d / "img.png", fmt="png")
    assert cli.main(["encode", str(d / "img.png"), "-b", "6bpp", "-q", *FAST]) == 0
    return d


def run(args, stdin=b""):
    """The real console entry point in a subprocess (what a shell user gets)."""
    return subprocess.run([sys.executable, "-m", "inrzip.cli", *args], input=stdin,
                          capture_output=True, cwd=os.getcwd())


def no_leftovers(d: Path):
    assert not [p.name for p in d.iterdir() if p.name.endswith(".part")]


def test_encode_wrote_beside_input_and_decode_default_name(workdir):
    assert (workdir / "img.inrz").exists()
    out = workdir / "img_dec.png"
    assert cli.main(["decode", str(workdir / "img.inrz"), "-o", str(out), "-q"]) == 0
    assert media.read_signal(out).data.shape == (32, 40, 3)


def test_info_json_lists_chunks_and_bpp(workdir, capsys):
    assert cli.main(["info", str(workdir / "img.inrz"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["backend"] == "sinr" and info["shape"] == [32, 40] and info["ok"]
    assert info["chunks"][0]["name"] == "net" and info["chunks"][0]["checksum_ok"]
    assert info["bpp"] == pytest.approx(8 * (workdir / "img.inrz").stat().st_size / (32 * 40))


def test_encode_json_line(workdir, capsys):
    out = workdir / "j.inrz"
    assert cli.main(["encode", str(workdir / "img.png"), "-o", str(out), "-b", "4bpp", "--json", *FAST]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["bytes"] == out.stat().st_size and line["backend"] == "sinr" and line["psnr"] > 10


def test_stdin_to_stdout_pipeline(workdir):
    png = (workdir / "img.png").read_bytes()
    enc = run(["encode", "-", "-b", "5bpp", "-q", *FAST], stdin=png)
    assert enc.returncode == 0, enc.stderr
    assert enc.stdout[:4] == b"\x89INZ"
    dec = run(["decode", "-", "-o", "-"], stdin=enc.stdout)
    assert dec.returncode == 0, dec.stderr
    assert dec.stdout[:8] == b"\x89PNG\r\n\x1a\n"


def test_several_inputs_into_a_directory(workdir, tmp_path):
    second = tmp_path / "second.png"
    media.write_signal(small_image(24, 24), second, fmt="png")
    outdir = tmp_path / "out"
    outdir.mkdir()
    assert cli.main(["encode", str(workdir / "img.png"), str(second), "-o", str(outdir), "-b", "5bpp", "-q", *FAST]) == 0
    assert sorted(p.name for p in outdir.iterdir()) == ["img.inrz", "second.inrz"]


def damaged(workdir, name, mutate):
    data = bytearray((workdir / "img.inrz").read_bytes())
    mutate(data)
    path = workdir / name
    path.write_bytes(bytes(data))
    return path


BAD_INPUTS = {
    "missing": (lambda d: d / "nope.inrz", "no such file"),
    "not an inrz": (lambda d: d / "img.png", "not an .inrz file"),
    "truncated": (lambda d: damaged(d, "trunc.inrz", lambda b: b.__delitem__(slice(len(b) // 2, None))), "truncated"),
    "bit flip in payload": (lambda d: damaged(d, "flip.inrz", lambda b: b.__setitem__(-5, b[-5] ^ 4)), "damaged"),
    "bit flip in header": (lambda d: damaged(d, "hflip.inrz", lambda b: b.__setitem__(12, b[12] ^ 1)), "damaged"),
    "wrong magic": (lambda d: damaged(d, "magic.inrz", lambda b: b.__setitem__(1, ord("X"))), "wrong magic"),
    "newer major version": (lambda d: damaged(d, "v2.inrz", lambda b: b.__setitem__(8, 2)), "upgrade inrzip"),
    "empty file": (lambda d: damaged(d, "empty.inrz", lambda b: b.clear()), "not an .inrz file"),
    "directory": (lambda d: d, "directory"),
}


@pytest.mark.parametrize("kind", sorted(BAD_INPUTS))
def test_bad_inrz_input_gives_one_line_and_exit_2(workdir, kind):
    make, message = BAD_INPUTS[kind]
    path = make(workdir)
    out = workdir / f"out-{kind.replace(' ', '_')}.png"
    result = run(["decode", str(path), "-o", str(out)])
    err = result.stderr.decode().strip()
    assert result.returncode == EXIT_BAD_INPUT, err
    assert len(err.splitlines()) == 1 and message in err and "Traceback" not in err
    assert not out.exists()
    no_leftovers(workdir)


@pytest.mark.parametrize("args,message", [
    (["encode", "{d}/img.txt"], "not a supported"),
    (["encode", "{d}/nothing.png", "-b", "1bpp"], "no such file"),
])
def test_bad_media_input(workdir, args, message):
    (workdir / "img.txt").write_text("hello, not an image")
    result = run([a.format(d=workdir) for a in args])
    assert result.returncode == EXIT_BAD_INPUT
    assert message in result.stderr.decode() and "Traceback" not in result.stderr.decode()


@pytest.mark.parametrize("args,message", [
    (["encode", "{d}/img.png", "-b", "fast"], "cannot parse rate"),
    (["encode", "{d}/img.png", "-b", "1bpp", "--backend", "zip"], "unknown backend"),
    (["encode", "{d}/img.png", "-b", "1bpp", "-O", "colour=red"], "unknown option"),
    (["encode", "{d}/img.png", "-o", "{d}/img.inrz", "-b", "1bpp"], "already exists"),
    (["decode", "{d}/img.inrz", "-o", "{d}/img.png"], "already exists"),
    (["decode", "{d}/img.inrz", "--crop", "0:999,0:5"], "outside"),
    (["decode", "{d}/img.inrz", "--scale", "0"], "scale"),
    (["encode", "--nope"], "No such option"),
    (["decode", "{d}/img.inrz", "--crop", "0s:1e400s,0:5"], "not a number"),
    (["decode", "{d}/img.inrz", "-o", "{d}/x.xyz"], "unknown output format"),
    (["decode", "{d}/img.inrz", "-o", "/proc/x.png"], "cannot write"),
    (["encode", "{d}/img.png", "{d}/img.png", "-o", "{d}", "-b", "1bpp"], "several inputs would be written"),
    (["encode", "{d}/img.png", "-b", "1bpp", "-O", "lr=-1"], "lr must be"),
])
def test_usage_errors_exit_1(workdir, args, message):
    result = run([a.format(d=workdir) for a in args])
    err = result.stderr.decode()
    assert result.returncode == EXIT_USAGE, err
    assert message in err and "Traceback" not in err


def test_force_never_overwrites_the_input(workdir):
    png = workdir / "img.png"
    before = png.read_bytes()
    result = run(["encode", str(png), "-o", str(png), "-f", "-b", "1bpp"])
    assert result.returncode == EXIT_USAGE and png.read_bytes() == before
    assert "refusing to overwrite the input" in result.stderr.decode()


def test_interrupted_write_leaves_nothing(tmp_path):
    target = tmp_path / "out.bin"
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_crop_reads_fewer_bytes_than_file_for_json(workdir, capsys):
    assert cli.main(["decode", str(workdir / "img.inrz"), "-o", str(workdir / "c.png"), "--crop", "0:8,0:8", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["shape"] == [8, 8, 3] and report["bytes_read"] == report["file_bytes"]
