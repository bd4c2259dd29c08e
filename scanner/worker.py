"""Scan one file: provenance, face, voice, likeness and risk, each step isolated.

A ``Worker`` lives in one process and loads each model once, the first time a file needs it.
``scan(path)`` never raises for a bad file: a step that fails adds an entry to the record's
``errors`` and the other steps still run; a file that cannot be read at all is a record with
``status: "error"``. A per-file time limit (SIGALRM, in the process's main thread) turns a
file that takes too long into an error record instead of a stuck scan.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from veracity.errors import VeracityError

log = logging.getLogger(__name__)

STEPS = ("provenance", "face", "voice", "likeness")


class ScanTimeout(Exception):
    pass


@dataclass(frozen=True)
class ScanOptions:
    use: str = "news"
    licensee: str = ""
    steps: tuple[str, ...] = STEPS
    operating_point: str = "0.05"
    fps: float = 2.0
    max_frames: int = 60
    max_audio_s: float = 3600.0
    timeout_s: float = 600.0
    evidence_dir: Path | None = None
    registry: Path | None = None  # None: the default registry if it exists
    policy: Path | None = None
    trust_anchors: tuple[Path, ...] = ()
    allowed_signers: tuple[Path, ...] = ()
    config: Path | None = None
    torch_threads: int | None = None
    audit: bool = True
    environ: dict[str, str] = field(default_factory=dict)  # for the policy and registry lookups


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise ScanTimeout in this thread after ``seconds`` (main thread only; else no limit)."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def _alarm(signum: int, frame: object) -> None:
        raise ScanTimeout()

    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _error(step: str, exc: BaseException, path: Path) -> dict[str, Any]:
    if isinstance(exc, VeracityError):
        d = exc.as_dict()
    else:
        d = {"code": "internal-error", "message": f"{type(exc).__name__}: {exc}"}
    d["path"] = str(path)
    d["step"] = step
    return d


def new_record(path: Path) -> dict[str, Any]:
    """A scan record before any step has run."""
    return {
        "record": "file",
        "path": str(path),
        "sha256": None,
        "size": None,
        "media": "unknown",
        "status": "ok",
        "risk": None,
        "provenance": None,
        "face": None,
        "voice": None,
        "likeness": None,
        "notes": [],
        "errors": [],
    }


def model_ids(steps: tuple[str, ...]) -> list[dict[str, str]]:
    """The weights a scan with these steps uses (name, task, sha256), as its report records."""
    from detectors.weights import HELPER_TASKS, find_weights, helper_folders, weights_dir

    out = []
    for task, step in (
        ("face-forgery", "face"),
        ("voice-forgery", "voice"),
        *((helper, "voice") for helper in HELPER_TASKS),
    ):
        if step not in steps:
            continue
        # the voice detector's helpers are looked for where the detector looks for them
        folders = helper_folders() if task in HELPER_TASKS else (weights_dir(),)
        for folder in folders:
            try:
                info = find_weights(task, folder=folder)
            except VeracityError:
                continue
            out.append({"name": info.name, "task": task, "sha256": info.sha256})
            break
    return out


class Worker:
    """Models and settings for one process; ``scan`` analyses one file."""

    def __init__(self, options: ScanOptions) -> None:
        from risk.policy import load_policy

        self.options = options
        self.policy = load_policy(options.policy, options.environ or None)
        self.policy = _with_overrides(self.policy, options)
        self._face: Any = None
        self._voice: Any = None
        self._likeness: Any = None
        self._likeness_note: str | None = None
        self._verify_options: Any = None
        # content hashes already reported: such a file stops after hashing (the caller writes
        # its duplicate record)
        self.known_hashes: Collection[str] = frozenset()
        if options.torch_threads:
            import torch

            torch.set_num_threads(options.torch_threads)

    # ------------------------------------------------------------ lazy models

    def verify_options(self) -> Any:
        if self._verify_options is None:
            from provenance.trust import load_trust
            from provenance.verify import VerifyOptions

            o = self.options
            trust = load_trust(o.trust_anchors, o.allowed_signers, config=o.config, environ=o.environ or None)
            self._verify_options = VerifyOptions(trust=trust)
        return self._verify_options

    def face(self) -> Any:
        if self._face is None:
            from detectors.face import FaceAnalyzer, FaceOptions
            from detectors.face_classifier import FaceClassifier

            o = self.options
            opts = FaceOptions(
                fps=o.fps,
                max_frames=o.max_frames,
                operating_point=o.operating_point,
                evidence_dir=o.evidence_dir,
            )
            self._face = FaceAnalyzer(FaceClassifier.default(), options=opts)
        return self._face

    def voice(self) -> Any:
        if self._voice is None:
            from detectors.voice import VoiceAnalyzer, VoiceClassifier, VoiceOptions

            o = self.options
            opts = VoiceOptions(
                operating_point=o.operating_point, max_seconds=o.max_audio_s, evidence_dir=o.evidence_dir
            )
            self._voice = VoiceAnalyzer(VoiceClassifier.default(), opts)
        return self._voice

    def likeness(self) -> Any:
        """The matcher, or None (with a note) when no registry is configured or it is empty."""
        if self._likeness is None and self._likeness_note is None:
            from likeness.matcher import Matcher
            from likeness.scan import LikenessMatcher, MatchOptions
            from likeness.store import Registry, default_path

            o = self.options
            path = o.registry or default_path(o.environ or None)
            if o.registry is None and not path.exists():
                self._likeness_note = "no registry: likeness matching skipped"
                return None
            reg = Registry(path, create=False)
            matcher = Matcher(reg)
            if not matcher.size("face") and not matcher.size("voice"):
                self._likeness_note = "the registry is empty: likeness matching skipped"
                return None
            self._likeness = LikenessMatcher(
                matcher,
                MatchOptions(fps=o.fps, max_frames=o.max_frames, max_audio_s=o.max_audio_s, audit=o.audit),
            )
        return self._likeness

    # ------------------------------------------------------------ one file

    def scan(self, path: Path) -> dict[str, Any]:
        t0 = time.perf_counter()
        record = new_record(path)
        try:
            with time_limit(self.options.timeout_s):
                self._scan(path, record)
        except ScanTimeout:
            record["errors"].append(
                {
                    "code": "timeout",
                    "message": f"stopped after the {self.options.timeout_s:g} s time limit",
                    "path": str(path),
                    "step": "scan",
                }
            )
            record["status"] = "error"
        except Exception as exc:
            log.exception("scan of %s failed", path)
            record["errors"].append(_error("scan", exc, path))
            record["status"] = "error"
        record["seconds"] = round(time.perf_counter() - t0, 3)
        return record

    def _scan(self, path: Path, record: dict[str, Any]) -> None:
        from detectors.sniff import check_file
        from detectors.weights import sha256_file
        from risk.assess import assess
        from risk.signals import from_record

        if path.is_symlink() and path.is_dir():  # only a folder walk passes one: not followed
            record["notes"].append("skipped: a link to a folder, not followed (name its target to scan it)")
            record["status"] = "skipped"
            return
        try:
            check = check_file(path)
            record["sha256"] = sha256_file(path)
        except (VeracityError, OSError) as exc:
            record["errors"].append(_error("read", exc, path))
            record["status"] = "error"
            return
        if record["sha256"] in self.known_hashes:
            return
        media = check.media.family
        record["media"] = media
        record["size"] = check.size
        if media not in ("image", "video", "audio"):
            # not media (a sidecar manifest, a document, a key file): accounted for, not an error
            record["notes"].append(f"skipped: not an image, video or audio file ({check.media.label})")
            record["status"] = "skipped"
            return
        steps = self.options.steps
        if "provenance" in steps:
            self._step(record, "provenance", path, lambda: self._provenance(path))
        if "face" in steps and media in ("image", "video"):
            self._step(record, "face", path, lambda: self.face().analyze(path).as_dict())
        if "voice" in steps and media in ("audio", "video"):
            self._step(record, "voice", path, lambda: self.voice().analyze(path).as_dict())
        if "likeness" in steps:
            self._step(record, "likeness", path, lambda: self._match(path, record["sha256"]))
            if self._likeness_note:
                record["notes"].append(self._likeness_note)
        judged = [record[k] for k in ("face", "voice") if record[k] is not None]
        if judged and all(d.get("verdict") == "abstained" for d in judged) and not record["likeness"]:
            record["status"] = "abstained"
        if any(d.get("verdict") == "error" for d in judged):
            for d in judged:
                if d.get("verdict") == "error" and d.get("error"):
                    record["errors"].append(
                        {**d["error"], "step": "face" if d is record["face"] else "voice"}
                    )
        if record["errors"]:
            record["status"] = "error"  # part of the analysis failed: the exit code says so
        record["risk"] = assess(from_record(record), self.policy).as_dict()

    def _step(self, record: dict[str, Any], step: str, path: Path, fn: Any) -> None:
        try:
            record[step] = fn()
        except ScanTimeout:
            raise
        except Exception as exc:
            if isinstance(exc, VeracityError) and exc.code == "weights-integrity":
                raise
            log.debug("step %s failed on %s", step, path, exc_info=True)
            record["errors"].append(_error(step, exc, path))

    def _provenance(self, path: Path) -> dict[str, Any]:
        from provenance.verify import verify_file

        return verify_file(path, self.verify_options()).as_dict()

    def _match(self, path: Path, record_sha: str) -> dict[str, Any] | None:
        lm = self.likeness()
        if lm is None:
            return None
        result = lm.match(path, sha256=record_sha)
        doc = result.as_dict()
        if result.error:
            raise _StepError(result.error)
        use = self.policy.use.replace("-", "_")
        for key, modality in (("faces", "face"), ("voices", "voice")):
            subjects = [s for s in result.subjects if s.modality == modality]
            for sdoc, subject in zip(doc[key], subjects, strict=True):
                for mdoc, m in zip(sdoc["matches"], subject.matches, strict=True):
                    consent = m.person.consents.get(use)
                    mdoc["consent"] = None if consent is None else consent.as_dict()
                    mdoc["person"]["jurisdictions"] = list(m.person.jurisdictions)
                    mdoc["person"]["rights_holder"] = m.person.rights_holder
        return doc


class _StepError(VeracityError):
    code = "step-error"

    def __init__(self, err: dict[str, Any]) -> None:
        super().__init__(str(err.get("message")), path=err.get("path"))
        self.code = str(err.get("code") or "step-error")


def _with_overrides(policy: Any, options: ScanOptions) -> Any:
    """The policy with the command line's --use, --licensee and --operating-point."""
    from dataclasses import replace

    return replace(policy, use=options.use, licensee=options.licensee or policy.licensee,
                   operating_point=options.operating_point)  # fmt: skip
