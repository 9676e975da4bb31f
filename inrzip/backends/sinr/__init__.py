"""SINR backend (papers/sinr.txt): a SIREN whose weight vectors are coded as s-sparse
combinations of atoms of a seeded Gaussian dictionary, quantised, then Brotli-compressed.
The plain baseline (same SIREN, uniformly quantised weights, Brotli) is mode "plain".
Payload layout: formats/sinr.md."""
