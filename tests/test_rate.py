import pytest

from inrzip.errors import UsageError
from inrzip.rate import parse_rate


@pytest.mark.parametrize("text,modality,points,seconds,bits", [
    ("0.3bpp", "image", 1000, 0, 300),
    ("1.5", "image", 1000, 0, 1500),
    ("24kbps", "audio", 0, 2.0, 48_000),
    ("24", "audio", 0, 2.0, 48_000),
    ("50KB", "image", 10, 0, 400_000),
    ("1KiB", "image", 10, 0, 8192),
    ("100 B", "audio", 0, 1.0, 800),
])
def test_budgets(text, modality, points, seconds, bits):
    assert parse_rate(text, modality).budget_bits(points, seconds) == pytest.approx(bits)


@pytest.mark.parametrize("text", ["", "fast", "0bpp", "-1bpp", "3 parsecs", "1.2.3bpp"])
def test_bad_rates_are_usage_errors(text):
    with pytest.raises(UsageError):
        parse_rate(text, "image")


def test_per_second_rate_needs_duration():
    with pytest.raises(UsageError, match="audio or video"):
        parse_rate("24kbps", "image").budget_bits(1000, 0)
