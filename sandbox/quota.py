"""A cap on what one command may add to the session's repo, in total.

The per-file limit (RLIMIT_FSIZE) stops one huge file, not many large ones, and the
repo is a host folder mounted read-write, so its disk is the host's. ``RepoQuota``
takes a snapshot of the repo before a command, measures it again while the command
runs (more rarely when measuring is slow), and reports when the command has added more
bytes (allocated blocks, so sparse files count for what they use) or more files than
allowed (checked once more when it ends); the runner then kills the command if it
still runs and ``remove_new`` deletes the files the command created. Files that
existed before are never touched. ``CountedQuota`` applies the same caps to a repo that
is not on this host (a remote engine's container), measured by a callable.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

MIN_INTERVAL_S = 0.25
"""Shortest pause between two measurements of the repo."""
SLOWDOWN = 20.0
"""Measuring may take at most 1/SLOWDOWN of the time between measurements."""


@dataclass(frozen=True)
class Usage:
    """Allocated bytes and regular files of a tree, and the files' identities."""

    bytes: int
    files: frozenset[tuple[int, int, str]]
    """(device, inode, path) of each regular file."""


def measure(root: Path) -> Usage:
    """Walk ``root`` without following links; unreadable folders are skipped."""
    total = 0
    files: set[tuple[int, int, str]] = set()
    stack = [str(root)]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            total += info.st_blocks * 512
            if stat.S_ISDIR(info.st_mode):
                stack.append(entry.path)
            elif stat.S_ISREG(info.st_mode):
                files.add((info.st_dev, info.st_ino, entry.path))
    return Usage(total, frozenset(files))


class RepoQuota:
    """How much one command may add to ``root``: ``max_bytes`` and ``max_files``."""

    def __init__(self, root: Path, max_bytes: int, max_files: int) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.max_files = max_files
        started = time.monotonic()
        self.before = measure(root)
        self.interval = max(MIN_INTERVAL_S, SLOWDOWN * (time.monotonic() - started))

    def exceeded(self) -> str | None:
        """Why the command went over its quota, or ``None`` while it has not."""
        started = time.monotonic()
        now = measure(self.root)
        self.interval = max(MIN_INTERVAL_S, SLOWDOWN * (time.monotonic() - started))
        added = now.bytes - self.before.bytes
        if added > self.max_bytes:
            return f"over the repo quota: wrote more than {self.max_bytes} bytes (deleted)"
        new_files = len(now.files - self.before.files)
        if new_files > self.max_files:
            return f"over the repo quota: created more than {self.max_files} files (deleted)"
        return None

    def remove_new(self) -> int:
        """Delete the regular files created since the snapshot; how many were deleted."""
        removed = 0
        for _, _, path in measure(self.root).files - self.before.files:
            with contextlib.suppress(OSError):
                os.unlink(path)
                removed += 1
        return removed


class CountedQuota:
    """The caps of ``RepoQuota`` over ``measure()`` = (allocated bytes, regular files) of a
    repo elsewhere; a measurement that fails (``None``) counts as no growth."""

    def __init__(
        self, measure: Callable[[], tuple[int, int] | None], max_bytes: int, max_files: int
    ) -> None:
        self.measure = measure
        self.max_bytes = max_bytes
        self.max_files = max_files
        started = time.monotonic()
        self.before = measure() or (0, 0)
        self.interval = max(MIN_INTERVAL_S, SLOWDOWN * (time.monotonic() - started))

    def exceeded(self) -> str | None:
        """Why the command went over its quota, or ``None`` while it has not."""
        started = time.monotonic()
        now = self.measure()
        self.interval = max(MIN_INTERVAL_S, SLOWDOWN * (time.monotonic() - started))
        if now is None:
            return None
        if now[0] - self.before[0] > self.max_bytes:
            return f"over the repo quota: wrote more than {self.max_bytes} bytes (deleted)"
        if now[1] - self.before[1] > self.max_files:
            return f"over the repo quota: created more than {self.max_files} files (deleted)"
        return None


class Quota(Protocol):
    """What ``supervise`` checks: a measurement interval and the reason once over."""

    interval: float

    def exceeded(self) -> str | None: ...


def supervise(wait: Callable[[float], bool], timeout_s: float, quota: Quota) -> str | None:
    """Wait for a command (``wait(seconds)`` is true once it has ended) for up to
    ``timeout_s``, checking ``quota`` between waits and once more when it ends. Returns
    the quota's reason when the command went over it (the caller kills it if it still
    runs, then calls ``remove_new``), otherwise ``None`` (it ended, or ran out of time:
    the caller tells which)."""
    deadline = time.monotonic() + timeout_s
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        if wait(min(quota.interval, remaining)):
            return quota.exceeded()
        reason = quota.exceeded()
        if reason is not None:
            return reason
