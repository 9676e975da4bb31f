"""Run the real `inrzip` command on many kinds of bad input and record what each one gets.

Every case must end with a non-zero exit code, exactly one line on stderr that starts with
"inrzip: error:", no traceback, and no file left behind (no output, no temporary `.part`).
Results go to benchmarks/results/bad-inputs.json and, with --markdown, a table for
benchmarks/README.md. tests/test_bad_inputs.py runs the same cases in-process (fast).

    python benchmarks/bad_inputs.py [--out benchmarks/results/bad-inputs.json] [--markdown]
"""
from __future__ import annotations

import argparse
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import common  # noqa: E402

from inrzip import container  # noqa: E402

VECTORS = REPO / "formats" / "vectors"
EXAMPLE = REPO / "examples" / "kodim03_crop.png"


@dataclass(frozen=True)
class Case:
    kind: str               # what is wrong, in words
    args: tuple[str, ...]   # inrzip arguments; {d} is the work directory
    code: int               # expected exit code
    words: str              # expected in the message
    stdin: str | None = None  # name of a file in {d} to pipe in ("" = empty stdin)


def _forge(header_bytes: bytes, chunks: list[tuple[int, bytes]] = ()) -> bytes:
    """A container with arbitrary header bytes but valid checksums (a file that lies)."""
    pre = bytes([1, 0]) + container.encode_varint(len(header_bytes)) + header_bytes
    pre += container.encode_varint(len(chunks))
    for tag, data in chunks:
        pre += bytes([tag]) + container.encode_varint(len(data)) + struct.pack("<I", zlib.crc32(data))
    return container.MAGIC + pre + struct.pack("<I", zlib.crc32(pre)) + b"".join(d for _, d in chunks)


def prepare(d: Path) -> None:
    """Write every input the cases use into directory `d`."""
    import soundfile as sf
    from PIL import Image

    photo = np.array(Image.open(EXAMPLE))[100:116, 60:80]
    Image.fromarray(photo).save(d / "img.png")
    png = (d / "img.png").read_bytes()
    (d / "cut.png").write_bytes(png[: len(png) // 2])
    (d / "text.png").write_text("hello, I am a text file with a .png name\n")
    (d / "empty.png").write_bytes(b"")
    Image.fromarray(np.zeros((8, 8), np.float32), mode="F").save(d / "float.tif")
    import tifffile
    tifffile.imwrite(d / "five.tif", np.zeros((8, 8, 5), np.uint8), photometric="minisblack",
                     planarconfig="contig")
    sf.write(d / "float.wav", np.zeros((100, 1), np.float32), 8000, subtype="FLOAT")
    sf.write(d / "three.wav", np.zeros((100, 3), np.int16), 8000, subtype="PCM_16")
    (d / "song.mp3").write_bytes(b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb" + b"\x00" * 100)
    (d / "sub").mkdir()

    good = (VECTORS / "sinr-image-sparse.inrz").read_bytes()
    (d / "img.inrz").write_bytes(good)
    shutil.copy(VECTORS / "lossless-image-rgb8.inrz", d / "exact.inrz")
    shutil.copy(VECTORS / "croppable-image.inrz", d / "crop.inrz")
    (d / "empty.inrz").write_bytes(b"")
    (d / "cut.inrz").write_bytes(good[: len(good) - 40])
    (d / "sig.inrz").write_bytes(good[:5])
    (d / "magic.inrz").write_bytes(b"\x89PNG" + good[4:])
    (d / "crlf.inrz").write_bytes(good.replace(b"\r\n", b"\n", 1))
    (d / "hibit.inrz").write_bytes(b"\x09" + good[1:])
    flip = bytearray(good)
    flip[-3] ^= 0x10
    (d / "chunkcrc.inrz").write_bytes(bytes(flip))
    flip = bytearray(good)
    flip[13] ^= 0x01
    (d / "headcrc.inrz").write_bytes(bytes(flip))
    v2 = bytearray(good)
    v2[8] = 2
    (d / "v2.inrz").write_bytes(bytes(v2))
    reader = container.Reader.from_bytes(good)
    chunks = [(e.tag, reader.read_chunk(i)) for i, e in enumerate(reader.chunks)]
    (d / "newchunk.inrz").write_bytes(container.build(reader.header, chunks + [(0x9F, b"future")]))
    (d / "optchunk.inrz").write_bytes(container.build(reader.header, chunks + [(0x1F, b"skip me")]))
    (d / "nochunk.inrz").write_bytes(container.build(reader.header, []))
    header = reader.header
    (d / "backend.inrz").write_bytes(_forge(bytes([99]) + header.to_bytes()[1:]))
    w = container.ByteWriter().u8(1).u8(0).varint(1 << 23).varint(1 << 23).varint(3).u8(8).bytes_(header.params)
    (d / "huge.inrz").write_bytes(_forge(w.getvalue(), chunks))
    w = container.ByteWriter().u8(1).u8(0).varint(24).varint(32).varint(9).u8(8).bytes_(header.params)
    (d / "channels.inrz").write_bytes(_forge(w.getvalue(), chunks))
    (d / "params.inrz").write_bytes(container.build(replace(header, params=b"\xff" * 7), chunks))
    pre = bytes([1, 0]) + container.encode_varint(len(header.to_bytes())) + header.to_bytes()
    pre += container.encode_varint(container.MAX_CHUNKS)      # claims a million chunks
    (d / "count.inrz").write_bytes(container.MAGIC + pre + struct.pack("<I", zlib.crc32(pre)))
    pre = bytes([1, 0]) + container.encode_varint(len(header.to_bytes())) + header.to_bytes()
    pre += container.encode_varint(1) + bytes([0x81]) + container.encode_varint(1 << 30) + b"\0" * 4
    (d / "length.inrz").write_bytes(container.MAGIC + pre + struct.pack("<I", zlib.crc32(pre)))


E = "{d}/"
CASES: list[Case] = [
    # ---- input files (exit 2)
    Case("missing input file (decode)", ("decode", E + "nope.inrz"), 2, "no such file"),
    Case("missing input file (encode)", ("encode", E + "nope.png", "-b", "1bpp"), 2, "no such file"),
    Case("directory as input", ("decode", E + "sub"), 2, "directory"),
    Case("empty .inrz file", ("decode", E + "empty.inrz"), 2, "empty file"),
    Case("empty image file", ("encode", E + "empty.png", "-b", "1bpp"), 2, "empty file"),
    Case("text file named .png", ("encode", E + "text.png", "-b", "1bpp"), 2, "not a supported"),
    Case("truncated PNG", ("encode", E + "cut.png", "-b", "1bpp"), 2, "PNG"),
    Case("floating-point TIFF", ("encode", E + "float.tif", "-b", "1bpp"), 2, "floating-point"),
    Case("5-channel TIFF", ("encode", E + "five.tif", "-b", "1bpp"), 2, "layout"),
    Case("32-bit float WAV", ("encode", E + "float.wav", "-b", "64kbps"), 2, "not supported"),
    Case("MP3 (not a supported input)", ("encode", E + "song.mp3", "-b", "64kbps"), 2, "not"),
    Case("3-channel audio, lossless", ("encode", E + "three.wav", "--lossless"), 1, "channels"),
    Case("truncated .inrz", ("decode", E + "cut.inrz"), 2, "truncated"),
    Case(".inrz cut inside the signature", ("decode", E + "sig.inrz"), 2, "truncated"),
    Case("wrong magic (a PNG renamed .inrz)", ("decode", E + "magic.inrz"), 2, "wrong magic"),
    Case("text-mode transfer (CRLF -> LF)", ("decode", E + "crlf.inrz"), 2, "text mode"),
    Case("high bit stripped (7-bit transfer)", ("decode", E + "hibit.inrz"), 2, "high bit"),
    Case("damaged chunk (CRC mismatch)", ("decode", E + "chunkcrc.inrz"), 2, "damaged"),
    Case("damaged header (CRC mismatch)", ("decode", E + "headcrc.inrz"), 2, "header is damaged"),
    Case("newer major version (2.0)", ("decode", E + "v2.inrz"), 2, "upgrade inrzip"),
    Case("unknown required chunk (0x9F)", ("decode", E + "newchunk.inrz"), 2, "upgrade inrzip"),
    Case("unknown backend id (99)", ("decode", E + "backend.inrz"), 2, "upgrade inrzip"),
    Case("lying dimensions (2^23 x 2^23)", ("decode", E + "huge.inrz"), 2, "exceeds the limit"),
    Case("9 channels in an image header", ("decode", E + "channels.inrz"), 2, "channels"),
    Case("garbage backend params", ("decode", E + "params.inrz"), 2, "params.inrz: sinr parameters"),
    Case("huge chunk count (2^20, no index)", ("decode", E + "count.inrz"), 2, "truncated"),
    Case("lying chunk length (1 GiB)", ("decode", E + "length.inrz"), 2, "truncated"),
    Case("file without its chunk", ("decode", E + "nochunk.inrz"), 2, "no net chunk"),
    Case("empty stdin (decode -)", ("decode", "-", "-o", E + "x.png"), 2, "empty file", stdin=""),
    Case("empty stdin (encode -)", ("encode", "-", "-b", "1bpp", "-o", E + "x.inrz"), 2, "empty", stdin=""),
    Case("text on stdin (info -)", ("info", "-"), 2, "not an .inrz file", stdin="text.png"),
    # ---- usage (exit 1)
    Case("output exists, no --force (encode)", ("encode", E + "img.png", "-o", E + "img.inrz", "-b", "1bpp"),
         1, "already exists"),
    Case("output exists, no --force (decode)", ("decode", E + "img.inrz", "-o", E + "img.png"), 1, "already exists"),
    Case("output is the input (even with --force)", ("encode", E + "img.png", "-o", E + "img.png", "-f", "-b", "1bpp"),
         1, "refusing to overwrite the input"),
    Case("output directory missing", ("decode", E + "img.inrz", "-o", E + "no/dir/x.png"), 1, "does not exist"),
    Case("unwritable output (/proc)", ("decode", E + "img.inrz", "-o", "/proc/x.png"), 1, "cannot write"),
    Case("output path is a directory", ("decode", E + "img.inrz", "-o", E + "sub", "--format", "png"), 1,
         "directory"),
    Case("unknown output format (.xyz)", ("decode", E + "img.inrz", "-o", E + "x.xyz"), 1, "unknown output format"),
    Case("bad rate string", ("encode", E + "img.png", "-b", "fast"), 1, "cannot parse rate"),
    Case("zero rate", ("encode", E + "img.png", "-b", "0bpp"), 1, "rate"),
    Case("audio rate for an image", ("encode", E + "img.png", "-b", "64kbps"), 1, "kbps"),
    Case("rate with --lossless", ("encode", E + "img.png", "--lossless", "-b", "1bpp"), 1, "takes no rate"),
    Case("unknown backend", ("encode", E + "img.png", "-b", "1bpp", "--backend", "zip"), 1, "unknown backend"),
    Case("unknown -O option", ("encode", E + "img.png", "-b", "1bpp", "-O", "colour=red"), 1, "unknown option"),
    Case("-O without '='", ("encode", E + "img.png", "-b", "1bpp", "-O", "steps"), 1, "key=value"),
    Case("-O value of the wrong type", ("encode", E + "img.png", "-b", "1bpp", "-O", "steps=many"), 1, "not a valid"),
    Case("unknown effort", ("encode", E + "img.png", "-b", "1bpp", "--effort", "turbo"), 1, "effort"),
    Case("unknown device", ("encode", E + "img.png", "-b", "1bpp", "--device", "tpu"), 1, "device"),
    Case("bad crop syntax", ("decode", E + "img.inrz", "--crop", "0-8,0-8"), 1, "start:stop"),
    Case("crop bound not a number", ("decode", E + "img.inrz", "--crop", "a:b,0:8"), 1, "not a number"),
    Case("crop outside the image", ("decode", E + "img.inrz", "--crop", "0:999,0:5"), 1, "outside"),
    Case("crop with the wrong number of axes", ("decode", E + "img.inrz", "--crop", "0:5"), 1, "2 ranges"),
    Case("--scale 0", ("decode", E + "img.inrz", "--scale", "0"), 1, "scale"),
    Case("--scale nan", ("decode", E + "img.inrz", "--scale", "nan"), 1, "scale"),
    Case("--scale 1000", ("decode", E + "img.inrz", "--scale", "1000"), 1, "scale"),
    Case("--scale on a lossless file", ("decode", E + "exact.inrz", "--scale", "2"), 1, "scale"),
    Case("inrzip crop on a sinr file", ("crop", E + "img.inrz", "--region", "0:8,0:8"), 1, "cannot be cut"),
    Case("inrzip crop outside the file", ("crop", E + "crop.inrz", "--region", "0:99,0:8"), 1, "--region"),
    Case("several inputs to stdout", ("encode", E + "img.png", E + "img.png", "-o", "-", "-b", "1bpp"), 1,
         "stdout"),
    Case("unknown command", ("frobnicate",), 1, "No such command"),
    Case("missing argument", ("decode",), 1, "Missing argument"),
    Case("unknown flag", ("decode", E + "img.inrz", "--fast"), 1, "No such option"),
]


def one_line(stderr: str) -> str:
    lines = [l for l in stderr.splitlines() if l.strip()]
    return lines[-1] if lines else ""


def check(case: Case, code: int, stderr: str, before: set[str], after: set[str]) -> list[str]:
    """What is wrong with one outcome (empty list: the case behaves)."""
    problems = []
    lines = [l for l in stderr.splitlines() if l.strip()]
    if code != case.code:
        problems.append(f"exit {code}, expected {case.code}")
    if "Traceback" in stderr:
        problems.append("traceback")
    if len(lines) != 1 or not lines[0].startswith("inrzip: error: "):
        problems.append(f"{len(lines)} stderr lines, not one 'inrzip: error:' line")
    if case.words.lower() not in stderr.lower():
        problems.append(f"message lacks {case.words!r}")
    if after - before:
        problems.append(f"left files behind: {sorted(after - before)}")
    return problems


def listing(d: Path) -> set[str]:
    return {str(p.relative_to(d)) for p in d.rglob("*")}


def run_all() -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="inrzip-bad-") as tmp:
        d = Path(tmp)
        prepare(d)
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        for case in CASES:
            args = [a.replace("{d}", str(d)) for a in case.args]
            stdin = b"" if case.stdin == "" else (d / case.stdin).read_bytes() if case.stdin else None
            before = listing(d)
            feed = {"input": stdin} if stdin is not None else {"stdin": subprocess.DEVNULL}
            res = subprocess.run([sys.executable, "-m", "inrzip.cli", *args], capture_output=True,
                                 env=env, cwd=d, **feed)
            err = res.stderr.decode(errors="replace")
            problems = check(case, res.returncode, err, before, listing(d))
            rows.append({"kind": case.kind, "command": "inrzip " + " ".join(case.args).replace("{d}/", ""),
                         "exit": res.returncode, "message": one_line(err).replace(str(d) + "/", ""),
                         "ok": not problems, "problems": problems})
            print(f"{'ok ' if not problems else 'BAD'} {res.returncode} {case.kind}: {rows[-1]['message']}"
                  + (f"  <-- {problems}" if problems else ""), flush=True)
    return rows


def markdown(rows: list[dict]) -> str:
    out = ["| # | bad input | exit | message (stderr, one line) |", "|---|---|---|---|"]
    for i, r in enumerate(rows, 1):
        msg = r["message"].replace("|", "\\|")
        out.append(f"| {i} | {r['kind']} | {r['exit']} | `{msg}` |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "bad-inputs.json"))
    ap.add_argument("--markdown", action="store_true", help="also print the README table")
    args = ap.parse_args()
    rows = run_all()
    doc = {"command": "python benchmarks/bad_inputs.py", "cases": len(rows),
           "all_ok": all(r["ok"] for r in rows), "rows": rows}
    common.write_doc(doc, args.out)
    if args.markdown:
        print(markdown(rows))
    print(f"{sum(r['ok'] for r in rows)}/{len(rows)} cases behave")
    sys.exit(0 if doc["all_ok"] else 1)


if __name__ == "__main__":
    main()
