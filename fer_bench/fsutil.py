"""Write files so that a crash, a kill or a full disk never leaves a half-written one in place.

The one home of "write to a temporary name beside the target, flush to disk, rename over the target": a
reader sees either the old complete file or the new complete one. Used for run files, checkpoints, model
exports, the decode cache and build-btfer's outputs.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


def fsync_path(path: Path) -> None:
    """Flush a written file to disk; a failure (EIO, a full disk surfacing late) raises OSError.

    A folder is flushed too where the file system allows it (its failure is ignored: the rename is still atomic).
    """
    is_dir = os.path.isdir(path)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        if is_dir:
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not is_dir:
            raise
    finally:
        os.close(fd)


def temp_path(dest: Path, suffix: str = "") -> Path:
    """A hidden temporary name beside *dest* (same folder, so the final rename is atomic), unique per process.

    *suffix* keeps an extension a writer needs (Keras' ``model.save`` insists on ``.keras``).
    """
    dest = Path(dest)
    return dest.with_name(f".{dest.name}.tmp-{os.getpid()}{suffix}")


@contextlib.contextmanager
def atomic_path(dest: Path, suffix: str = "", *, fsync: bool = True) -> Iterator[Path]:
    """Yield a temporary path to write; on success it is flushed and renamed onto *dest*, on failure removed.

    For writers that want a path rather than bytes (``model.save``, ``np.save``, ``cv2.imwrite``).
    """
    dest = Path(dest)
    tmp = temp_path(dest, suffix)
    try:
        yield tmp
        if fsync:
            fsync_path(tmp)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write(dest: Path, data: bytes | str, *, encoding: str = "utf-8", fsync: bool = True) -> Path:
    """Write *data* (bytes, or text in *encoding*) to *dest* atomically; returns *dest*."""
    payload = data.encode(encoding) if isinstance(data, str) else data
    with atomic_path(dest, fsync=fsync) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(payload)
    return Path(dest)
