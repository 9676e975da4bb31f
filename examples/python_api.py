"""The Python API on the bundled photo: encode to bytes, decode, crop, measure."""
from pathlib import Path

import inrzip

photo = Path(__file__).with_name("kodim03_crop.png")
report = inrzip.encode(photo, rate="1.5bpp", options={"effort": "fast"})   # bytes in report.data
print(f"{report.bytes} B, {report.rate:.3f} {report.rate_unit}, PSNR {report.psnr:.2f} dB")

decoded = inrzip.decode(report.data)                 # a Signal: .data is (H, W, 3) uint8
print("decoded", decoded.signal.data.shape)
corner = inrzip.decode(report.data, crop="0:64,0:64", scale=2)   # only that region, at 2x
print("2x crop", corner.signal.data.shape)

exact = inrzip.encode(photo, backend="lossless", options={"effort": "fast"})
back = inrzip.decode(exact.data).signal.data
print(f"lossless: {exact.bytes} B, {exact.rate:.3f} {exact.rate_unit}, identical: "
      f"{(back == inrzip.read_signal(photo).data).all()}")
