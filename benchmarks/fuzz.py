"""Fuzz every backend's decoder with damaged and hostile versions of the golden vectors.

Each case mutates a golden `.inrz` file and decodes it in this process with a memory cap and a
per-case time limit. The only acceptable outcomes are a decode or one of the project's own
errors (inrzip.errors.InrzipError). Anything else (another exception, MemoryError, a case over
the time limit) is a crasher: it is saved to tests/fuzz_crashers/ so a test replays it.

Mutations (half of them behind recomputed CRCs, so they reach the backend, not just the
container's checksums): random bit flips, truncation, chunk reordering and duplication,
lying header geometry (dimensions, channels, bit depth, sample rate), garbage params, huge
varints, payload bit flips and truncation.

    python benchmarks/fuzz.py --cases 2000            # per vector; prints a JSON summary
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from inrzip import api, container  # noqa: E402
from inrzip.errors import InrzipError  # noqa: E402
from inrzip.runtime.coords import Region  # noqa: E402

VECTORS = REPO / "formats" / "vectors"
CRASHERS = REPO / "tests" / "fuzz_crashers"


class Timeout(Exception):
    pass


def _alarm(*_: object) -> None:
    raise Timeout


def decode(data: bytes) -> None:
    reader = container.Reader.from_bytes(data)
    api._decode_reader(reader, Region.full(reader.header.shape))


def parts(data: bytes) -> tuple[container.Header, list[tuple[int, bytes]]]:
    reader = container.Reader.from_bytes(data)
    return reader.header, [(e.tag, reader.read_chunk(i)) for i, e in enumerate(reader.chunks)]


def flip_bits(rng: random.Random, data: bytes, n: int) -> bytes:
    out = bytearray(data)
    for _ in range(n):
        i = rng.randrange(len(out))
        out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


def mutate(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    header, chunks = parts(data)
    kind = rng.choice(["flip", "truncate", "reorder", "duplicate", "geometry", "params", "huge",
                       "payload_flip", "payload_cut", "drop_chunk", "retag"])
    if kind == "flip":
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


def run(cases: int, seed: int, time_limit: int) -> dict:
    signal.signal(signal.SIGALRM, _alarm)
    summary: dict = {"cases_per_vector": cases, "seed": seed, "vectors": {}}
    CRASHERS.mkdir(exist_ok=True)
    for path in sorted(VECTORS.glob("*.inrz")):
        data = path.read_bytes()
        rng = random.Random(f"{seed}:{path.name}")
        stats = {"decoded": 0, "rejected": 0, "crashes": 0, "max_decode_s": 0.0, "kinds": {}, "messages": {}}
        for case in range(cases):
            kind, blob = mutate(rng, data)
            stats["kinds"][kind] = stats["kinds"].get(kind, 0) + 1
            t0 = time.perf_counter()
            signal.alarm(time_limit)
            try:
                decode(blob)
                stats["decoded"] += 1
            except InrzipError as e:
                stats["rejected"] += 1
                msg = str(e).split(":")[-1].strip()[:60]
                stats["messages"][msg] = stats["messages"].get(msg, 0) + 1
            except (Timeout, Exception) as e:   # noqa: BLE001 - classifying is the point
                stats["crashes"] += 1
                name = f"{path.stem}-{case}-{type(e).__name__}.inrz"
                (CRASHERS / name).write_bytes(blob)
                print(f"CRASH {name}: {type(e).__name__}: {e}", flush=True)
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
    ap.add_argument("--time-limit", type=int, default=20, help="seconds per case before it counts as a hang")
    ap.add_argument("--memory-gb", type=float, default=4.0, help="address-space cap for this process")
    ap.add_argument("--out", default=None, help="write the JSON summary here")
    args = ap.parse_args()
    cap = int(args.memory_gb * (1 << 30))
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    summary = run(args.cases, args.seed, args.time_limit)
    summary["command"] = "python " + " ".join(sys.argv)
    text = json.dumps(summary, indent=1)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(json.dumps({k: {kk: v[kk] for kk in ("decoded", "rejected", "crashes", "max_decode_s")}
                      for k, v in summary["vectors"].items()}, indent=1))


if __name__ == "__main__":
    main()
