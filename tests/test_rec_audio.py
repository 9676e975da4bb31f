"""rec for audio: a tiny 1-D pack trained here, stereo round trip at a kbps target, crops, errors."""
import numpy as np
import pytest
import soundfile
from helpers import small_audio, small_image

from inrzip import api
from inrzip.backends.rec import pack as packs
from inrzip.backends.rec.arch import RecArch, signal_grid
from inrzip.backends.rec.train import load_training_audio, parse_train_options, train
from inrzip.cli import main
from inrzip.errors import UsageError
from inrzip.media.audio import resample

TINY_AUDIO = {"arch.patch": "64", "arch.hidden": "16", "arch.fourier": "8", "arch.lpe_channels": "4",
              "arch.lpe_mid": "8", "arch.lpe_out": "8", "arch.group": "2",
              "crops": "4", "crop_cols": "4", "em_iterations": "4", "e_steps": "15", "warmup": "30", "beta0": "3e-5"}
FAST = {"effort": "fast", "steps": 150, "finetune": 10, "min_finetune_rounds": 0, "index_bits": 10, "device": "cpu"}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def audio_packs(tmp_path_factory):
    root = tmp_path_factory.mktemp("rec-audio")
    data = root / "train"
    data.mkdir()
    sig = small_audio(6000, 2, 8000)
    soundfile.write(data / "clip.wav", sig.data, sig.sample_rate, subtype="PCM_16")
    opts = parse_train_options(TINY_AUDIO, 1.5, "cpu", "audio")
    train(data, root / "tiny-audio.safetensors", opts)
    return root


@pytest.fixture
def pack_dir_with_image_pack(tmp_path):
    import shutil

    from conftest import REPO
    shutil.copy(REPO / "formats" / "vectors" / "rec-pack-tiny.safetensors", tmp_path)
    return tmp_path


@pytest.fixture(scope="module")
def coded_audio(audio_packs):
    mp = pytest.MonkeyPatch()
    mp.setenv("INRZIP_PACK_PATH", str(audio_packs))
    sig = small_audio(700, 2, 8000)          # 700 samples: 11 patches of 64, the last one padded
    rep = api.encode(sig, None, rate="64kbps", backend="rec", options=FAST)
    yield sig, rep
    mp.undo()


def test_audio_pack_is_one_dimensional(audio_packs):
    pack = packs.load(audio_packs / "tiny-audio.safetensors")
    assert pack.arch.dims == 1 and pack.arch.modality == "audio" and pack.arch.channels == 1
    assert pack.upsampler[0][0].shape == (8, 4, 5)            # Conv1d kernels
    assert pack.prior_mean[1].shape == (pack.arch.inr_size + 4 * 4,)   # 64 / 16 = 4 cells x 4 channels


def test_stereo_is_one_row_of_patches_per_channel():
    arch = RecArch(patch=64, dims=1, channels=1)
    assert signal_grid((700,), 2, arch) == (2, 11)
    assert signal_grid((640,), 1, arch) == (1, 10)


def test_audio_round_trip_meets_kbps_and_matches_the_encoder(coded_audio, audio_packs, monkeypatch):
    monkeypatch.setenv("INRZIP_PACK_PATH", str(audio_packs))
    sig, rep = coded_audio
    target = 64000 * 700 / 8000 / 8
    assert abs(len(rep.data) / target - 1) <= 0.05, (len(rep.data), target)
    out = api.decode(rep.data).signal
    assert out.modality == "audio" and out.sample_rate == 8000
    assert out.data.shape == sig.data.shape and out.data.dtype == np.int16
    err = out.data.astype(float) - sig.data.astype(float)
    psnr = 10 * np.log10(65535.0 ** 2 / np.mean(err ** 2))
    assert abs(psnr - rep.stats["psnr_estimate"]) < 0.05      # numpy decoder == torch encoder
    assert psnr > 19.5        # the clip's own mean scores 16.3 dB


def test_audio_crop_equals_the_same_samples_of_a_full_decode(coded_audio, audio_packs, monkeypatch):
    monkeypatch.setenv("INRZIP_PACK_PATH", str(audio_packs))
    _, rep = coded_audio
    full = api.decode(rep.data).signal.data
    for a, b in [(0, 64), (100, 333), (650, 700)]:
        part = api.decode(rep.data, crop=f"{a}:{b}").signal.data
        np.testing.assert_array_equal(part, full[a:b])


def test_packs_are_chosen_by_modality(audio_packs, pack_dir_with_image_pack, monkeypatch):
    monkeypatch.setattr(packs, "PACK_DIR", pack_dir_with_image_pack)   # an image pack only
    monkeypatch.setenv("INRZIP_PACK_PATH", "")
    assert packs.shipped_rates("image") and not packs.shipped_rates("audio")
    with pytest.raises(UsageError, match="no audio model pack"):
        api.encode(small_audio(700, 1, 8000), None, rate="24kbps", backend="rec", options=FAST)
    with pytest.raises(UsageError, match="codes audio, not image"):
        api.encode(small_image(32, 32), None, rate="1bpp", backend="rec",
                   options={**FAST, "pack": str(audio_packs / "tiny-audio.safetensors")})


def test_cli_train_audio_takes_kbps(tmp_path, capsys):
    data = tmp_path / "train"
    data.mkdir()
    sig = small_audio(3000, 1, 8000)
    soundfile.write(data / "clip.wav", sig.data, sig.sample_rate, subtype="PCM_16")
    out = tmp_path / "a.safetensors"
    args = ["train", "--modality", "audio", "--data", str(data), "-b", "12kbps", "--sample-rate", "8000",
            "-o", str(out), "--device", "cpu", "--quiet", "--json"]
    for key, value in {**TINY_AUDIO, "em_iterations": "1", "e_steps": "2", "crops": "2"}.items():
        args += ["-O", f"{key}={value}"]
    assert main(args) == 0
    assert packs.load(out).rate_bpp == pytest.approx(1.5)     # 12 kbps at 8 kHz = 1.5 bits per sample
    assert packs.load(out).info["options"]["sample_rate"] == 8000   # trained on audio at the pack's rate
    capsys.readouterr()
    bad = [a for a in args if a != "--json"] + ["-O", "crop_rows=2", "--force"]
    assert main(bad) != 0
    assert "audio packs are mono 1-D" in capsys.readouterr().err


def test_resample_keeps_pitch_and_duration():
    rate, n = 8000, 4000
    t = np.arange(n) / rate
    tone = (0.5 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)[:, None]
    assert resample(tone, rate, rate) is tone
    up = resample(tone, rate, 16000)
    assert up.dtype == np.float32 and up.shape[1] == 1 and abs(up.shape[0] - 2 * n) <= 2
    spectrum = np.abs(np.fft.rfft(up[:, 0]))
    assert np.fft.rfftfreq(up.shape[0], 1 / 16000)[spectrum.argmax()] == pytest.approx(440.0, abs=3.0)
    inner = slice(200, 2 * n - 200)         # the resampler's filter settles at the ends
    ideal = 0.5 * np.sin(2 * np.pi * 440.0 * np.arange(2 * n) / 16000)
    assert np.abs(up[inner, 0] - ideal[inner]).max() < 0.01


def test_training_audio_is_resampled_to_the_packs_rate(tmp_path):
    sig = small_audio(3000, 2, 8000)
    soundfile.write(tmp_path / "clip.wav", sig.data, sig.sample_rate, subtype="PCM_16")
    tracks = load_training_audio(tmp_path, 5000, 16000)      # 3000 samples at 8 kHz are 6000 at 16 kHz
    assert len(tracks) == 2 and all(abs(t.shape[0] - 6000) <= 2 for t in tracks)
    assert [t.shape[0] for t in load_training_audio(tmp_path, 3000)] == [3000, 3000]    # 0: the file's rate
    with pytest.raises(UsageError, match="no WAV/FLAC files of at least 5000"):
        load_training_audio(tmp_path, 5000)
    with pytest.raises(UsageError, match="sample_rate must be >= 0"):
        parse_train_options({"sample_rate": "-1"}, 1.0, "cpu", "audio")
