"""Torch pieces the encoders share. Imported only when encoding."""
