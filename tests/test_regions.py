import numpy as np
import pytest

from inrzip.container import Header
from inrzip.errors import UsageError
from inrzip.regions import parse_crop
from inrzip.runtime.coords import Region, axis_positions

IMAGE = Header("sinr", "image", (512, 768), 3, 8)
AUDIO = Header("sinr", "audio", (48000,), 1, 16, sample_rate=16000)


def test_parse_image_crop_with_open_bounds():
    assert parse_crop("0:256,128:", IMAGE) == ((0, 256), (128, 768))


def test_parse_audio_crop_in_seconds_and_samples():
    assert parse_crop("0.5s:2s", AUDIO) == ((8000, 32000),)
    assert parse_crop("100:200", AUDIO) == ((100, 200),)


@pytest.mark.parametrize("text", ["0:256", "0:600,0:10", "10:5,0:10", "a:b,0:1", "5,0:1"])
def test_bad_crops(text):
    with pytest.raises(UsageError):
        parse_crop(text, IMAGE)


def test_crop_coordinates_are_a_slice_of_the_full_grid():
    full = Region.full((512, 768)).axis_coords((512, 768))
    part = Region(((10, 20), (700, 768))).axis_coords((512, 768))
    assert np.array_equal(part[0], full[0][10:20]) and np.array_equal(part[1], full[1][700:])


def test_scale_doubles_grid_and_keeps_span():
    region = Region.full((4, 6), scale=2.0)
    assert region.output_shape((4, 6)) == (8, 12)
    ys, xs = region.axis_coords((4, 6))
    assert ys[0] == -1 and ys[-1] == 1 and len(xs) == 12
    assert axis_positions(1).tolist() == [0.0]
