"""RECOMBINER architecture: the numbers a model pack fixes, shared by trainer, encoder, decoder.

`dims` = 2 (images: P x P pixel patches), 1 (audio: P-sample patches) or 3 (video: F x P x P
patches of F frames). Every signal is laid out as a grid of patches: an image's (rows, cols)
grid; for audio (channels, patches in time), one row of consecutive patches per channel (so a
level-2 group of G x G patches spans G patches of time in up to G channels, and the 1-D
upsampler runs along time only, never across channels); for video (slabs of F frames, rows,
cols), with level-2 groups of 1 x G x G patches (the paper's 4 x 4 patches of one 24-frame clip).

Per patch a SIREN (in -> hidden x 3 -> channels, w0 30, last layer linear) whose input is
F Fourier features of the patch-local coordinate plus `lpe_out` channels upsampled from a
learned positional-encoding grid (one latent cell per 16 samples along each axis, per F frames
in time for video) of `lpe_channels` latents per cell. The latent
vector h of each layer ([bias; W row-major (in x out)], as in the reference code) maps to the
layer's weights through a square matrix A: w = h . A. Three additive levels model h:
h(patch) = z1(patch) + z2(group of G x G patches) + z3(image).
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass

import numpy as np

LEVEL_PATCH, LEVEL_GROUP, LEVEL_IMAGE = 1, 2, 3
CODING_ORDER = (LEVEL_IMAGE, LEVEL_GROUP, LEVEL_PATCH)   # the order the encoder codes the levels and lists their indices


@dataclass(frozen=True)
class RecArch:
    """Everything about the network a pack fixes; stored as JSON in the pack's metadata."""

    patch: int = 64               # patch side in pixels (images) or samples (audio; paper: 800)
    hidden: int = 32              # SIREN width
    layers: int = 4               # linear layers (3 hidden sine layers + linear output)
    channels: int = 3             # output channels (RGB)
    fourier: int = 16             # Fourier feature count (freqs = fourier / (2 * 2))
    max_freq: float = 1024.0      # highest Fourier frequency (reference: 1024)
    lpe_channels: int = 16        # latent channels per positional-encoding cell (paper: 128)
    lpe_mid: int = 16             # upsampler hidden channels (paper: 64)
    lpe_out: int = 16             # upsampled channels fed to the SIREN (paper: 16)
    lpe_stride: int = 16          # pixels per positional-encoding cell (paper: 16)
    group: int = 4                # level-2 group side in patches (paper: 4 x 4)
    w0: float = 30.0
    dims: int = 2                 # 2: images, 1: audio, 3: video
    frames: int = 24              # video only: frames per patch (paper: 24, one latent cell in time)

    def __post_init__(self) -> None:
        if self.dims not in (1, 2, 3):
            raise ValueError("rec: dims must be 1 (audio), 2 (images) or 3 (video)")
        if self.patch % self.lpe_stride or self.lpe_stride != 16:
            raise ValueError("rec: the upsampler is x4, x2, x2, so lpe_stride must be 16 and divide the patch")
        if self.dims == 3 and (self.frames % 4 or self.frames < 12):
            # the first upsampling is x frames/4 in time; below x3 its 5-tap conv reaches past the
            # neighbouring slab, and a decoder working slab by slab with a one-slab margin would differ
            raise ValueError("rec: video patches need a multiple of 4 frames, at least 12")
        if self.fourier % (2 * self.dims) or self.fourier <= 0:
            raise ValueError(f"rec: fourier must be a positive multiple of {2 * self.dims}")

    @property
    def modality(self) -> str:
        return {1: "audio", 2: "image", 3: "video"}[self.dims]

    @property
    def patch_shape(self) -> tuple[int, ...]:
        """Samples per patch along each axis: (P,), (P, P) or (frames, P, P)."""
        return (self.frames, self.patch, self.patch) if self.dims == 3 else (self.patch,) * self.dims

    @property
    def patch_points(self) -> int:
        """Pixels, samples or voxels per patch."""
        return math.prod(self.patch_shape)

    @property
    def lpe_strides(self) -> tuple[int, ...]:
        """Samples per positional-encoding cell along each axis (video: one cell spans the patch's frames)."""
        return (self.frames, self.lpe_stride, self.lpe_stride) if self.dims == 3 else (self.lpe_stride,) * self.dims

    @property
    def cell_shape(self) -> tuple[int, ...]:
        """Positional-encoding cells per patch along each axis."""
        return tuple(p // s for p, s in zip(self.patch_shape, self.lpe_strides))

    @property
    def upsample_factors(self) -> list[tuple[int, ...]]:
        """Nearest-upsampling factor per axis before each conv: (4, 2, 2) per axis, and for
        video's time axis (frames / 4, 2, 2): the paper's (6, 4, 4), 2, 2 for 24-frame patches."""
        return [tuple(s // 4 for s in self.lpe_strides), (2,) * self.dims, (2,) * self.dims]

    @property
    def group_shape(self) -> tuple[int, ...]:
        """Level-2 group extent in patches along each grid axis."""
        return (1, self.group, self.group) if self.dims == 3 else (self.group, self.group)

    # ---- sizes
    @property
    def in_dim(self) -> int:
        return self.fourier + self.lpe_out

    @property
    def layer_shapes(self) -> list[tuple[int, int]]:
        dims = [self.in_dim] + [self.hidden] * (self.layers - 1) + [self.channels]
        return [(dims[i], dims[i + 1]) for i in range(self.layers)]

    @property
    def layer_sizes(self) -> list[int]:
        """Latent (and weight) count of each layer: (in + 1) * out (bias included)."""
        return [(i + 1) * o for i, o in self.layer_shapes]

    @property
    def inr_size(self) -> int:
        return sum(self.layer_sizes)

    @property
    def lpe_cells(self) -> int:
        return math.prod(self.cell_shape)

    @property
    def lpe_size(self) -> int:
        return self.lpe_cells * self.lpe_channels

    def level_size(self, level: int) -> int:
        """Variables per instance of a level: patches carry the INR latents and the LPE latents."""
        return self.inr_size + (self.lpe_size if level == LEVEL_PATCH else 0)

    @property
    def upsampler_shapes(self) -> list[tuple[int, int, int]]:
        """(out, in, kernel) of the three convolutions (after x4, x2, x2 nearest upsampling)."""
        return [(self.lpe_mid, self.lpe_channels, 5), (self.lpe_mid, self.lpe_mid, 3), (self.lpe_out, self.lpe_mid, 3)]

    def to_json(self) -> str:
        d = asdict(self)
        if self.dims == 2:
            del d["dims"]          # image packs made before audio existed keep their exact metadata
        if self.dims != 3:
            del d["frames"]
        return json.dumps(d, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RecArch:
        return cls(**json.loads(text))


def fourier_features(arch: RecArch) -> np.ndarray:
    """(points, F) float32 features of the patch-local sample centres in [-1, 1], row-major.

    Frequencies exp(linspace(0, ln max_freq, F/(2 dims))); per axis (t, y, x) cos block then sin.
    """
    pos = [((np.arange(p, dtype=np.float64) + 0.5) / p) * 2.0 - 1.0 for p in arch.patch_shape]
    axes = np.meshgrid(*pos, indexing="ij")
    freqs = np.exp(np.linspace(0.0, np.log(arch.max_freq), arch.fourier // (2 * arch.dims)))
    feats = []
    for axis in (a.reshape(-1) for a in axes):
        ang = np.pi * axis[:, None] * freqs[None, :]
        feats += [np.cos(ang), np.sin(ang)]
    return np.concatenate(feats, axis=1).astype(np.float32)


def signal_grid(shape: tuple[int, ...], channels: int, arch: RecArch) -> tuple[int, ...]:
    """Patches per grid axis after padding to whole patches: an image's (rows, cols), audio's
    (channels, patches in time), video's (frame slabs, rows, cols)."""
    if arch.dims == 1:
        return channels, -(-shape[0] // arch.patch)
    return tuple(-(-s // p) for s, p in zip(shape, arch.patch_shape))


def patch_groups(grid: tuple[int, ...], arch: RecArch) -> np.ndarray:
    """Level-2 group id of every patch (row-major over the grid); groups row-major too."""
    counts = [-(-n // g) for n, g in zip(grid, arch.group_shape)]
    idx = np.meshgrid(*(np.arange(n) // g for n, g in zip(grid, arch.group_shape)), indexing="ij")
    return np.ravel_multi_index(tuple(idx), counts).reshape(-1).astype(np.int64)


def group_count(grid: tuple[int, ...], arch: RecArch) -> int:
    return math.prod(-(-n // g) for n, g in zip(grid, arch.group_shape))
