"""SINR decoder: Brotli -> integer codes -> regenerate only the used atoms -> numpy SIREN."""
from __future__ import annotations

import math

import numpy as np

from ...container import ByteReader, Header, Reader
from ...errors import FormatError
from ...runtime import dictionary
from ...runtime.compress import brotli_exact
from ...runtime.coords import Region
from ...runtime.render import render
from ...runtime.siren import SirenWeights, forward
from . import format as fmt

CHUNK_NAMES = {fmt.NET_CHUNK: "net"}
IN_DIMS = {"image": 2, "audio": 1}
MAX_PAYLOAD = 1 << 28    # decompressed bytes; a net this large is not a plausible file
MAX_WEIGHTS = 1 << 24    # rebuilt weights (64 MB of float32)
MAX_WORK = 1 << 42       # decoded points x weights: bounds decode time on a hostile header


def _params_and_shapes(header: Header) -> tuple[fmt.SinrParams, list[tuple[int, int]]]:
    if header.modality not in IN_DIMS:
        raise FormatError(f"sinr: unsupported modality {header.modality}")
    p = fmt.SinrParams.from_bytes(header.params)
    return p, p.layer_shapes(IN_DIMS[header.modality], header.channels)


def describe(header: Header) -> dict:
    p = fmt.SinrParams.from_bytes(header.params)
    info = {"mode": "sparse" if p.mode == fmt.MODE_SPARSE else "plain",
            "hidden_layers": p.hidden_layers, "width": p.width, "w0": p.w0, "w0_first": p.w0_first,
            "value_bits": p.value_bits, "bias_bits": p.bias_bits}
    if p.mode == fmt.MODE_SPARSE:
        info.update(dict_size=1 << p.log2_dict, seed=p.seed, sparsity=list(p.sparsity))
    return info


def load_net(header: Header, payload: bytes) -> SirenWeights:
    """Rebuild the SIREN weights from the header parameters and the decompressed payload."""
    p, shapes = _params_and_shapes(header)
    n = len(shapes)
    r = ByteReader(payload, "sinr net chunk")
    value_steps = np.frombuffer(r.take(4 * n), dtype="<f4").astype(np.float32)
    bias_steps = np.frombuffer(r.take(4 * n), dtype="<f4").astype(np.float32)
    steps = np.concatenate([value_steps, bias_steps])
    if not np.all(np.isfinite(steps)) or np.any(steps <= 0) or np.any(steps > 1e6):
        raise FormatError("sinr net chunk: invalid quantiser step")
    weights: list[np.ndarray] = []
    if p.mode == fmt.MODE_SPARSE:
        counts = [fmt.vectors_of(i, n, s) * p.sparsity[i] for i, s in enumerate(shapes)]
        deltas = fmt.unplanes(r, sum(counts)).astype(np.int64)
        values = fmt.unzigzag(fmt.unplanes(r, sum(counts)))
        dict_size = 1 << p.log2_dict
        layer_idx, offset = [], 0
        for i, shape in enumerate(shapes):
            v, s = fmt.vectors_of(i, n, shape), p.sparsity[i]
            idx = np.cumsum(deltas[offset:offset + v * s].reshape(v, s), axis=1)
            if idx.size and idx.max() >= dict_size:
                raise FormatError("sinr net chunk: atom index outside the dictionary")
            layer_idx.append(idx)
            offset += v * s
        # Generate each distinct atom once: memory is bounded by the dictionary, not by uses.
        used, inverse = np.unique(np.concatenate([i.reshape(-1) for i in layer_idx]), return_inverse=True)
        atoms = np.concatenate([dictionary.atoms(p.seed, fmt.DICT_STREAM, p.width, used[b:b + 4096])
                                for b in range(0, len(used), 4096)])
        offset = 0
        for i, idx in enumerate(layer_idx):
            v, s = idx.shape
            coef = values[offset:offset + v * s].reshape(v, s).astype(np.float32) * value_steps[i]
            rows = inverse[offset:offset + v * s].reshape(v, s)
            offset += v * s
            vecs = np.zeros((v, p.width), dtype=np.float32)
            for j in range(s):
                vecs += coef[:, j, None] * atoms[rows[:, j]]
            weights.append(fmt.from_vectors(vecs, i == n - 1))
    else:
        total = sum(o * i for o, i in shapes)
        codes = fmt.unzigzag(fmt.unplanes(r, total))
        offset = 0
        for i, (o, inn) in enumerate(shapes):
            weights.append(codes[offset:offset + o * inn].reshape(o, inn).astype(np.float32)
                           * value_steps[i])
            offset += o * inn
    bias_codes = fmt.unzigzag(fmt.unplanes(r, sum(o for o, _ in shapes)))
    biases, offset = [], 0
    for i, (o, _) in enumerate(shapes):
        biases.append(bias_codes[offset:offset + o].astype(np.float32) * bias_steps[i])
        offset += o
    if r.remaining:
        raise FormatError("sinr net chunk: trailing bytes")
    return SirenWeights(weights, biases, float(p.w0), float(p.w0_first))


def check_work(header: Header, points: int) -> None:
    """Refuse decodes whose compute (points x weights) no real file needs."""
    _, shapes = _params_and_shapes(header)
    weights = sum(o * i for o, i in shapes)
    if weights * points > MAX_WORK:
        raise FormatError(f"sinr: decoding {points} points with {weights} weights exceeds the decoder's limits")


def expected_payload_size(header: Header) -> int:
    """Exact decompressed size implied by the header, so a Brotli bomb is cut off early.

    Also refuses networks too large to rebuild or evaluate, before anything is allocated."""
    p, shapes = _params_and_shapes(header)
    n = len(shapes)
    weights = sum(o * i for o, i in shapes)
    if weights > MAX_WEIGHTS:
        raise FormatError(f"sinr: a network of {weights} weights exceeds the decoder's limits")
    if p.mode == fmt.MODE_SPARSE:
        coded = 4 * sum(fmt.vectors_of(i, n, s) * p.sparsity[i] for i, s in enumerate(shapes))
    else:
        coded = 2 * sum(o * i for o, i in shapes)
    return 8 * n + coded + 2 * sum(o for o, _ in shapes)


def decompress(data: bytes, expected: int) -> bytes:
    if expected > MAX_PAYLOAD:
        raise FormatError(f"sinr net chunk: {expected} bytes of weights exceeds the limit")
    return brotli_exact(data, expected, "sinr net chunk")


def decode(reader: Reader, region: Region) -> np.ndarray:
    reader.check_required_tags(set(CHUNK_NAMES))
    index = next((i for i, c in enumerate(reader.chunks) if c.tag == fmt.NET_CHUNK), None)
    if index is None:
        raise FormatError(f"{reader.name}: sinr file has no net chunk")
    check_work(reader.header, math.prod(region.output_shape(reader.header.shape)))
    payload = decompress(reader.read_chunk(index, "net chunk"), expected_payload_size(reader.header))
    net = load_net(reader.header, payload)
    return render(lambda pts: forward(net, pts), reader.header, region)
