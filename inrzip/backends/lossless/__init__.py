"""lossless backend: bit-plane INR + arithmetic coding, bit-exact integer decoder."""
