"""The repo's trip to a remote engine's container and back (no bind mount there).

``pack_tree`` makes the tar that goes in: the folders and regular files of a host folder
(never its links, devices or top-level ``.git``), owned by one uid. ``copy_back`` applies
the tar that comes back (``get_archive``), which the sandboxed command could have shaped,
so it is read as untrusted data: streamed with a byte bound, only folders and regular
files taken (links, hard links, devices and FIFOs are refused), every name checked to stay
inside the repo (no absolute names, no ``..``, never ``.git``), extracted first into a
fresh staging folder and only then moved into the repo, where no link on the way is ever
followed. The repo quota (``sandbox.max_repo_growth`` / ``max_repo_files``) applies as for
a bind mount, counted in the files' sizes: over it, the files the command created are not
copied back (for a bind mount they are deleted), the changes to files that existed are.
"""

from __future__ import annotations

import contextlib
import filecmp
import io
import os
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

SPOOL_BYTES = 32 << 20
"""Bytes of an outgoing tar kept in memory before it spills to a temporary file."""
ENTRY_OVERHEAD = 2048
"""Tar bytes allowed per entry on top of its contents (headers, long names, padding)."""
SLACK_BYTES = 8 << 20
MAX_DEPTH = 64
MAX_NAME = 4096
COPY_CHUNK = 1 << 20


def pack_tree(root: Path, uid: int, *, skip: tuple[str, ...] = (".git",)) -> IO[bytes]:
    """A tar (rewound, spooled to disk past :data:`SPOOL_BYTES`) of the folders and regular
    files under ``root``, owned by ``uid``, without links and without the top-level names
    in ``skip``; file modes are 0644 or 0755, folders 0755."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
    with tarfile.open(fileobj=spool, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for folder, dirs, files in os.walk(root):
            relative = Path(folder).relative_to(root)
            kept = []
            for name in sorted(dirs):
                if relative == Path(".") and name in skip:
                    continue
                if stat.S_ISDIR(os.lstat(os.path.join(folder, name)).st_mode):
                    kept.append(name)
                    tar.addfile(_info((relative / name).as_posix(), tarfile.DIRTYPE, 0o755, uid))
            dirs[:] = kept
            for name in sorted(files):
                if relative == Path(".") and name in skip:
                    continue
                _add_file(tar, Path(folder) / name, (relative / name).as_posix(), uid)
    spool.seek(0)
    return spool


def _info(name: str, kind: bytes, mode: int, uid: int, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size = kind, mode, size
    info.uid = info.gid = uid
    return info


def _add_file(tar: tarfile.TarFile, path: Path, name: str, uid: int) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            return
        mode = 0o755 if info.st_mode & 0o111 else 0o644
        tar.addfile(_info(name, tarfile.REGTYPE, mode, uid, info.st_size), handle)


@dataclass
class CopyBack:
    """What applying a copied-back repo did."""

    reason: str | None = None
    """Why (part of) it was not copied back: over the quota, too large, not a tar."""
    written: int = 0
    deleted: int = 0
    refused: list[str] = field(default_factory=list)
    """Entries not taken (links, devices, names outside the repo, ``.git``)."""


class _TooLarge(Exception):
    pass


class _Bounded(io.RawIOBase):
    """A readable stream over ``chunks`` that raises ``_TooLarge`` past ``limit`` bytes."""

    def __init__(self, chunks: Iterable[bytes], limit: int) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._pending = b""
        self._limit = limit
        self.total = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self.total += len(chunk)
            if self.total > self._limit:
                raise _TooLarge
            self._pending = chunk
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def snapshot(repo_dir: Path) -> dict[str, int]:
    """Relative path → size of every non-folder entry of the repo outside ``.git`` (links
    and special files too, never followed)."""
    found: dict[str, int] = {}
    for folder, dirs, files in os.walk(repo_dir):
        if Path(folder) == repo_dir:
            dirs[:] = [d for d in dirs if d != ".git"]
        for name in [*dirs, *files]:
            path = os.path.join(folder, name)
            info = os.lstat(path)
            if not stat.S_ISDIR(info.st_mode):
                found[os.path.relpath(path, repo_dir)] = info.st_size
    return found


def copy_back(
    chunks: Iterable[bytes],
    repo_dir: Path,
    *,
    top: str,
    max_bytes: int,
    max_files: int,
    over_quota: str | None = None,
) -> CopyBack:
    """Apply the tar in ``chunks`` (entries under ``top/``, as ``get_archive`` of the
    container's repo folder names them) to ``repo_dir``: files written, changed, deleted
    and folders made or removed so that the repo matches it, outside ``.git``. With
    ``over_quota`` (the command already went over it) new files are left out as well."""
    before = snapshot(repo_dir)
    limit = sum(before.values()) + max_bytes + ENTRY_OVERHEAD * (len(before) + max_files)
    stage = Path(tempfile.mkdtemp(prefix=".p2r-copy-back-", dir=repo_dir.parent))
    result = CopyBack()
    try:
        try:
            files, folders = _extract(_Bounded(chunks, limit + SLACK_BYTES), stage, top, result)
        except _TooLarge:
            result.reason = (
                f"over the repo quota: the repo copied back was larger than {limit} bytes "
                "(nothing copied back)"
            )
            return result
        except (tarfile.TarError, OSError, EOFError) as exc:
            result.reason = f"the repo copied back is not a valid tar ({exc}); nothing copied back"
            return result
        added = sum(files.values()) - sum(before.values())
        created = [name for name in files if name not in before]
        result.reason = over_quota
        if added > max_bytes:
            result.reason = f"over the repo quota: wrote more than {max_bytes} bytes (deleted)"
        elif len(created) > max_files:
            result.reason = f"over the repo quota: created more than {max_files} files (deleted)"
        for name in sorted(files):
            if result.reason is not None and name not in before:
                continue
            if _install(stage / name, repo_dir, PurePosixPath(name).parts):
                result.written += 1
        for name in sorted(set(before) - set(files)):
            with contextlib.suppress(OSError):
                os.unlink(repo_dir / name)
                result.deleted += 1
        _sync_folders(repo_dir, folders)
        return result
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _extract(
    stream: _Bounded, stage: Path, top: str, result: CopyBack
) -> tuple[dict[str, int], set[str]]:
    """Regular files (relative name → size) and folders of the tar, written under
    ``stage``; every other entry is refused."""
    files: dict[str, int] = {}
    folders: set[str] = set()
    with tarfile.open(fileobj=io.BufferedReader(stream, COPY_CHUNK), mode="r|") as tar:
        for member in tar:
            parts = _parts(member.name, top)
            if parts is None:
                result.refused.append(f"{member.name[:200]} (outside the repo)")
                continue
            if not parts:
                continue
            name = "/".join(parts)
            if parts[0] == ".git":
                result.refused.append(f"{name[:200]} (.git is never copied back)")
            elif member.isdir():
                if _stage_folder(stage, parts):
                    folders.add(name)
                else:
                    result.refused.append(f"{name[:200]} (clashes with a file)")
            elif member.isreg():
                source = tar.extractfile(member)
                if source is None or not _stage_file(stage, parts, source, member):
                    result.refused.append(f"{name[:200]} (clashes with a folder)")
                else:
                    files[name] = member.size
                    folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
            else:
                result.refused.append(f"{name[:200]} (not a regular file or folder)")
    return files, folders


def _parts(name: str, top: str) -> tuple[str, ...] | None:
    """The repo-relative parts of a tar entry name, ``None`` when it leaves ``top/``."""
    if len(name) > MAX_NAME or "\x00" in name or "\\" in name or name.startswith("/"):
        return None
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if not parts or parts[0] != top or len(parts) > MAX_DEPTH:
        return None
    inner = parts[1:]
    return None if ".." in inner else inner


def _stage_folder(stage: Path, parts: tuple[str, ...]) -> bool:
    path = stage.joinpath(*parts)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return path.is_dir() and not path.is_symlink()


def _stage_file(
    stage: Path, parts: tuple[str, ...], source: IO[bytes], member: tarfile.TarInfo
) -> bool:
    if len(parts) > 1 and not _stage_folder(stage, parts[:-1]):
        return False
    path = stage.joinpath(*parts)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    except OSError:
        return False
    with os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(source, out, COPY_CHUNK)
        os.fchmod(out.fileno(), 0o755 if member.mode & 0o111 else 0o644)
    return True


def _install(source: Path, repo_dir: Path, parts: tuple[str, ...]) -> bool:
    """Move ``source`` to ``repo_dir/parts`` unless it is already there; on the way, a
    link or file where a folder belongs is replaced (never followed)."""
    folder = repo_dir
    for part in parts[:-1]:
        folder = folder / part
        _make_folder(folder)
    target = folder / parts[-1]
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        info = None
    if info is not None and stat.S_ISDIR(info.st_mode):
        shutil.rmtree(target)
    elif info is not None and stat.S_ISREG(info.st_mode):
        same_mode = stat.S_IMODE(info.st_mode) & 0o111 == source.stat().st_mode & 0o111
        if same_mode and filecmp.cmp(source, target, shallow=False):
            return False
    os.replace(source, target)
    return True


def _make_folder(path: Path) -> None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        path.mkdir()
        return
    if not stat.S_ISDIR(info.st_mode):
        os.unlink(path)
        path.mkdir()


def _sync_folders(repo_dir: Path, folders: set[str]) -> None:
    """Make the folders the copy has and remove (when empty) the ones it has not."""
    for name in sorted(folders):
        path = repo_dir
        for part in PurePosixPath(name).parts:
            path = path / part
            _make_folder(path)
    present: list[str] = []
    for folder, dirs, _files in os.walk(repo_dir):
        if Path(folder) == repo_dir:
            dirs[:] = [d for d in dirs if d != ".git"]
        present += [os.path.relpath(os.path.join(folder, d), repo_dir) for d in dirs]
    for name in reversed(present):
        if Path(name).as_posix() not in folders:
            with contextlib.suppress(OSError):
                os.rmdir(repo_dir / name)
