"""croppable backend: round trips, crop-on-decode, crop-the-file, CLI, partitioning, errors."""
import subprocess
import sys
import textwrap
from fractions import Fraction

import numpy as np
import pytest
from helpers import small_audio, small_image

from inrzip import api, container
from inrzip.backends.croppable import decoder as dec
from inrzip.backends.croppable import format as fmt
from inrzip.backends.croppable import partition as part
from inrzip.cli import main
from inrzip.errors import UsageError
from inrzip.signal import Signal

FAST = {"steps": 300, "device": "cpu", "lr": 1e-2}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def image_file():
    sig = small_image(40, 48)
    rep = api.encode(sig, None, rate="8bpp", backend="croppable", options={**FAST, "partition": "10x12"})
    return sig, rep


@pytest.fixture(scope="module")
def audio_file():
    sig = small_audio(4000)
    rep = api.encode(sig, None, rate="96kbps", backend="croppable",
                     options={**FAST, "partition": "500", "lr": 1e-3})
    return sig, rep


def test_image_round_trip_meets_rate(image_file):
    sig, rep = image_file
    assert rep.backend == "croppable" and rep.stats["partitions"] == [4, 4]
    assert abs(rep.bytes / (8 * 40 * 48 / 8) - 1) <= 0.05, rep.stats
    out = api.decode(rep.data).signal.data
    assert out.shape == sig.data.shape and out.dtype == np.uint8
    assert rep.psnr > 24


def test_crop_decode_equals_region_and_reads_less(image_file):
    _, rep = image_file
    full = api.decode(rep.data)
    part_dec = api.decode(rep.data, crop="9:23,17:30")
    assert np.array_equal(part_dec.signal.data, full.signal.data[9:23, 17:30])
    assert part_dec.bytes_read < full.bytes_read == full.file_bytes


def test_crop_file_decodes_identically(image_file, tmp_path):
    _, rep = image_file
    full = api.decode(rep.data).signal.data
    src = tmp_path / "a.inrz"
    src.write_bytes(rep.data)
    cut = api.crop(src, tmp_path / "b.inrz", region="5:30,10:41")
    assert cut.shape == (25, 31) and cut.bytes < rep.bytes and cut.bytes_read < rep.bytes
    out = api.decode(tmp_path / "b.inrz").signal.data
    assert np.array_equal(out, full[5:30, 10:41])
    # --crop on the cropped file, and cropping it again, still match the original
    sub = api.decode(tmp_path / "b.inrz", crop="3:20,4:9").signal.data
    assert np.array_equal(sub, full[8:25, 14:19])
    again = api.crop(tmp_path / "b.inrz", None, region="3:20,4:9")
    assert np.array_equal(api.decode(again.data).signal.data, full[8:25, 14:19])
    info = api.info(tmp_path / "b.inrz")
    assert info["params"]["cropped_from"] == [40, 48] and info["params"]["region"] == "5:30,10:41"


def test_crop_size_is_global_plus_kept_share(image_file):
    _, rep = image_file
    reader = container.Reader.from_bytes(rep.data)
    sizes = [c.length for c in reader.chunks]
    cut = api.crop(rep.data, None, region="0:20,0:24")       # 2 x 2 of 4 x 4 partitions
    expected = reader.preamble_size + sizes[0] + sum(sizes[1:]) * 4 / 16
    assert abs(cut.bytes - expected) < 0.1 * expected


def test_scaled_decode_shape(image_file):
    _, rep = image_file
    assert api.decode(rep.data, scale=0.5).signal.data.shape == (20, 24, 3)
    assert api.decode(rep.data, scale=0.1).signal.data.shape == (4, 5, 3)    # some partitions empty
    assert api.decode(rep.data, scale=2, crop="0:10,0:10").signal.data.shape == (20, 20, 3)


def test_audio_round_trip_and_time_crop(audio_file):
    _, rep = audio_file
    assert rep.stats["partitions"] == [8]
    full = api.decode(rep.data)
    assert full.signal.data.shape == (4000, 1)
    part_dec = api.decode(rep.data, crop="0.1s:0.2s")          # 8 kHz: samples 800:1600
    assert np.array_equal(part_dec.signal.data, full.signal.data[800:1600])
    assert part_dec.bytes_read < full.bytes_read
    cut = api.crop(rep.data, None, region="0.1s:0.2s")
    assert np.array_equal(api.decode(cut.data).signal.data, full.signal.data[800:1600])
    assert rep.psnr > 10


def test_video_round_trip_and_crop():
    frames = np.stack([small_image(24, 24).data, small_image(24, 24).data[::-1]] * 2)
    sig = Signal(frames, "video", 8, fps=Fraction(4))
    rep = api.encode(sig, None, rate="2bpp", backend="croppable", options={**FAST, "partition": "2x8x8"})
    assert rep.stats["partitions"] == [2, 3, 3]
    full = api.decode(rep.data).signal.data
    assert full.shape == (4, 24, 24, 3)
    cut = api.crop(rep.data, None, region="0.5s:1s,8:16,3:20")
    assert np.array_equal(api.decode(cut.data).signal.data, full[2:4, 8:16, 3:20])


def test_cli_crop(image_file, tmp_path, capsys):
    _, rep = image_file
    src = tmp_path / "a.inrz"
    src.write_bytes(rep.data)
    assert main(["crop", str(src), "--region", "8:24,0:16", "-o", str(tmp_path / "c.inrz"), "--json"]) == 0
    assert '"shape": [16, 16]' in capsys.readouterr().out
    assert main(["crop", str(src), "-r", "8:24,0:16", "-q"]) == 0       # default name beside the input
    assert (tmp_path / "a-crop.inrz").exists()
    assert main(["info", str(tmp_path / "c.inrz")]) == 0
    assert "cropped_from" in capsys.readouterr().out


def test_crop_errors(image_file, tmp_path):
    _, rep = image_file
    with pytest.raises(UsageError):
        api.crop(rep.data, None, region="0:100,0:10")        # outside the image
    with pytest.raises(UsageError):
        api.crop(rep.data, None, region="5:5,0:10")          # empty
    with pytest.raises(UsageError):
        api.crop(rep.data, None, region="0:10")              # wrong number of axes
    with pytest.raises(UsageError, match="cannot be cut"):
        api.crop("formats/vectors/sinr-image-sparse.inrz", None, region="0:8,0:8")
    src = tmp_path / "a.inrz"
    src.write_bytes(rep.data)
    assert main(["crop", str(src), "-r", "0:99,0:8", "-o", str(tmp_path / "x.inrz")]) == 1
    assert main(["crop", "formats/vectors/sinr-image-sparse.inrz", "-r", "0:8,0:8",
                 "-o", str(tmp_path / "y.inrz")]) == 1


def test_bad_options():
    for opts in ({"effort": "huge"}, {"local_width": 8}, {"partition": "0"}, {"batch": 2},
                 {"partition": "axb"}, {"nope": 1}):
        with pytest.raises(UsageError):
            api.encode(small_image(8, 8), None, rate="8bpp", backend="croppable", options=opts)
    with pytest.raises(UsageError):
        api.encode(small_image(8, 8), None, backend="croppable", options={"device": "cpu"})


def test_partition_sizes_pad_never_resize():
    assert part.partition_sizes((512, 768), "image") == (32, 32)
    assert part.partition_sizes((100, 70), "image") == (25, 24)     # 4 x 3, last column padded
    assert part.partition_sizes((10,), "audio", "4") == (4,)
    assert part.partition_sizes((30, 144, 176), "video") == (8, 29, 30)


def test_auto_widths_hit_the_budget():
    for target in (50_000, 200_000):
        l, g = part.auto_widths(target, 64, 2, 3, 3, ratio=0.1)     # the reference's share
        total = part.total_params(g, l, 2, 3, 3, 64)
        share = (part.chain_params(g, 2, 3) + part.agg_params(g, l)) / total
        assert abs(total / target - 1) < 0.1 and 0.075 <= share <= 0.125


def test_axis_partition_is_floor_at_scale_one():
    j = np.arange(100)
    assert np.array_equal(fmt.axis_partition(j, 100, 100, 32, 4), np.minimum(j // 32, 3))
    for m in (37, 100, 250):
        parts = fmt.axis_partition(np.arange(m), 100, m, 32, 4)
        assert np.all(np.diff(parts) >= 0) and parts[0] == 0 and parts[-1] == 3
        for q in range(4):
            first = dec._first_sample(q * 32, 100, m)
            assert first == int(np.argmax(parts >= q))


def test_decode_and_crop_never_import_torch(tmp_path):
    code = textwrap.dedent(f"""
        import sys
        import inrzip.cli
        src = "formats/vectors/croppable-image.inrz"
        assert inrzip.cli.main(["decode", src, "-o", {str(tmp_path / 'x.png')!r}, "--crop", "3:9,5:20", "-q"]) == 0
        assert inrzip.cli.main(["crop", src, "-r", "3:9,5:20", "-o", {str(tmp_path / 'c.inrz')!r}, "-q"]) == 0
        assert "torch" not in sys.modules, "decode or crop imported torch"
    """)
    subprocess.run([sys.executable, "-c", code], check=True)


def test_rate_above_what_the_net_can_use_never_clips_weights():
    """A budget the net cannot fill must give its finest unclipped code, not a wrecked one."""
    rep = api.encode(small_image(24, 32), None, rate="60bpp", backend="croppable",
                     options={**FAST, "steps": 100, "partition": "8", "local_width": 4, "global_width": 6})
    assert not rep.stats["rate_met"] and rep.bytes < 60 * 24 * 32 / 8
    assert rep.psnr > rep.stats["fit_psnr"] - 0.3
