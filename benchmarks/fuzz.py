"""Fuzz every backend's decoder with damaged and hostile versions of the golden vectors.

Each case mutates a golden `.inrz` file and decodes it in this process with a memory cap and a
per-case time limit. The only acceptable outcomes are a decode or one of the project's own
errors (inrzip.errors.InrzipError). Anything else (another exception, MemoryError, a case over
the time limit) is a crasher: it is saved to tests/fuzz_crashers/ so a test replays it.

Mutations (most of them behind recomputed CRCs, so they reach the backend, not just the
container's checksums): random bit flips, truncation, chunk reordering and duplication,
lying header geometry (dimensions, channels, bit depth, sample rate), garbage params, huge
varints, payload bit flips and truncation, chunk lengths in the index that lie (preamble CRC
recomputed), many extra chunks, and for croppable files lies in the backend parameters that
stay self-consistent (geometry and partition sizes scaled together, cropped-file origins and
kept boxes, huge partition counts with a matching number of chunks) so they pass every
structural check and reach the decode loop.

Every case decodes the whole file; each file that parses is also decoded on a random crop
(and, for lossy backends, scale), and a croppable file is also cut with `crop()` and the cut
file decoded.

    python benchmarks/fuzz.py --cases 2000                            # every golden vector
    python benchmarks/fuzz.py --cases 3000 --vectors 'croppable-*'    # one backend
"""
from __future__ import annotations

import argparse
import json
import math
import random
import resource
import signal
import struct
import sys
import time
import traceback
import zlib
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import common  # noqa: E402

from inrzip import api, container  # noqa: E402
from inrzip.errors import InrzipError  # noqa: E402
from inrzip.runtime.coords import Region  # noqa: E402

VECTORS = REPO / "formats" / "vectors"
CRASHERS = REPO / "tests" / "fuzz_crashers"


# Declared outputs above this many samples are real-file sized: decoding them in full takes
# seconds to minutes by design (bounded by the header), so lies that large become cropped-file
# lies instead, whose cost must follow the small region the header declares.
LEGIT_SAMPLES = 1 << 22


class Timeout(Exception):
    pass


def _alarm(*_: object) -> None:
    raise Timeout


def decode(data: bytes) -> None:
    reader = container.Reader.from_bytes(data)
    api._decode_reader(reader, Region.full(reader.header.shape))


def random_spans(rng: random.Random, shape: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    spans = []
    for n in shape:
        a = rng.randrange(n)
        spans.append((a, rng.randint(a + 1, n)))
    return tuple(spans)


def plan_more(rng: random.Random, data: bytes) -> dict:
    """The other decode paths to try on a file that parses: a random crop (maybe scaled) and,
    for croppable files, a region to cut the file to (crop()) before decoding the cut file."""
    try:
        header = container.Reader.from_bytes(data).header
    except InrzipError:
        return {}
    spans = random_spans(rng, header.shape)
    points = 1
    for a, b in spans:
        points *= b - a
    scale = rng.choice([1.0, 1.0, 0.5, 0.37, 2.0, 3.0]) if points * header.channels < 1 << 16 else 1.0
    plan = {"crop": [list(s) for s in spans], "scale": scale}
    if header.backend == "croppable":
        plan["cut"] = [list(s) for s in random_spans(rng, header.shape)]
    return plan


def decode_more(data: bytes, plan: dict) -> None:
    """Run `plan` (from plan_more); inrzip's own errors are the expected outcome of a bad file.
    tests/test_fuzz_crashers.py replays the same plan from a crasher's .json sidecar."""
    if not plan:
        return
    try:
        reader = container.Reader.from_bytes(data)
        api._decode_reader(reader, Region(tuple(map(tuple, plan["crop"])), plan["scale"]))
    except InrzipError:
        pass
    if "cut" in plan:
        from inrzip.backends.croppable import decoder as cdec
        try:
            header, chunks = cdec.crop(container.Reader.from_bytes(data), tuple(map(tuple, plan["cut"])))
            decode(container.build(header, chunks))
        except InrzipError:
            pass


def parts(data: bytes) -> tuple[container.Header, list[tuple[int, bytes]]]:
    reader = container.Reader.from_bytes(data)
    return reader.header, [(e.tag, reader.read_chunk(i)) for i, e in enumerate(reader.chunks)]


def flip_bits(rng: random.Random, data: bytes, n: int) -> bytes:
    out = bytearray(data)
    for _ in range(n):
        i = rng.randrange(len(out))
        out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


def lie_length(rng: random.Random, data: bytes) -> bytes:
    """Rewrite one index entry's length (keeping the preamble CRC valid): the payloads no
    longer line up with the index."""
    reader = container.Reader.from_bytes(data)
    header = reader.header.to_bytes()
    pre = bytearray([container.VERSION_MAJOR, container.VERSION_MINOR])
    pre += container.encode_varint(len(header)) + header + container.encode_varint(len(reader.chunks))
    victim = rng.randrange(len(reader.chunks)) if reader.chunks else -1
    for i, e in enumerate(reader.chunks):
        length = e.length
        if i == victim:
            length = rng.choice([0, max(0, length - rng.randint(1, 8)), length + rng.randint(1, 8),
                                 length * 1000, container.MAX_CHUNK_BYTES])
        pre += bytes([e.tag]) + container.encode_varint(length) + struct.pack("<I", e.crc)
    pre += struct.pack("<I", zlib.crc32(bytes(pre)))
    return container.MAGIC + bytes(pre) + data[reader.preamble_size:]


def croppable_lie(rng: random.Random, header: container.Header,
                  chunks: list[tuple[int, bytes]]) -> tuple[container.Header, list[tuple[int, bytes]]]:
    """Self-consistent croppable parameters that no encoder wrote: they pass the structural
    checks (box covers the region, one chunk per kept partition) and reach the decode loop."""
    from inrzip.backends.croppable import format as cfmt
    p = cfmt.params_of(header)
    d = len(header.shape)
    glob = [c for c in chunks if c[0] == cfmt.GLOBAL_CHUNK][:1] or [(cfmt.GLOBAL_CHUNK, b"")]
    locs = [c for c in chunks if c[0] == cfmt.PART_CHUNK] or [(cfmt.PART_CHUNK, b"")]
    what = rng.choice(["scale_all", "one_partition", "tiny_partitions", "cropped_file", "fields"])
    if what == "scale_all":            # geometry, fitted shape and partition size all scaled
        f = rng.choice([2, 3, 17, 100, 1000, 1 << 12])
        shape = tuple(min(container.MAX_DIM, n * f) for n in header.shape)
        p = replace(p, full_shape=shape, part=tuple(min(container.MAX_DIM, s * f) for s in p.part))
    elif what == "one_partition":      # one partition as large as the whole (maybe huge) signal
        f = rng.choice([1, 1, 10, 1000, 1 << 14])
        shape = tuple(min(container.MAX_DIM, n * f) for n in header.shape)
        p = replace(p, full_shape=shape, part=shape, box_lo=(0,) * d, box_n=(1,) * d, origin=(0,) * d)
    elif what == "tiny_partitions":    # 1-sample partitions: many chunks, each tiny
        f = rng.choice([1, 1, 2, 4])
        shape = tuple(max(1, n // f) for n in header.shape)
        p = replace(p, full_shape=shape, part=(1,) * d, box_lo=(0,) * d, box_n=shape, origin=(0,) * d)
    else:
        shape = header.shape
    if what in ("scale_all", "one_partition") and \
            LEGIT_SAMPLES < math.prod(shape) * header.channels <= container.MAX_SAMPLES:
        # A real file this large is simply slow to decode in full; the hostile version of
        # it is a tiny region of that huge grid, which must cost what the region costs.
        what = "cropped_file"
    if what == "cropped_file":         # a tiny region of a huge fitted grid, big partitions
        full = tuple(rng.choice([n, n * 7, container.MAX_DIM]) for n in p.full_shape)
        part = tuple(rng.choice([s, f, max(1, f // 3)]) for s, f in zip(p.part, full))
        origin = tuple(rng.randrange(f) for f in full)
        shape = tuple(rng.randint(1, min(4, f - o)) for f, o in zip(full, origin))
        lo = tuple(o // s for o, s in zip(origin, part))
        hi = tuple(-(-(o + n) // s) for o, n, s in zip(origin, shape, part))
        p = replace(p, full_shape=full, part=part, origin=origin, box_lo=lo,
                    box_n=tuple(h - l for l, h in zip(lo, hi)))
    elif what == "fields":             # network fields: widths, depth, frequencies
        p = replace(p, hidden_layers=rng.choice([0, 1, p.hidden_layers, 16]),
                    local_width=rng.choice([1, p.local_width, 64, 1024]),
                    global_width=rng.choice([1, p.global_width, 64, 1024]),
                    w0=rng.choice([1, p.w0, 1 << 20]), w0_first=rng.choice([1, p.w0_first, 1 << 20]))
    header = replace(header, shape=shape)
    header = replace(header, params=p.to_bytes())
    if p.kept > 1 << 16:               # too many chunks to write: leave the count wrong
        return header, glob + locs
    return header, glob + [locs[i % len(locs)] for i in range(p.kept)]


def mutate(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    header, chunks = parts(data)
    kinds = ["flip", "truncate", "reorder", "duplicate", "geometry", "params", "huge",
             "payload_flip", "payload_cut", "drop_chunk", "retag", "lie_length", "many_chunks"]
    if header.backend == "croppable":
        kinds += ["croppable_lie"] * 4
    kind = rng.choice(kinds)
    if kind == "lie_length":
        return kind, lie_length(rng, data)
    if kind == "croppable_lie":
        try:
            header, chunks = croppable_lie(rng, header, chunks)
        except InrzipError:            # the lie itself is out of the format's range
            return kind, flip_bits(rng, data, 1)
    elif kind == "many_chunks":
        n = rng.choice([100, 1000, 20000])
        extra = [(rng.choice([c[0] for c in chunks] + [0x01, 0x7F]), rng.choice(chunks)[1][:rng.randint(0, 8)])
                 for _ in range(n)]
        chunks = chunks + extra if rng.random() < 0.5 else extra + chunks
    elif kind == "flip":
        return kind, flip_bits(rng, data, rng.randint(1, 8))
    if kind == "truncate":
        return kind, data[:rng.randrange(len(data))]
    if kind == "reorder":
        rng.shuffle(chunks)
    elif kind == "duplicate":
        chunks.insert(rng.randrange(len(chunks) + 1), rng.choice(chunks))
    elif kind == "drop_chunk":
        chunks.pop(rng.randrange(len(chunks)))
    elif kind == "retag":
        i = rng.randrange(len(chunks))
        chunks[i] = (rng.randrange(256), chunks[i][1])
    elif kind == "geometry":
        field = rng.choice(["shape", "channels", "bit_depth", "sample_rate"])
        if field == "shape":
            shape = tuple(max(1, int(s * rng.choice([0.5, 2, 3, 17, 1000]))) if rng.random() < 0.7 else s
                          for s in header.shape)
            header = replace(header, shape=shape)
        elif field == "channels":
            header = replace(header, channels=rng.randint(1, 16))
        elif field == "bit_depth":
            header = replace(header, bit_depth=rng.choice([8, 16, 24]))
        else:
            header = replace(header, sample_rate=rng.choice([1, 8000, 1 << 23]))
    elif kind == "params":
        p = bytearray(header.params)
        if p and rng.random() < 0.7:
            for _ in range(rng.randint(1, 4)):
                p[rng.randrange(len(p))] = rng.randrange(256)
        else:
            p = bytearray(rng.randbytes(rng.randint(0, 64)))
        header = replace(header, params=bytes(p))
    elif kind == "huge":
        p = bytearray(header.params)
        i = rng.randrange(len(p) + 1) if p else 0
        p[i:i] = container.encode_varint(rng.choice([1 << 20, 1 << 31, (1 << 63) - 1]))
        header = replace(header, params=bytes(p))
    elif kind == "payload_flip":
        i = rng.randrange(len(chunks))
        chunks[i] = (chunks[i][0], flip_bits(rng, chunks[i][1], rng.randint(1, 4)) if chunks[i][1] else b"\0")
    elif kind == "payload_cut":
        i = rng.randrange(len(chunks))
        chunks[i] = (chunks[i][0], chunks[i][1][:rng.randrange(len(chunks[i][1]) + 1)])
    try:
        return kind, container.build(header, chunks)
    except (ValueError, KeyError, InrzipError):       # a mutation the writer itself refuses
        return kind, flip_bits(rng, data, 1)


def run(cases: int, seed: int, time_limit: int, pattern: str = "*") -> dict:
    signal.signal(signal.SIGALRM, _alarm)
    summary: dict = {"cases_per_vector": cases, "seed": seed, "time_limit_s": time_limit, "vectors": {}}
    CRASHERS.mkdir(exist_ok=True)
    paths = sorted({p for pat in pattern.split(",") for p in VECTORS.glob(pat if pat.endswith(".inrz") else pat + ".inrz")})
    for path in paths:
        data = path.read_bytes()
        rng = random.Random(f"{seed}:{path.name}")
        stats = {"decoded": 0, "rejected": 0, "crashes": 0, "max_decode_s": 0.0, "kinds": {}, "messages": {}}
        for case in range(cases):
            kind, blob = mutate(rng, data)
            stats["kinds"][kind] = stats["kinds"].get(kind, 0) + 1
            t0 = time.perf_counter()
            signal.alarm(time_limit)
            plan = plan_more(rng, blob)
            try:
                try:
                    decode(blob)
                    stats["decoded"] += 1
                finally:
                    decode_more(blob, plan)
            except InrzipError as e:
                stats["rejected"] += 1
                msg = str(e).split(":")[-1].strip()[:60]
                stats["messages"][msg] = stats["messages"].get(msg, 0) + 1
            except (Timeout, Exception) as e:   # noqa: BLE001 - classifying is the point
                stats["crashes"] += 1
                name = f"{path.stem}-{case}-{type(e).__name__}.inrz"
                (CRASHERS / name).write_bytes(blob)
                if plan:
                    (CRASHERS / name).with_suffix(".json").write_text(json.dumps(plan) + "\n")
                where = traceback.extract_tb(e.__traceback__)[-1]
                stats.setdefault("crashers", []).append(
                    {"file": name, "kind": kind, "error": f"{type(e).__name__}: {str(e)[:200]}",
                     "at": f"{Path(where.filename).name}:{where.lineno}"})
                print(f"CRASH {name}: {type(e).__name__}: {e} at {where.filename}:{where.lineno}", flush=True)
            finally:
                signal.alarm(0)
            stats["max_decode_s"] = max(stats["max_decode_s"], round(time.perf_counter() - t0, 3))
        stats["messages"] = dict(sorted(stats["messages"].items(), key=lambda kv: -kv[1])[:12])
        summary["vectors"][path.name] = stats
        print(f"{path.name}: {stats['decoded']} decoded, {stats['rejected']} rejected, "
              f"{stats['crashes']} crashes, max {stats['max_decode_s']} s", flush=True)
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=2000, help="mutations per golden vector")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--vectors", default="*", help="comma-separated globs of golden vectors (default: all)")
    ap.add_argument("--time-limit", type=int, default=20, help="seconds per case before it counts as a hang")
    ap.add_argument("--memory-gb", type=float, default=4.0, help="address-space cap for this process")
    ap.add_argument("--out", default=None, help="write the JSON summary here")
    args = ap.parse_args()
    cap = int(args.memory_gb * (1 << 30))
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    summary = run(args.cases, args.seed, args.time_limit, args.vectors)
    summary["command"] = "python " + " ".join(sys.argv)
    if args.out:
        common.write_doc(summary, args.out)
    print(json.dumps({k: {kk: v[kk] for kk in ("decoded", "rejected", "crashes", "max_decode_s")}
                      for k, v in summary["vectors"].items()}, indent=1))


if __name__ == "__main__":
    main()
