"""Safe output files: write to a temporary name beside the target, rename when complete."""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import UsageError


def check_output(path: Path, force: bool, inputs: list[Path] = ()) -> None:
    """Refuse to overwrite an input ever, or an existing file without --force."""
    for src in inputs:
        with contextlib.suppress(OSError):
            if path.exists() and os.path.samefile(src, path):
                raise UsageError(f"{path}: refusing to overwrite the input file")
    if path.is_dir():
        raise UsageError(f"{path}: is a directory")
    if path.exists() and not force:
        raise UsageError(f"{path}: already exists (use --force to overwrite)")
    if not path.parent.exists():
        raise UsageError(f"{path.parent}: output directory does not exist")


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path in the target's directory; rename onto `path` on success.

    On any exception, including KeyboardInterrupt, the temporary file is removed, so no
    half-written output is ever left behind.
    """
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as e:
        raise UsageError(f"{path}: cannot write ({e.strerror})") from None
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)   # mkstemp makes 0600; outputs get normal permissions
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise UsageError(f"{path}: cannot write ({e.strerror})") from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise


def write_bytes_atomic(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
