"""A cache of one vector per image, keyed by the image's digest, in one ``.npz`` file.

What costs a network call per image (a backbone's embedding) is measured once per image
bytes: a data set that grows, a second stack or a cross-validation reuse every vector already
measured, and identical images under two ids are measured once. The file is replaced
atomically, so a crash leaves the previous one; a file that cannot be read is measured again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("mediumnet")


class VectorCache:
    """Vectors by image digest (sha256), kept in ``path``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def load(self) -> dict[str, np.ndarray]:
        """Return every cached vector (empty when there is no readable cache)."""
        if not self.path.is_file():
            return {}
        try:
            with np.load(self.path, allow_pickle=False) as data:
                return dict(zip(data["digests"].tolist(), data["vectors"], strict=True))
        except (OSError, ValueError, KeyError) as exc:
            log.warning("the cache %s cannot be read (%s): measuring again", self.path,
                        type(exc).__name__)
            return {}

    def save(self, vectors: Mapping[str, np.ndarray]) -> None:
        """Write ``vectors`` (replacing the file atomically)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        digests = sorted(vectors)
        part = self.path.with_name(f".{self.path.stem}.{os.getpid()}.part.npz")
        np.savez(part, digests=np.array(digests, dtype=str),
                 vectors=np.stack([vectors[d] for d in digests]).astype(np.float32))
        part.replace(self.path)

    def measure(self, sources: Mapping[str, Any], compute: Callable[[Any], np.ndarray], *,
                progress: bool = True, desc: str = "measuring") -> dict[str, np.ndarray]:
        """Return the vector of each digest of ``sources``, computing only the missing ones.

        Parameters
        ----------
        sources : mapping
            Digest → what ``compute`` takes (an image path).
        compute : callable
            One source in, one vector out; an ``OSError`` or ``ValueError`` (an image that
            cannot be read) leaves that digest out, with a warning.
        progress : bool
            Show a progress bar on a terminal.
        desc : str
            The progress bar's label.
        """
        from tqdm.auto import tqdm

        known = self.load()
        todo = [d for d in sources if d not in known]
        failed = 0
        for digest in tqdm(todo, desc=desc, unit="img", leave=False,
                           disable=None if progress else True):
            try:
                known[digest] = np.asarray(compute(sources[digest]), np.float32)
            except (OSError, ValueError) as exc:
                failed += 1
                log.warning("%s: %s", sources[digest], exc)
        if todo and len(todo) > failed:
            self.save(known)
        return {d: known[d] for d in sources if d in known}
