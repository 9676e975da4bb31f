#!/usr/bin/env bash
# Encode the bundled photo to .inrz, decode it back, and print size, bpp and PSNR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${TMPDIR:-/tmp}/inrzip-quickstart
mkdir -p "$out"
inrzip encode "$here/kodim03_crop.png" -b 1.5bpp --effort fast -o "$out/kodim03.inrz" --force
inrzip info "$out/kodim03.inrz"
inrzip decode "$out/kodim03.inrz" -o "$out/kodim03.png" --force
echo "decoded image: $out/kodim03.png"
# Bit-exact: the decode is checked against a hash of the original stored in the file.
inrzip encode "$here/kodim03_crop.png" --lossless --effort fast -o "$out/kodim03-lossless.inrz" --force
inrzip decode "$out/kodim03-lossless.inrz" -o "$out/kodim03-lossless.png" --force
# rec (RECOMBINER) with the shipped model pack: best rate for its quality; about a minute here.
inrzip encode "$here/kodim03_crop.png" --backend rec -b 0.5bpp --effort fast -o "$out/kodim03-rec.inrz" --force
inrzip decode "$out/kodim03-rec.inrz" -o "$out/kodim03-rec.png" --force
