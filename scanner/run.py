"""Running a scan: collect the paths, scan them (in parallel worker processes, or in this
process), stream each record as it finishes, and resume an interrupted scan.

The journal is a JSONL file with one ``"record": "file"`` line per path, written and fsynced
as each file finishes, so ``kill -9`` loses at most the files in flight. ``--resume`` reads
it back (a torn last line is cut off), skips every path already there with the same content
hash (a file whose content changed since is scanned again, its new record superseding the old
one), and for a new path whose content was already scanned under another name writes a
``duplicate_of`` record instead of scanning it again (key: the content hash).
"""

from __future__ import annotations

import fnmatch
import json
import logging
import os
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from scanner.worker import ScanOptions, Worker, model_ids, new_record

log = logging.getLogger(__name__)


# ------------------------------------------------------------------ collecting paths


def collect(
    targets: Iterable[str],
    include: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    stdin: TextIO | None = None,
) -> list[Path]:
    """Files named, files under folders (recursive, sorted), and paths read from ``-``.

    ``include``/``exclude`` are glob patterns matched against the path relative to its folder
    and against the file name; files named directly are always kept. Returns the paths, each
    once, in order (a missing one stays: scanning it gives its error record, and so does a
    folder that cannot be listed, rather than its files being left out unseen; a link to a folder
    is not followed but stays, so that its record says so).
    """
    out: list[Path] = []
    seen: set[str] = set()

    def add(p: Path) -> None:
        key = os.path.normpath(str(p))
        if key not in seen:
            seen.add(key)
            out.append(p)

    def wanted(rel: str) -> bool:
        name = rel.rsplit("/", 1)[-1]
        if include and not any(fnmatch.fnmatch(rel, g) or fnmatch.fnmatch(name, g) for g in include):
            return False
        return not any(fnmatch.fnmatch(rel, g) or fnmatch.fnmatch(name, g) for g in exclude)

    for target in targets:
        if target == "-":
            for name in stdin_paths(stdin if stdin is not None else sys.stdin):
                add(Path(name))
            continue
        p = Path(target)
        if p.is_dir():
            for root, dirs, files in os.walk(p, onerror=lambda err: add(Path(err.filename))):
                dirs.sort()
                for name in dirs:  # links to folders are not followed (loops, other trees) but listed
                    d = Path(root) / name
                    if d.is_symlink() and wanted(d.relative_to(p).as_posix()):
                        add(d)
                for name in sorted(files):
                    f = Path(root) / name
                    if wanted(f.relative_to(p).as_posix()):
                        add(f)
        else:
            add(p)  # a missing file becomes an error record when scanned
    return out


def stdin_paths(source: TextIO) -> list[str]:
    """The paths listed on ``source``: one a line (a Windows line end is taken off, blank lines
    are passed over) or, when the text holds a NUL, NUL-separated as ``find -print0`` and
    ``xargs -0`` write them, so that a name may hold any character but NUL, even a line break."""
    text = source.read()
    if "\0" in text:
        return [name for name in text.split("\0") if name]
    lines = (line[:-1] if line.endswith("\r") else line for line in text.split("\n"))
    return [line for line in lines if line.strip()]


# ------------------------------------------------------------------ journal and resume


def read_journal(path: Path) -> list[dict[str, Any]]:
    """The complete file records of a JSONL journal, the last one per path; a torn last line
    is cut off the file."""
    if not path.exists():
        return []
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        log.warning("%s: cutting off an incomplete last line (%d bytes)", path, len(data) - end)
        with path.open("r+b") as fh:
            fh.truncate(end)
    records = []
    for n, line in enumerate(data[:end].splitlines(), 1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except json.JSONDecodeError:
            log.warning("%s:%d: not JSON, ignored", path, n)
            continue
        if isinstance(doc, dict) and doc.get("record") == "file" and isinstance(doc.get("path"), str):
            records.append(doc)
    return list({r["path"]: r for r in records}.values())


class Journal:
    """Appends records to a JSONL file (or a stream), one fsynced line each."""

    def __init__(self, path: Path | None, stream: TextIO | None = None, append: bool = False) -> None:
        self.path = path
        if path is not None:
            self._fh: TextIO | None = path.open("a" if append else "w", encoding="utf-8")
        else:
            self._fh = None
        self._stream = stream

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        if self._fh is not None:
            self._fh.write(line)
            self._fh.flush()
            os.fsync(self._fh.fileno())
        if self._stream is not None:
            self._stream.write(line)
            self._stream.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()


# ------------------------------------------------------------------ the run


@dataclass
class Outcome:
    records: list[dict[str, Any]] = field(default_factory=list)  # every record, resumed ones included
    resumed: int = 0
    scanned: int = 0
    duplicates: int = 0
    model_ids: list[dict[str, str]] = field(default_factory=list)


_WORKER: Worker | None = None


def _init_worker(options: ScanOptions, known: frozenset[str] = frozenset()) -> None:
    global _WORKER
    logging.basicConfig(level=logging.WARNING)
    _WORKER = Worker(options)
    _WORKER.known_hashes = known


def _scan_in_worker(path: str) -> dict[str, Any]:
    assert _WORKER is not None
    return _WORKER.scan(Path(path))


def _duplicate(record_of_first: dict[str, Any], path: Path) -> dict[str, Any]:
    dup = {k: v for k, v in record_of_first.items() if k not in ("path", "seconds")}
    return {"record": "file", "path": str(path), **dup, "duplicate_of": record_of_first["path"]}


def run_scan(
    paths: list[Path],
    options: ScanOptions,
    *,
    workers: int = 1,
    journal: Journal | None = None,
    previous: list[dict[str, Any]] | None = None,
    on_record: Callable[[dict[str, Any]], None] | None = None,
    keep_records: bool = True,
) -> Outcome:
    """Scan ``paths`` (skipping those in ``previous``), writing each record to ``journal`` as it
    finishes. Records come back in input order for the report; the journal has them in the
    order they finished."""
    out = Outcome()
    done_by_path = {r["path"]: r for r in previous or []}
    by_hash: dict[str, dict[str, Any]] = {}
    for r in previous or []:
        if r.get("sha256") and not r.get("duplicate_of"):
            by_hash.setdefault(r["sha256"], r)
    changed = {str(p) for p in paths if str(p) in done_by_path and _changed(p, done_by_path[str(p)])}
    todo = [p for p in paths if str(p) not in done_by_path or str(p) in changed]
    for key in changed:  # scanned again: the new record supersedes the journal's old one
        del done_by_path[key]
    out.resumed = len(paths) - len(todo)
    results: dict[str, dict[str, Any]] = {
        str(p): done_by_path[str(p)] for p in paths if str(p) in done_by_path
    }

    def deliver(record: dict[str, Any]) -> None:
        sha = record.get("sha256")
        if (
            sha
            and sha in by_hash
            and by_hash[sha]["path"] != record["path"]
            and not record.get("duplicate_of")
        ):
            record = _duplicate(by_hash[sha], Path(record["path"]))
        elif sha and record.get("status") != "error":
            by_hash.setdefault(sha, record)
        if record.get("duplicate_of"):
            out.duplicates += 1
        if journal is not None:
            journal.write(record)
        if on_record is not None:
            on_record(record)
        out.scanned += 1
        results[record["path"]] = record if keep_records else _summary(record)

    out.model_ids = model_ids(options.steps)
    if workers <= 1:
        worker = Worker(options)
        worker.known_hashes = by_hash  # live: duplicates found in this run are not analysed again
        for p in todo:
            deliver(worker.scan(p))
    else:
        # workers stop early on content the journal already has; duplicates within this run
        # are analysed in parallel and turned into duplicate records on delivery
        _parallel(todo, options, workers, frozenset(by_hash), deliver)
    out.records = [results[str(p)] for p in paths if str(p) in results]
    return out


def _changed(path: Path, record: dict[str, Any]) -> bool:
    """Whether a file recorded in the journal has different content now (its key is the hash)."""
    from detectors.weights import sha256_file

    if not record.get("sha256"):
        return False  # recorded as unreadable: finished, not retried
    try:
        return sha256_file(path) != record["sha256"]
    except OSError:
        return False


def _summary(record: dict[str, Any]) -> dict[str, Any]:
    """What the end-of-scan summary and exit code need, when full records are not kept."""
    risk = record.get("risk")
    return {
        "record": "file",
        "path": record["path"],
        "sha256": record.get("sha256"),
        "status": record.get("status"),
        "risk": None
        if not risk
        else {"level": risk["level"], "action": risk["action"], "use": risk["use"], "reasons": []},
        "errors": record.get("errors", []),
    }


def _parallel(
    todo: list[Path],
    options: ScanOptions,
    workers: int,
    known: frozenset[str],
    deliver: Callable[[dict[str, Any]], None],
) -> None:
    """Scan in ``workers`` processes (spawned, so no model state is forked), at most two files
    in flight per worker. A worker that dies breaks its pool: the files in flight are retried
    one at a time, each in a fresh process (a file that kills it again becomes an error
    record), and the rest of the queue goes on in a new pool."""
    import multiprocessing as mp
    from collections import deque
    from dataclasses import replace

    per_worker = replace(options, torch_threads=max(1, (os.cpu_count() or 1) // workers))
    ctx = mp.get_context("spawn")
    queue = deque(todo)
    while queue:
        crashed: list[Path] = []
        pending: dict[Future[dict[str, Any]], Path] = {}
        with ProcessPoolExecutor(
            workers, mp_context=ctx, initializer=_init_worker, initargs=(per_worker, known)
        ) as pool:
            while queue or pending:
                while queue and len(pending) < 2 * workers:
                    nxt = queue.popleft()
                    pending[pool.submit(_scan_in_worker, str(nxt))] = nxt
                if not pending:
                    continue
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    path = pending.pop(fut)
                    try:
                        deliver(fut.result())
                    except BrokenProcessPool:
                        crashed.append(path)
                if crashed:
                    crashed += pending.values()
                    break
        for p in crashed:
            _retry_alone(p, per_worker, ctx, deliver)


def _retry_alone(
    path: Path, options: ScanOptions, ctx: Any, deliver: Callable[[dict[str, Any]], None]
) -> None:
    with ProcessPoolExecutor(1, mp_context=ctx, initializer=_init_worker, initargs=(options,)) as pool:
        try:
            deliver(pool.submit(_scan_in_worker, str(path)).result())
        except BrokenProcessPool:
            deliver(_crash_record(path))


def _crash_record(path: Path) -> dict[str, Any]:
    record = new_record(path)
    record["status"] = "error"
    record["errors"].append(
        {
            "code": "worker-crashed",
            "message": "the worker process died while scanning this file",
            "path": str(path),
            "step": "scan",
        }
    )
    return record
