"""rec backend: a tiny pack trained here (no GPU, no shipped pack), round trips, rate, crops, errors."""
import math
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import replace

import numpy as np
import pytest
from conftest import EXAMPLE_IMAGE
from helpers import small_image

from inrzip import api, container
from inrzip.backends.rec import blocks
from inrzip.backends.rec import format as fmt
from inrzip.backends.rec import pack as packs
from inrzip.backends.rec.arch import CODING_ORDER, RecArch
from inrzip.backends.rec.encoder import EFFORT, RecOptions, choose_pack, finetune_lr, finetune_schedule, parse_options, prepare
from inrzip.backends.rec.train import TrainOptions, parse_train_options, train
from inrzip.cli import main
from inrzip.errors import FormatError, UsageError

TINY = RecArch(patch=32, hidden=16, fourier=8, lpe_channels=4, lpe_mid=8, lpe_out=8, group=2)
FAST = {"effort": "fast", "steps": 120, "finetune": 10, "min_finetune_rounds": 0, "index_bits": 10, "device": "cpu"}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def pack_dir(tmp_path_factory):
    """Train a tiny pack on the example photo (the paper's Algorithm 1, a few EM iterations)."""
    root = tmp_path_factory.mktemp("rec")
    data = root / "train"
    data.mkdir()
    shutil.copy(EXAMPLE_IMAGE, data / "photo.png")
    packs_dir = root / "packs"
    packs_dir.mkdir()
    opts = TrainOptions(rate_bpp=1.0, crops=4, crop_rows=2, crop_cols=4, em_iterations=5, e_steps=15, warmup=30,
                        arch=TINY, device="cpu", beta0=3e-5)
    train(data, packs_dir / "tiny.safetensors", opts)
    return packs_dir


@pytest.fixture(scope="module")
def coded(pack_dir):
    mp = pytest.MonkeyPatch()
    mp.setenv("INRZIP_PACK_PATH", str(pack_dir))
    sig = small_image(40, 72)            # not a multiple of the 32-px patch: padded, cropped back
    rep = api.encode(sig, None, rate="1.5bpp", backend="rec", options=FAST)
    yield sig, rep
    mp.undo()


@pytest.fixture
def packs_on_path(pack_dir, monkeypatch):
    monkeypatch.setenv("INRZIP_PACK_PATH", str(pack_dir))
    return pack_dir


def test_pack_round_trips_and_is_named_by_hash(pack_dir):
    path = pack_dir / "tiny.safetensors"
    pack = packs.load(path)
    assert pack.arch == TINY
    assert pack.pack_id == packs.pack_id_of(path.read_bytes())
    assert pack.info["options"]["em_iterations"] == 5     # a pack records how it was made
    assert all(np.all(pack.prior_std[lv] > 0) for lv in packs.LEVELS)


def test_round_trip_meets_rate_and_matches_the_encoder(coded, packs_on_path):
    sig, rep = coded
    target = 1.5 * 40 * 72 / 8
    assert abs(len(rep.data) / target - 1) <= 0.05, (len(rep.data), target)
    out = api.decode(rep.data).signal
    assert out.data.shape == sig.data.shape and out.data.dtype == np.uint8
    err = out.data.astype(float) - sig.data.astype(float)
    psnr = 10 * np.log10(255.0 ** 2 / np.mean(err ** 2))
    # the numpy decoder rebuilds what the torch encoder coded
    assert abs(psnr - rep.stats["psnr_estimate"]) < 0.05
    assert psnr > 18.0


def test_crop_decode_equals_region(coded, packs_on_path):
    _, rep = coded
    full = api.decode(rep.data).signal.data
    for crop, (a, b, c, d) in [("0:32,0:32", (0, 32, 0, 32)), ("5:37,40:72", (5, 37, 40, 72))]:
        part = api.decode(rep.data, crop=crop).signal.data
        assert np.array_equal(part, full[a:b, c:d])


def test_encode_is_deterministic_on_cpu(coded, packs_on_path):
    sig, rep = coded
    again = api.encode(sig, None, rate="1.5bpp", backend="rec", options=FAST)
    assert again.data == rep.data


def test_the_fine_tune_step_falls_geometrically_to_lr_end():
    assert finetune_lr(1e-3, 1e-4, 0.0) == pytest.approx(1e-3)
    assert finetune_lr(1e-3, 1e-4, 0.5) == pytest.approx(1e-3 * 0.1 ** 0.5)
    assert finetune_lr(1e-3, 1e-4, 1.0) == pytest.approx(1e-4)
    assert finetune_lr(1e-3, 0.0, 0.7) == 1e-3          # 0: no decay
    assert EFFORT["fast"].lr_end == EFFORT["normal"].lr_end == EFFORT["max"].lr_end == 1e-4
    assert parse_options({"lr_end": "0"}).lr_end == 0 and parse_options({}).lr_end == -1
    with pytest.raises(UsageError, match="lr_end"):
        parse_options({"lr_end": "-0.5"})


def test_lr_end_reaches_the_fine_tuning(packs_on_path):
    sig = small_image(32, 64)
    coded = {end: api.encode(sig, None, rate="1bpp", backend="rec", options={**FAST, "steps": 5, "lr_end": end}).data
             for end in ("0", "1e-9")}
    assert coded["0"] != coded["1e-9"]


def test_phase_share_reaches_every_step_and_rejects_shares_outside_0_1(packs_on_path):
    sig = small_image(32, 64)
    coded = {share: api.encode(sig, None, rate="1bpp", backend="rec", options={**FAST, "steps": 5, "phase_share": share})
             for share in ("1", "0.5")}
    assert coded["1"].data != coded["0.5"].data
    assert coded["0.5"].stats["phase_share"] == 0.5 and coded["1"].stats["phase_share"] == 1.0
    assert all(p.phase_share == 1.0 for p in EFFORT.values()) and parse_options({}).phase_share == -1
    for bad in ("0", "1.5", "-0.5"):
        with pytest.raises(UsageError, match="phase_share"):
            parse_options({"phase_share": bad})


def test_options_left_unset_take_the_effort_preset_and_set_ones_override_it():
    assert parse_options({"effort": "fast"}).schedule() == EFFORT["fast"]
    assert parse_options({"effort": "max"}).schedule() == EFFORT["max"]
    plan = parse_options({"effort": "fast", "steps": "7", "finetune": "0", "rounds": "0", "finetune_tilt": "0.5",
                          "min_finetune_rounds": "0", "phase_share": "0.5", "lr_end": "0"}).schedule()
    assert (plan.fit_steps, plan.finetune_steps, plan.max_rounds, plan.finetune_tilt) == (7, 0, 0, 0.5)
    assert (plan.min_finetune_rounds, plan.phase_share, plan.lr_end) == (0, 0.5, 0)
    assert plan.beta_factor == EFFORT["fast"].beta_factor            # not an option: always the preset's
    assert parse_options({"effort": "fast", "lr": "5e-5"}).schedule().lr_end == 5e-5   # never above lr


def test_the_effort_presets_are_the_fast_schedule_with_more_steps():
    fast, normal, top = EFFORT["fast"], EFFORT["normal"], EFFORT["max"]
    assert (top.fit_steps, top.finetune_steps) == (4 * fast.fit_steps, 4 * fast.finetune_steps)
    assert replace(top, fit_steps=fast.fit_steps, finetune_steps=fast.finetune_steps) == fast
    # normal: max's fitting, ten fine-tune steps per round more than fast
    assert (normal.fit_steps, normal.finetune_steps) == (top.fit_steps, fast.finetune_steps + 10)
    assert replace(normal, fit_steps=fast.fit_steps, finetune_steps=fast.finetune_steps) == fast


def test_the_fine_tune_schedule_keeps_its_budget_and_tilts_towards_big_or_small_rounds():
    blocks_per_round = [1, 1, 2, 4, 12, 12, 12, 4]   # 8 rounds, 48 blocks
    even, by_blocks, towards_small = (finetune_schedule(30, t, blocks_per_round) for t in (0.0, 1.0, -0.5))
    assert even == [30] * 8
    assert sum(by_blocks) == sum(towards_small) == 240
    assert by_blocks[0] == 5 and by_blocks[4] == 60
    assert towards_small[0] > 30 > towards_small[4] and abs(towards_small[0] - towards_small[1]) <= 1   # rounding carries
    assert parse_options({"finetune_tilt": "-0.5"}).finetune_tilt == -0.5 and math.isnan(parse_options({}).finetune_tilt)
    with pytest.raises(UsageError, match="finetune_tilt"):
        parse_options({"finetune_tilt": "3"})
    floored = finetune_schedule(30, 0.0, blocks_per_round, floor=400)
    assert sum(floored) == 400 and max(floored) - min(floored) <= 1     # the floor, spread evenly
    assert finetune_schedule(30, 0.0, blocks_per_round, floor=100) == even   # below the per-round total: no effect
    assert EFFORT["fast"].min_finetune_rounds == EFFORT["normal"].min_finetune_rounds == 120
    assert EFFORT["max"].min_finetune_rounds == 120 and parse_options({}).min_finetune_rounds == -1
    with pytest.raises(UsageError, match="min_finetune_rounds"):
        parse_options({"min_finetune_rounds": "-2"})


def test_the_coding_rounds_cover_every_block_once(packs_on_path):
    """round_blocks plans what code_round does: at most `rounds` per level, a partial last one."""
    sig = small_image(64, 96)
    enc = prepare(sig, sig.num_points * 1.0, parse_options(FAST)).enc
    assert min(enc.layout[lv].n_groups for lv in CODING_ORDER) > 3      # rounds of several blocks, a partial last one
    for max_rounds in (0, 1, 2, 3):
        enc.max_rounds = max_rounds
        for lv in CODING_ORDER:
            n, rows, planned = enc.layout[lv].n_groups, enc.level_rows[lv], enc.round_blocks(lv)
            assert sum(planned) == n * rows and (len(planned) == n if max_rounds == 0 else len(planned) <= max_rounds)
            assert all(b % rows == 0 for b in planned) and planned[-1] <= planned[0]


def test_min_finetune_rounds_sets_the_fine_tune_steps_in_all(packs_on_path):
    """The steps in all are `finetune` per coding round, or `finetune` x min_finetune_rounds if more."""
    sig = small_image(32, 64)
    enc = prepare(sig, sig.num_points * 1.0, parse_options(FAST)).enc
    enc.max_rounds = EFFORT["fast"].max_rounds
    rounds = sum(len(enc.round_blocks(lv)) for lv in CODING_ORDER)
    plain = api.encode(sig, None, rate="1bpp", backend="rec", options={**FAST, "steps": 5})
    assert plain.stats["finetune_floor"] == 0 and plain.stats["finetune_steps"] == FAST["finetune"] * rounds
    floored = api.encode(sig, None, rate="1bpp", backend="rec",
                         options={**FAST, "steps": 5, "min_finetune_rounds": rounds + 4})
    assert floored.stats["finetune_steps"] == FAST["finetune"] * (rounds + 4) and floored.data != plain.data


def test_range_coded_16_bit_indices_round_trip_and_meet_the_rate(packs_on_path):
    """The default index width: indices range-coded (index_code.py), so a block costs ~15.3
    bits and the budget buys more blocks than 16-bit fixed-width indices would."""
    sig = small_image(40, 72)
    opts = {**FAST, "index_bits": 16, "steps": 60}
    ranged = api.encode(sig, None, rate="1.5bpp", backend="rec", options=opts)
    fixed = api.encode(sig, None, rate="1.5bpp", backend="rec", options={**opts, "index_coding": "fixed"})
    target = 1.5 * 40 * 72 / 8
    for rep in (ranged, fixed):
        assert abs(len(rep.data) / target - 1) <= 0.05, (len(rep.data), target)
        out = api.decode(rep.data).signal.data
        err = out.astype(float) - sig.data.astype(float)
        assert abs(10 * np.log10(255.0 ** 2 / np.mean(err ** 2)) - rep.stats["psnr_estimate"]) < 0.05
    assert ranged.stats["index_coding"] == "range" and fixed.stats["index_coding"] == "fixed"
    assert ranged.stats["blocks"] > fixed.stats["blocks"]
    assert ranged.stats["index_bits_mean"] < 16 == fixed.stats["index_bits_mean"]
    assert api.info(ranged.data)["params"]["index_coding"] == "range"


def test_portrait_and_lower_rate(packs_on_path):
    sig = small_image(70, 33)
    rep = api.encode(sig, None, rate="0.8bpp", backend="rec", options=FAST)
    assert abs(len(rep.data) / (0.8 * 70 * 33 / 8) - 1) <= 0.05
    assert api.decode(rep.data).signal.data.shape == (70, 33, 3)


def test_missing_pack_is_a_clear_error(coded, tmp_path, monkeypatch):
    _, rep = coded
    monkeypatch.setenv("INRZIP_PACK_PATH", str(tmp_path))
    monkeypatch.setattr(packs, "_NAMED", {})          # no pack named by path earlier in this process
    with pytest.raises(FormatError, match="model pack [0-9a-f]{16}.*not installed"):
        api.decode(rep.data)


def test_changed_pack_is_not_used(coded, pack_dir, tmp_path, monkeypatch):
    _, rep = coded
    data = bytearray((pack_dir / "tiny.safetensors").read_bytes())
    data[-1] ^= 1
    (tmp_path / "tiny.safetensors").write_bytes(bytes(data))
    monkeypatch.setenv("INRZIP_PACK_PATH", str(tmp_path))
    monkeypatch.setattr(packs, "_NAMED", {})
    with pytest.raises(FormatError, match="not installed"):
        api.decode(rep.data)


def test_damaged_params_and_index_chunk(coded, packs_on_path):
    _, rep = coded
    r = container.Reader.from_bytes(rep.data)
    header, payload = r.header, r.read_chunk(0)
    p = fmt.RecParams.from_bytes(header.params)
    bad = [
        container.build(container.Header(**{**header.__dict__, "params": b"\x03" + header.params[1:]}), [(fmt.INDEX_CHUNK, payload)]),
        container.build(header, [(fmt.INDEX_CHUNK, payload[:-1])]),
        container.build(container.Header(**{**header.__dict__, "params": fmt.RecParams(
            p.pack_id, p.index_bits, p.seed, (10 ** 6, 1, 1)).to_bytes()}), [(fmt.INDEX_CHUNK, payload)]),
        container.build(header, []),
    ]
    for data in bad:
        with pytest.raises(FormatError):
            api.decode(data)


def test_params_reject_garbage():
    for raw in [b"", b"\x01", b"\x01\x08" + b"x" * 8 + b"\x00", b"\x01\x08" + b"x" * 8 + b"\x10\x00\x01\x01\x01\xff"]:
        with pytest.raises(FormatError):
            fmt.RecParams.from_bytes(raw)


def test_block_layout_is_deterministic_and_covers_every_variable():
    kl = np.abs(np.sin(np.arange(500))) * 3 + 0.01
    gid = blocks.group_of_variables(kl.astype(np.float32), 1, 37)
    assert np.array_equal(gid, blocks.group_of_variables(kl.astype(np.float32), 1, 37))
    counts = np.bincount(gid, minlength=37)
    assert counts.min() >= 1 and counts.sum() == 500
    mass = np.bincount(gid, weights=kl, minlength=37)
    assert mass.max() < 2.5 * mass.mean()            # roughly equal KL per block
    perm = blocks.row_permutation(1, 6, 500)
    assert all(sorted(perm[:, j]) == list(range(6)) for j in range(500))


def test_index_packing_round_trips():
    rng = np.random.default_rng(1)
    for bits in (1, 10, 16, 20):
        idx = rng.integers(0, 1 << bits, size=77)
        data = blocks.pack_indices(idx, bits)
        assert len(data) == -(-77 * bits // 8)
        assert np.array_equal(blocks.unpack_indices(data, 77, bits), idx)


def test_candidate_noise_golden_values():
    """The candidate stream is part of the format (formats/rec.md): pin a few values."""
    eps = blocks.candidate_noise(0, 1, np.array([0, 65535]), 3)
    again = blocks.candidate_noise(0, 1, np.array([65535]), 2)
    assert np.array_equal(eps[1, :2], again[0])      # any prefix of a candidate is that candidate
    np.testing.assert_allclose(eps, GOLDEN_EPS, rtol=0, atol=1e-12)


GOLDEN_EPS = np.array([[-0.15825086583763728, 0.23170249222822578, -0.5912203862879444],
                       [1.8328994583924803, 0.5152551513655489, -0.7721488394847413]])


def test_decode_never_imports_torch(coded, packs_on_path, tmp_path):
    _, rep = coded
    path = tmp_path / "x.inrz"
    path.write_bytes(rep.data)
    code = textwrap.dedent(f"""
        import sys
        import inrzip.api as api
        api.decode({str(path)!r}, crop="0:16,0:16")
        assert "torch" not in sys.modules, "decode imported torch"
    """)
    subprocess.run([sys.executable, "-c", code], check=True)


def test_usage_errors(packs_on_path, tmp_path):
    sig = small_image(32, 32)
    with pytest.raises(UsageError, match="rate"):
        api.encode(sig, None, backend="rec", options=FAST)
    with pytest.raises(UsageError, match="channel"):
        gray = type(sig)(sig.data[:, :, :1].copy(), "image", 8)
        api.encode(gray, None, rate="1bpp", backend="rec", options=FAST)
    with pytest.raises(UsageError, match="effort"):
        api.encode(sig, None, rate="1bpp", backend="rec", options={**FAST, "effort": "huge"})
    with pytest.raises(UsageError, match="not found"):
        api.encode(sig, None, rate="1bpp", backend="rec", options={**FAST, "pack": str(tmp_path / "none.safetensors")})
    with pytest.raises(UsageError, match="scale"):
        api.decode(api.encode(sig, None, rate="1bpp", backend="rec", options={**FAST, "steps": 5}).data, scale=2.0)


def test_train_cli_writes_a_pack_and_resumes(tmp_path, capsys):
    data = tmp_path / "train"
    data.mkdir()
    shutil.copy(EXAMPLE_IMAGE, data / "photo.png")
    out, ck = tmp_path / "p.safetensors", tmp_path / "ck.safetensors"
    args = ["train", "--data", str(data), "-o", str(out), "-b", "0.5bpp", "--device", "cpu", "--checkpoint", str(ck),
            "-O", "crops=2", "-O", "crop_rows=2", "-O", "crop_cols=2", "-O", "em_iterations=2", "-O", "e_steps=3", "-O", "warmup=2",
            "-O", "arch.patch=32", "-O", "arch.hidden=8", "-O", "arch.lpe_channels=2", "-O", "arch.lpe_mid=4",
            "-O", "arch.lpe_out=4", "-O", "arch.fourier=4", "-q", "--json"]
    assert main(args) == 0
    assert packs.load(out).arch.hidden == 8 and ck.exists()
    assert main(args) == 1                                    # exists: needs --force
    assert main(args + ["--force"]) == 0                      # resumes from the finished checkpoint
    assert main(["train", "--data", str(data), "-o", str(tmp_path / "q.safetensors"), "-O", "bogus=1", "-q"]) == 1
    assert main(["train", "--data", str(tmp_path / "nope"), "-o", str(tmp_path / "q.safetensors"), "-q"]) == 1


def test_a_resumed_training_equals_an_uninterrupted_one(tmp_path):
    """The checkpoint carries Adam's moments and the RNG state: stopping after one EM iteration
    and resuming gives the very pack a two-iteration run gives."""
    data = tmp_path / "train"
    data.mkdir()
    shutil.copy(EXAMPLE_IMAGE, data / "photo.png")
    tiny = ["-O", "crops=2", "-O", "crop_rows=2", "-O", "crop_cols=2", "-O", "e_steps=3", "-O", "warmup=2",
            "-O", "arch.patch=32", "-O", "arch.hidden=8", "-O", "arch.lpe_channels=2", "-O", "arch.lpe_mid=4",
            "-O", "arch.lpe_out=4", "-O", "arch.fourier=4", "-b", "0.5bpp", "--device", "cpu", "-q", "--json"]
    whole, parts, ck = tmp_path / "whole.safetensors", tmp_path / "parts.safetensors", tmp_path / "ck.safetensors"
    assert main(["train", "--data", str(data), "-o", str(whole), "-O", "em_iterations=2"] + tiny) == 0
    assert main(["train", "--data", str(data), "-o", str(parts), "-O", "em_iterations=1", "--checkpoint", str(ck)] + tiny) == 0
    assert main(["train", "--data", str(data), "-o", str(parts), "-O", "em_iterations=2", "--checkpoint", str(ck),
                 "--force"] + tiny) == 0
    a, b = packs.load(whole), packs.load(parts)
    assert a.beta == b.beta
    for lv in packs.LEVELS:
        np.testing.assert_array_equal(a.prior_mean[lv], b.prior_mean[lv])
        np.testing.assert_array_equal(a.prior_std[lv], b.prior_std[lv])
    for x, y in zip(a.A, b.A):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("dims,factors,k", [(2, (4, 4), 5), (2, (2, 2), 3), (1, (4,), 5), (1, (2,), 3),
                                             (3, (6, 4, 4), 5), (3, (2, 2, 2), 3)])
def test_polyphase_upsample_conv_equals_torch_upsample_then_conv(dims, factors, k):
    import torch
    import torch.nn.functional as F

    from inrzip.backends.rec.network import upsample_conv

    rng = np.random.default_rng(dims * 10 + k)
    x = rng.standard_normal({1: (3, 9, 4), 2: (6, 7, 4), 3: (2, 3, 4, 4)}[dims]).astype(np.float32)
    w = rng.standard_normal((5, 4) + (k,) * dims).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[dims]
    # numpy layout (..., S1..Sn, C); torch (N, C, S1..Sn); audio's leading axis is the batch
    t = torch.from_numpy(x).movedim(-1, 1 if dims == 1 else 0)
    t = t if dims == 1 else t[None]
    ref = conv(F.interpolate(t, scale_factor=factors, mode="nearest"), torch.from_numpy(w), torch.from_numpy(b),
               padding=k // 2)
    ref = ref.movedim(1, -1).numpy() if dims == 1 else ref[0].movedim(0, -1).numpy()
    np.testing.assert_allclose(upsample_conv(x, factors, w, b), ref, rtol=1e-5, atol=5e-5)


def test_chosen_noise_equals_per_block_candidates():
    gid = blocks.group_of_variables(np.random.default_rng(0).random(50), 1, 7)
    indices = np.random.default_rng(1).integers(0, 1 << 10, size=(4, 7))
    fast = blocks.chosen_noise(3, 1, indices, gid)
    for g, members in enumerate(blocks.group_members(gid, 7)):
        np.testing.assert_array_equal(fast[:, members], blocks.candidate_noise(3, 1, indices[:, g], members.size))


@pytest.mark.parametrize("arch_kw,grid", [({}, (2, 3)), ({"patch": 32, "dims": 1, "channels": 1}, (2, 3)),
                                          ({"patch": 16, "frames": 12, "dims": 3, "fourier": 6}, (2, 2, 3))])
def test_phase_sampled_forward_equals_the_same_points_of_a_full_forward(arch_kw, grid):
    import math

    import torch

    from inrzip.backends.rec.arch import RecArch
    from inrzip.fit.recombiner import RecNet, random_pixels

    arch = RecArch(hidden=8, lpe_channels=4, lpe_mid=8, lpe_out=8, **arch_kw)
    torch.manual_seed(0)
    net = RecNet(arch).double()
    patches = math.prod(grid)
    h = 0.05 * torch.randn(1, patches, arch.inr_size, dtype=torch.float64)
    lpe = torch.randn(1, patches, arch.lpe_size, dtype=torch.float64)
    full = net(h, lpe, grid)
    for fraction in (0.25, 0.5):
        sample = random_pixels(arch, fraction, torch.Generator().manual_seed(3))
        assert len(sample.phases) == max(1, round(fraction * 2 ** arch.dims))
        assert sample.pixels.unique().numel() == len(sample.phases) * arch.patch_points // 2 ** arch.dims
        torch.testing.assert_close(net(h, lpe, grid, sample), full[:, :, sample.pixels])
    # phase_share keeps a random share of the sampled phases' points, the same in every patch
    phase_points = arch.patch_points // 2 ** arch.dims
    for fraction, share in ((0.25, 0.5), (1.0, 0.3), (0.5, 1e-6)):
        sample = random_pixels(arch, fraction, torch.Generator().manual_seed(5), phase_share=share)
        whole = len(sample.phases) * phase_points
        assert sample.pixels.unique().numel() == sample.pixels.numel() == max(1, round(share * whole))
        assert sample.keep is not None and bool((sample.keep.diff() > 0).all())
        torch.testing.assert_close(net(h, lpe, grid, sample), full[:, :, sample.pixels])
    assert random_pixels(arch, 1.0) is None
    assert random_pixels(arch, 1.0, phase_share=1.0) is None


def test_train_warmup_initial_std_and_its_errors(tmp_path):
    """`warmup` lengthens only the first E-step; `posterior_std0` is where the posteriors start;
    `lr_std` is the log-stds' own step; bad values are usage errors."""
    data = tmp_path / "train"
    data.mkdir()
    shutil.copy(EXAMPLE_IMAGE, data / "photo.png")
    calls: list[tuple[int, int]] = []
    opts = TrainOptions(rate_bpp=1.0, crops=2, crop_rows=2, crop_cols=2, em_iterations=2, e_steps=3, warmup=4,
                        posterior_std0=1e-2, lr_std=1e-4, arch=TINY, device="cpu")
    pack = train(data, tmp_path / "p.safetensors", opts, progress=lambda _s, done, total, **_k: calls.append((done, total)))
    assert [d for d, _ in calls] == list(range(1, 11)) and {t for _, t in calls} == {10}
    assert [h["iteration"] for h in pack.info["history_tail"]] == [1, 2]
    for lv in packs.LEVELS:      # 10 steps of lr 1e-4 move a log-std by at most 1e-3
        assert np.allclose(np.exp(pack.init_logstd[lv]), 1e-2, rtol=2e-3)
    assert parse_train_options({"warmup": "7", "lr_std": "0.01"}, 0.3, "cpu").warmup == 7
    for bad in ({"warmup": "-1"}, {"posterior_std0": "0"}, {"lr_std": "-1"}):
        with pytest.raises(UsageError):
            parse_train_options(bad, 0.3, "cpu")


def test_equal_rate_packs_follow_the_search_order(pack_dir, tmp_path, monkeypatch):
    """A user's pack in $INRZIP_PACK_PATH beats a later folder's pack of the same rate, whatever the names."""
    first, second = tmp_path / "z_first", tmp_path / "a_second"
    for d in (first, second):
        d.mkdir()
        shutil.copy(pack_dir / "tiny.safetensors", d / "tiny.safetensors")
    monkeypatch.setenv("INRZIP_PACK_PATH", f"{first}{os.pathsep}{second}")
    mine = [p.parent for _, p in packs.shipped_rates("image") if p.parent in (first, second)]
    assert mine == [first, second]
    opts = RecOptions()
    rate = packs.load(first / "tiny.safetensors").rate_bpp
    assert choose_pack(opts, "image", rate).pack_id == packs.file_id(first / "tiny.safetensors")


def test_retired_packs_decode_but_are_never_chosen(coded, pack_dir, tmp_path, monkeypatch):
    """A replaced shipped pack moves to models/retired/: its files still decode, encodes use the new one."""
    sig, rep = coded
    retired = tmp_path / "retired"
    retired.mkdir()
    shutil.copy(pack_dir / "tiny.safetensors", retired / "tiny.safetensors")
    monkeypatch.setenv("INRZIP_PACK_PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(packs, "RETIRED_DIR", retired)
    assert [r for r, p in packs.shipped_rates("image") if p.parent == retired] == []
    assert api.decode(rep.data).signal.data.shape == sig.data.shape
    monkeypatch.setattr(packs, "RETIRED_DIR", tmp_path / "none")
    with pytest.raises(FormatError, match="not installed"):
        api.decode(rep.data)


@pytest.mark.parametrize("modality, rates, picks", [
    # The lowest-rate pack at or above the target, a pack counting as "at" it up to 5% below;
    # above the top pack, the top pack.
    ("image", {0.07, 0.1, 0.2, 0.3, 0.5, 1.0}, ((0.03, 0.07), (0.07, 0.07), (0.0736, 0.07), (0.074, 0.1),
                                                (0.1, 0.1), (0.105, 0.1), (0.106, 0.2), (0.15, 0.2), (0.21, 0.2),
                                                (0.211, 0.3), (0.31, 0.3), (0.35, 0.5), (0.5, 0.5), (0.6, 1.0),
                                                (2.0, 1.0))),
    # Audio at 16 kHz (bits per sample = kbps / 16): the 10.7 kbps pack up to 11.26 kbps, then
    # the 22.1 kbps one.
    ("audio", {0.669, 1.381}, tuple((kbps / 16, trained_for) for kbps, trained_for in
                                    ((3, 0.669), (5.7, 0.669), (10.7, 0.669), (11.2, 0.669), (11.4, 1.381),
                                     (15, 1.381), (22.1, 1.381), (64, 1.381)))),
])
def test_the_lowest_shipped_pack_at_or_above_the_rate_is_chosen(modality, rates, picks, tmp_path, monkeypatch):
    monkeypatch.setenv("INRZIP_PACK_PATH", str(tmp_path))
    shipped = {round(rate, 3): packs.file_id(path) for rate, path in packs.shipped_rates(modality)}
    assert set(shipped) == rates
    for rate, trained_for in picks:
        assert choose_pack(RecOptions(), modality, rate).pack_id == shipped[trained_for], rate


def test_a_warm_started_training_begins_at_the_init_pack(tmp_path, capsys):
    """`--init` loads A, the upsampler, the priors and beta: with steps too small to move
    anything, the M-step gives back the init pack's prior means and A, and beta moves at most
    one controller step from the init's (a cold start would begin at beta0 = 1e-2)."""
    data = tmp_path / "train"
    data.mkdir()
    shutil.copy(EXAMPLE_IMAGE, data / "photo.png")
    base = dict(rate_bpp=1.0, crops=2, crop_rows=2, crop_cols=2, e_steps=3, warmup=2, arch=TINY, device="cpu")
    train(data, tmp_path / "a.safetensors", TrainOptions(em_iterations=3, **base))
    first = packs.load(tmp_path / "a.safetensors")          # A as the file holds it (float16)
    still = TrainOptions(em_iterations=1, seed=1, lr=1e-12, lr_a=1e-12, lr_std=1e-12, beta0=1e-2, **base)
    warm = packs.load(train(data, tmp_path / "b.safetensors", still, init=first).path)
    assert warm.info["init"]["pack"] == first.pack_id.hex()
    assert first.beta / 2 <= warm.beta <= first.beta * 2 < 1e-3
    for lv in packs.LEVELS:
        np.testing.assert_allclose(warm.prior_mean[lv], first.prior_mean[lv], atol=1e-6)
    for x, y in zip(warm.A, first.A):
        np.testing.assert_array_equal(x, y)
    common = ["train", "--data", str(data), "-o", str(tmp_path / "c.safetensors"), "--device", "cpu", "-q",
              "-O", "crops=1", "-O", "em_iterations=1", "-O", "e_steps=1", "-O", "warmup=0"]
    capsys.readouterr()
    assert main(common + ["--init", str(tmp_path / "a.safetensors")]) == 1     # default arch is not TINY
    assert "architecture differs" in capsys.readouterr().err
    assert main(common + ["--init", str(EXAMPLE_IMAGE)]) != 0
    assert "not a valid rec model pack" in capsys.readouterr().err
    assert not (tmp_path / "c.safetensors").exists()
