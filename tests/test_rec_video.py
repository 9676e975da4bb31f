"""rec for video: a tiny 3-D pack trained here, round trip at a bpp target, crops and tiling, errors."""
from fractions import Fraction

import numpy as np
import pytest
from helpers import example_array

from inrzip import api
from inrzip.backends.rec import decoder
from inrzip.backends.rec import pack as packs
from inrzip.backends.rec.arch import RecArch, patch_groups, signal_grid
from inrzip.backends.rec.train import parse_train_options, train
from inrzip.cli import main
from inrzip.media import write_signal
from inrzip.signal import Signal

TINY_VIDEO = {"arch.patch": "16", "arch.frames": "12", "arch.hidden": "16", "arch.fourier": "6",
              "arch.lpe_channels": "4", "arch.lpe_mid": "8", "arch.lpe_out": "8", "arch.group": "2",
              "crops": "3", "crop_rows": "2", "crop_cols": "2", "em_iterations": "3", "e_steps": "10", "warmup": "20",
              "beta0": "3e-5", "pixel_fraction": "0.5"}
FAST = {"effort": "fast", "steps": 60, "finetune": 10, "min_finetune_rounds": 0, "index_bits": 10, "device": "cpu"}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def panning_video(frames: int, h: int, w: int) -> Signal:
    """A camera pan over the example photo: real texture with real motion, no external file."""
    photo = example_array()
    data = np.stack([photo[40 + t:40 + t + h, 40 + 2 * t:40 + 2 * t + w] for t in range(frames)])
    return Signal(np.ascontiguousarray(data), "video", 8, fps=Fraction(25))


@pytest.fixture(scope="module")
def video_packs(tmp_path_factory):
    root = tmp_path_factory.mktemp("rec-video")
    data = root / "train"
    data.mkdir()
    write_signal(panning_video(12, 40, 48), data / "pan.y4m", fmt="y4m")
    train(data, root / "tiny-video.safetensors", parse_train_options(TINY_VIDEO, 1.0, "cpu", "video"))
    return root


@pytest.fixture(scope="module")
def coded_video(video_packs):
    mp = pytest.MonkeyPatch()
    mp.setenv("INRZIP_PACK_PATH", str(video_packs))
    sig = panning_video(30, 36, 40)      # 3 x 3 x 3 patches of 12 x 16 x 16, padded in every axis
    rep = api.encode(sig, None, rate="1bpp", backend="rec", options=FAST)
    yield sig, rep
    mp.undo()


def test_video_pack_is_three_dimensional(video_packs):
    pack = packs.load(video_packs / "tiny-video.safetensors")
    arch = pack.arch
    assert arch.dims == 3 and arch.modality == "video" and arch.patch_shape == (12, 16, 16)
    assert arch.cell_shape == (1, 1, 1) and arch.upsample_factors[0] == (3, 4, 4)
    assert pack.upsampler[0][0].shape == (8, 4, 5, 5, 5)        # Conv3d kernels
    assert pack.prior_mean[1].shape == (arch.inr_size + 4,)      # one cell of 4 channels per patch
    assert RecArch.from_json(arch.to_json()) == arch


def test_video_grid_and_groups_follow_the_paper():
    arch = RecArch(patch=16, frames=24, dims=3, fourier=18)
    assert arch.upsample_factors == [(6, 4, 4), (2, 2, 2), (2, 2, 2)]    # Table 2 / reference code
    assert arch.in_dim == 34                                            # 18 Fourier + 16 upsampled
    assert signal_grid((24, 128, 128), 3, arch) == (1, 8, 8)            # the paper's clip: 64 patches
    groups = patch_groups((1, 8, 8), arch)
    assert groups.max() + 1 == 4 and np.bincount(groups).tolist() == [16] * 4   # 4 groups of 4 x 4
    assert len(set(patch_groups((2, 4, 4), arch).tolist())) == 2        # groups never span frame slabs
    with pytest.raises(ValueError, match="at least 12"):     # x2 in time would reach past the next slab
        RecArch(patch=16, frames=8, dims=3, fourier=18)


def test_video_round_trip_meets_bpp_and_matches_the_encoder(coded_video, video_packs, monkeypatch):
    monkeypatch.setenv("INRZIP_PACK_PATH", str(video_packs))
    sig, rep = coded_video
    target = 30 * 36 * 40 / 8
    assert abs(len(rep.data) / target - 1) <= 0.05, (len(rep.data), target)
    out = api.decode(rep.data).signal
    assert out.modality == "video" and out.fps == Fraction(25)
    assert out.data.shape == sig.data.shape and out.data.dtype == np.uint8
    err = out.data.astype(float) - sig.data.astype(float)
    psnr = 10 * np.log10(255.0 ** 2 / np.mean(err ** 2))
    assert abs(psnr - rep.stats["psnr_estimate"]) < 0.05      # numpy decoder == torch encoder
    flat = sig.data.astype(float) - sig.data.mean(axis=(0, 1, 2))
    assert psnr > 10 * np.log10(255.0 ** 2 / np.mean(flat ** 2)) + 1    # beats the clip's mean colour


def test_video_crop_and_tiling_equal_a_full_decode(coded_video, video_packs, monkeypatch):
    monkeypatch.setenv("INRZIP_PACK_PATH", str(video_packs))
    _, rep = coded_video
    full = api.decode(rep.data).signal.data
    monkeypatch.setattr(decoder, "VIDEO_TILE", 1)       # one patch per tile: margins everywhere, 3 slabs
    np.testing.assert_array_equal(api.decode(rep.data).signal.data, full)
    for region, cut in [("0:4,0:16,0:16", np.s_[0:4, 0:16, 0:16]), ("3:10,5:30,17:40", np.s_[3:10, 5:30, 17:40]),
                        ("11:30,0:36,9:31", np.s_[11:30, 0:36, 9:31])]:
        part = api.decode(rep.data, crop=region).signal.data
        np.testing.assert_array_equal(part, full[cut])


def test_cli_train_video_and_its_errors(tmp_path, capsys):
    data = tmp_path / "train"
    data.mkdir()
    write_signal(panning_video(12, 32, 32), data / "pan.y4m", fmt="y4m")
    out = tmp_path / "v.safetensors"
    args = ["train", "--modality", "video", "--data", str(data), "-b", "0.5bpp", "-o", str(out),
            "--device", "cpu", "--quiet", "--json"]
    for key, value in {**TINY_VIDEO, "em_iterations": "1", "e_steps": "2", "crops": "1"}.items():
        args += ["-O", f"{key}={value}"]
    assert main(args) == 0
    assert packs.load(out).arch.modality == "video"
    capsys.readouterr()
    assert main([a for a in args if a != "--json"] + ["-O", "arch.channels=1", "--force"]) != 0
    assert "video packs are 3-D RGB" in capsys.readouterr().err
    assert main([a for a in args if a != "--json"] + ["-O", "crop_frames=2", "--force"]) != 0
    assert "no videos of at least 24 frames" in capsys.readouterr().err


def test_training_videos_are_box_filtered_and_too_short_ones_skipped(tmp_path):
    from inrzip.backends.rec.train import load_training_video

    write_signal(panning_video(8, 32, 48), tmp_path / "a.y4m", fmt="y4m")
    write_signal(panning_video(4, 32, 48), tmp_path / "short.y4m", fmt="y4m")    # fewer than 8 frames
    (tmp_path / "notes.txt").write_text("not a video")
    full, = load_training_video(tmp_path, 8, 16)
    half, = load_training_video(tmp_path, 8, 16, downscale=2)
    assert full.shape == (8, 32, 48, 3) and half.shape == (8, 16, 24, 3)
    np.testing.assert_allclose(half, full.reshape(8, 16, 2, 24, 2, 3).mean(axis=(2, 4)), atol=1e-6)


def test_cli_encodes_decodes_and_crops_a_video_file(video_packs, tmp_path, capsys, monkeypatch):
    src = tmp_path / "clip.y4m"
    write_signal(panning_video(8, 32, 32), src, fmt="y4m")
    pack = str(video_packs / "tiny-video.safetensors")
    coded = tmp_path / "clip.inrz"
    monkeypatch.setenv("INRZIP_PACK_PATH", "")        # the pack is named by path only: the encode verifies with it
    assert main(["encode", str(src), "--backend", "rec", "-b", "1bpp", "-o", str(coded), "-q", "-O", f"pack={pack}",
                 "-O", "effort=fast", "-O", "steps=5", "-O", "finetune=10", "-O", "min_finetune_rounds=0", "-O", "index_bits=8",
                 "--device", "cpu"]) == 0
    assert abs(coded.stat().st_size * 8 / (8 * 32 * 32) - 1) <= 0.05
    capsys.readouterr()
    assert main(["info", str(coded), "--json"]) == 0
    assert '"modality": "video"' in capsys.readouterr().out
    monkeypatch.setenv("INRZIP_PACK_PATH", str(video_packs))
    assert main(["decode", str(coded), "-o", str(tmp_path / "back.y4m"), "-q"]) == 0
    assert main(["decode", str(coded), "--crop", "2:6,8:24,0:16", "-o", str(tmp_path / "part.y4m"), "-q"]) == 0
    from inrzip.media import read_signal
    assert read_signal(str(tmp_path / "back.y4m")).data.shape == (8, 32, 32, 3)
    assert read_signal(str(tmp_path / "part.y4m")).data.shape == (4, 16, 16, 3)


def test_too_large_a_signal_is_a_clear_error(monkeypatch):
    from inrzip.backends.rec import encoder
    from inrzip.errors import UsageError

    monkeypatch.setattr(encoder, "MAX_FIT_POINTS", 8 * 32 * 32 - 1)
    with pytest.raises(UsageError, match="more than one encode fits at once"):
        api.encode(panning_video(8, 32, 32), None, rate="0.3bpp", backend="rec", options=FAST)
