"""Croppable backend (papers/local_global_inr.txt): a Local-Global SIREN whose global part and
every partition's local sub-network are separate chunks, so a region decodes from, and a file
crops to, only the partitions it touches. Payload layout: formats/croppable.md."""
