"""The registry repository: every read and write of the registry goes through ``Registry``.

SQLite by default: created with mode 0600, WAL journal (readers never block the writer),
a busy timeout so that concurrent scans and edits wait for each other instead of failing,
and a versioned schema with forward migrations. A newer schema, a damaged file, a
wrong key or a lock held too long is a clear RegistryError and nothing is written.

Biometric templates are stored as float32 vectors (encrypted when a key is set) and are
never written to the audit log, reports or error messages.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from likeness.crypto import Cipher
from likeness.errors import NotFound, RegistryError, RegistryLocked

SCHEMA_VERSION = 2
USES = ("news", "commentary", "commercial", "political", "ai_training")
STATUSES = ("allowed", "not_allowed", "licensed")
MODALITIES = ("face", "voice")
REGISTRY_ENV = "VERACITY_REGISTRY"
ACTOR_ENV = "VERACITY_ACTOR"

_SCHEMA_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE persons (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, aliases TEXT NOT NULL DEFAULT '[]',
    rights_holder TEXT, contact TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE consents (
    person_id TEXT NOT NULL REFERENCES persons(id) ON DELETE CASCADE, use TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('allowed', 'not_allowed', 'licensed')),
    licensee TEXT, until TEXT, PRIMARY KEY (person_id, use));
CREATE TABLE templates (
    id INTEGER PRIMARY KEY, person_id TEXT NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
    modality TEXT NOT NULL CHECK (modality IN ('face', 'voice')), model TEXT NOT NULL,
    dim INTEGER NOT NULL, vector BLOB NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE audit (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    person_id TEXT, details TEXT NOT NULL DEFAULT '{}');
"""

# schema version -> statements that bring the previous version to it
_MIGRATIONS: dict[int, str] = {
    2: """
ALTER TABLE persons ADD COLUMN jurisdictions TEXT NOT NULL DEFAULT '[]';
ALTER TABLE persons ADD COLUMN notes TEXT;
ALTER TABLE templates ADD COLUMN encrypted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE templates ADD COLUMN quality REAL;
ALTER TABLE templates ADD COLUMN source_sha256 TEXT;
CREATE TABLE media (
    id INTEGER PRIMARY KEY, person_id TEXT NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
    modality TEXT NOT NULL, filename TEXT, data BLOB NOT NULL, encrypted INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL);
CREATE INDEX templates_by_modality ON templates (modality, person_id);
""",
}


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def default_path(environ: dict[str, str] | None = None) -> Path:
    """``$VERACITY_REGISTRY``, else ``[registry] path`` of the ``$VERACITY_CONFIG`` TOML file,
    else ``$XDG_DATA_HOME/veracity/registry.db`` (``~/.local/share``)."""
    env = os.environ if environ is None else environ
    if env.get(REGISTRY_ENV):
        return Path(env[REGISTRY_ENV])
    if env.get("VERACITY_CONFIG"):
        import tomllib

        config = Path(env["VERACITY_CONFIG"])
        try:
            doc = tomllib.loads(config.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise RegistryError(f"cannot read config: {exc}", path=str(config)) from None
        path = (doc.get("registry") or {}).get("path")
        if isinstance(path, str) and path:
            p = Path(path).expanduser()
            return p if p.is_absolute() else config.parent / p
    base = Path(env["XDG_DATA_HOME"]) if env.get("XDG_DATA_HOME") else Path.home() / ".local" / "share"
    return base / "veracity" / "registry.db"


def actor() -> str:
    if os.environ.get(ACTOR_ENV):
        return os.environ[ACTOR_ENV]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


@dataclass(frozen=True)
class Consent:
    status: str  # allowed | not_allowed | licensed
    licensee: str | None = None
    until: str | None = None  # ISO date for licensed use

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "licensee": self.licensee, "until": self.until}

    def effective(self, on: dt.date | None = None) -> str:
        """The status today: a licence past its date is ``not_allowed``."""
        if self.status == "licensed" and self.until:
            try:
                if (on or dt.date.today()) > dt.date.fromisoformat(self.until):
                    return "not_allowed"
            except ValueError:
                return "not_allowed"
        return self.status


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    aliases: tuple[str, ...] = ()
    rights_holder: str | None = None
    contact: str | None = None
    jurisdictions: tuple[str, ...] = ()
    notes: str | None = None
    consents: dict[str, Consent] = field(default_factory=dict)
    created_at: str = ""
    updated_at: str = ""
    templates: dict[str, int] = field(default_factory=dict)  # modality -> count

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "aliases": list(self.aliases),
            "rights_holder": self.rights_holder,
            "contact": self.contact,
            "jurisdictions": list(self.jurisdictions),
            "notes": self.notes,
            "consents": {u: c.as_dict() for u, c in sorted(self.consents.items())},
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "templates": dict(self.templates),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Person:
        consents = {}
        for use, c in (d.get("consents") or {}).items():
            consents[str(use)] = Consent(str(c["status"]), c.get("licensee"), c.get("until"))
        return cls(
            id=str(d["id"]),
            name=str(d["name"]),
            aliases=tuple(str(a) for a in d.get("aliases") or ()),
            rights_holder=d.get("rights_holder"),
            contact=d.get("contact"),
            jurisdictions=tuple(str(j) for j in d.get("jurisdictions") or ()),
            notes=d.get("notes"),
            consents=consents,
            created_at=str(d.get("created_at") or ""),
            updated_at=str(d.get("updated_at") or ""),
        )


@dataclass(frozen=True)
class Template:
    person_id: str
    modality: str
    model: str
    vector: np.ndarray  # float32, 1-D
    quality: float | None = None
    source_sha256: str | None = None


def validate_consent(use: str, consent: Consent) -> None:
    if use not in USES:
        raise ValueError(f"unknown use {use!r}; uses are {', '.join(USES)}")
    if consent.status not in STATUSES:
        raise ValueError(f"consent for {use} must be one of {', '.join(STATUSES)}")
    if consent.status == "licensed":
        if not consent.licensee:
            raise ValueError(f"licensed {use} needs a licensee")
        if consent.until:
            try:
                dt.date.fromisoformat(consent.until)
            except ValueError:
                raise ValueError(f"licence date {consent.until!r} is not YYYY-MM-DD") from None


class Registry:
    """One open registry. Use as a context manager; every write is one transaction."""

    def __init__(
        self, path: Path, *, create: bool = True, timeout: float = 10.0, cipher: Cipher | None = None
    ) -> None:
        self.path = Path(path)
        self.cipher = cipher or Cipher.from_env()
        fresh = not self.path.exists()
        if fresh and not create:
            raise RegistryError("registry does not exist", path=str(self.path))
        if fresh:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            os.close(fd)
        elif self.path.is_dir():
            raise RegistryError("registry path is a directory", path=str(self.path))
        try:
            self.conn = sqlite3.connect(str(self.path), timeout=timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise RegistryError(f"cannot open registry: {exc}", path=str(self.path)) from None
        try:
            self.conn.execute("PRAGMA foreign_keys = ON")
            self._check_and_migrate(fresh)
        except sqlite3.OperationalError as exc:
            self.conn.close()
            if "locked" in str(exc) or "busy" in str(exc):
                raise RegistryLocked(
                    f"registry is locked by another process ({exc}); nothing was changed", path=str(self.path)
                ) from None
            raise RegistryError(f"cannot read registry: {exc}", path=str(self.path)) from None
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise RegistryError(
                f"not a Veracity registry, or the file is damaged ({exc}); nothing was changed",
                path=str(self.path),
            ) from None
        except RegistryError:
            self.conn.close()
            raise

    # ------------------------------------------------------------ lifecycle

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise RegistryLocked(
                f"registry is locked by another process ({exc}); nothing was changed", path=str(self.path)
            ) from None
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    def _check_and_migrate(self, fresh: bool) -> None:
        tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if fresh or not tables:
            self.conn.execute("PRAGMA journal_mode = WAL")
            with self._write() as c:
                for stmt in _statements(_SCHEMA_V1):
                    c.execute(stmt)
                c.execute("INSERT INTO meta VALUES ('schema_version', '1')")
                c.execute("INSERT INTO meta VALUES ('created_at', ?)", (now(),))
            tables = {"meta"}
        if "meta" not in tables:
            raise RegistryError(
                "not a Veracity registry (no meta table); nothing was changed", path=str(self.path)
            )
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None or not str(row[0]).isdigit():
            raise RegistryError("registry has no schema version; nothing was changed", path=str(self.path))
        version = int(row[0])
        if version > SCHEMA_VERSION:
            raise RegistryError(
                f"registry schema {version} is newer than this version of Veracity supports ({SCHEMA_VERSION}); "
                "upgrade Veracity. Nothing was changed.",
                path=str(self.path),
            )
        if version < SCHEMA_VERSION:
            self.conn.execute("PRAGMA journal_mode = WAL")
            with self._write() as c:
                for target in range(version + 1, SCHEMA_VERSION + 1):
                    for stmt in _statements(_MIGRATIONS[target]):
                        c.execute(stmt)
                    c.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(target),))
                self._audit(c, "migrate", None, {"from": version, "to": SCHEMA_VERSION})
        self._check_key()

    def _check_key(self) -> None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'key_check'").fetchone()
        if row is not None:
            self.cipher.verify(bytes.fromhex(row[0]))
        elif self.cipher.enabled:
            plain_rows = self.conn.execute("SELECT COUNT(*) FROM templates").fetchone()[0]
            with self._write() as c:
                c.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('key_check', ?)", (self.cipher.check_value().hex(),)
                )
                self._audit(c, "encryption-enabled", None, {"existing_plain_templates": plain_rows})

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])

    # ------------------------------------------------------------ audit

    def _audit(
        self, c: sqlite3.Connection, action: str, person_id: str | None, details: dict[str, Any]
    ) -> None:
        c.execute(
            "INSERT INTO audit (at, actor, action, person_id, details) VALUES (?, ?, ?, ?, ?)",
            (now(), actor(), action, person_id, json.dumps(details, sort_keys=True)),
        )

    def record_match(self, person_id: str, details: dict[str, Any]) -> None:
        """Log a match (who matched, in what, how similar): never the template."""
        with self._write() as c:
            self._audit(c, "match", person_id, details)

    def audit_log(self, person_id: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        q = "SELECT id, at, actor, action, person_id, details FROM audit"
        args: tuple[Any, ...] = ()
        if person_id:
            q += " WHERE person_id = ?"
            args = (person_id,)
        q += " ORDER BY id DESC LIMIT ?"
        rows = self.conn.execute(q, (*args, limit)).fetchall()
        return [
            {
                "id": r[0],
                "at": r[1],
                "actor": r[2],
                "action": r[3],
                "person_id": r[4],
                "details": json.loads(r[5]),
            }
            for r in rows
        ]

    # ------------------------------------------------------------ people

    def add_person(
        self,
        person: Person,
        templates: list[Template] | None = None,
        media: list[tuple[str, str, bytes]] | None = None,
    ) -> Person:
        """Insert a person with consents, templates and (optionally kept) media, in one transaction."""
        templates = templates or []
        media = media or []
        for use, consent in person.consents.items():
            validate_consent(use, consent)
        pid = person.id or uuid.uuid4().hex[:12]
        ts = now()
        with self._write() as c:
            if c.execute("SELECT 1 FROM persons WHERE id = ?", (pid,)).fetchone():
                raise RegistryError(f"a person with id {pid} already exists; nothing was changed")
            self._insert_person(c, pid, person, ts, ts)
            self._put_consents(c, pid, person.consents)
            for t in templates:
                self._put_template(c, pid, t)
            for modality, filename, data in media:
                c.execute(
                    "INSERT INTO media (person_id, modality, filename, data, encrypted, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (pid, modality, filename, self.cipher.encrypt(data), int(self.cipher.enabled), ts),
                )
            self._audit(
                c,
                "enroll",
                pid,
                {"name": person.name, "templates": _count(templates), "media_kept": len(media)},
            )
        return self.get_person(pid)

    def _insert_person(self, c: sqlite3.Connection, pid: str, p: Person, created: str, updated: str) -> None:
        c.execute(
            "INSERT INTO persons (id, name, aliases, rights_holder, contact, jurisdictions, notes, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (pid, p.name, json.dumps(list(p.aliases)), p.rights_holder, p.contact, json.dumps(list(p.jurisdictions)),
             p.notes, created, updated),
        )  # fmt: skip

    def _put_consents(self, c: sqlite3.Connection, pid: str, consents: dict[str, Consent]) -> None:
        for use, con in consents.items():
            c.execute(
                "INSERT OR REPLACE INTO consents (person_id, use, status, licensee, until) VALUES (?, ?, ?, ?, ?)",
                (pid, use, con.status, con.licensee, con.until),
            )

    def _put_template(self, c: sqlite3.Connection, pid: str, t: Template) -> None:
        if t.modality not in MODALITIES:
            raise ValueError(f"unknown modality {t.modality!r}")
        vec = np.asarray(t.vector, dtype="<f4").ravel()
        if not np.isfinite(vec).all() or vec.size == 0:
            raise ValueError("template vector must be finite and non-empty")
        c.execute(
            "INSERT INTO templates (person_id, modality, model, dim, vector, encrypted, quality, source_sha256, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                pid,
                t.modality,
                t.model,
                int(vec.size),
                self.cipher.encrypt(vec.tobytes()),
                int(self.cipher.enabled),
                t.quality,
                t.source_sha256,
                now(),
            ),
        )

    def add_templates(self, pid: str, templates: list[Template]) -> None:
        with self._write() as c:
            self._require(c, pid)
            for t in templates:
                self._put_template(c, pid, t)
            c.execute("UPDATE persons SET updated_at = ? WHERE id = ?", (now(), pid))
            self._audit(c, "add-references", pid, {"templates": _count(templates)})

    def update_person(self, pid: str, **changes: Any) -> Person:
        """Change the given fields (name, aliases, rights_holder, contact, jurisdictions, notes, consents)."""
        allowed = {"name", "aliases", "rights_holder", "contact", "jurisdictions", "notes", "consents"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"cannot update {', '.join(sorted(unknown))}")
        consents = changes.pop("consents", None) or {}
        for use, con in consents.items():
            validate_consent(use, con)
        with self._write() as c:
            self._require(c, pid)
            for key, value in changes.items():
                if key in ("aliases", "jurisdictions"):
                    value = json.dumps(list(value))
                c.execute(f"UPDATE persons SET {key} = ? WHERE id = ?", (value, pid))  # noqa: S608 - key from the allow-list
            self._put_consents(c, pid, consents)
            c.execute("UPDATE persons SET updated_at = ? WHERE id = ?", (now(), pid))
            self._audit(
                c, "update", pid, {"fields": sorted(changes) + [f"consent.{u}" for u in sorted(consents)]}
            )
        return self.get_person(pid)

    def remove_person(self, pid: str) -> dict[str, int]:
        """Erase the person, every template and every kept medium; record the erasure."""
        with self._write() as c:
            self._require(c, pid)
            counts = {
                "templates": c.execute(
                    "SELECT COUNT(*) FROM templates WHERE person_id = ?", (pid,)
                ).fetchone()[0],
                "media": c.execute("SELECT COUNT(*) FROM media WHERE person_id = ?", (pid,)).fetchone()[0],
            }
            c.execute("DELETE FROM templates WHERE person_id = ?", (pid,))
            c.execute("DELETE FROM media WHERE person_id = ?", (pid,))
            c.execute("DELETE FROM consents WHERE person_id = ?", (pid,))
            c.execute("DELETE FROM persons WHERE id = ?", (pid,))
            self._audit(c, "erase", pid, counts)
        # overwrite freed pages so erased templates do not linger in the file
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.conn.execute("VACUUM")
        return counts

    def _require(self, c: sqlite3.Connection, pid: str) -> None:
        if not c.execute("SELECT 1 FROM persons WHERE id = ?", (pid,)).fetchone():
            raise NotFound(f"no person with id {pid!r}")

    def get_person(self, pid: str) -> Person:
        row = self.conn.execute(
            "SELECT id, name, aliases, rights_holder, contact, jurisdictions, notes, created_at, updated_at FROM persons WHERE id = ?",
            (pid,),
        ).fetchone()
        if row is None:
            raise NotFound(f"no person with id {pid!r}")
        return self._person(row)

    def find(self, ref: str) -> Person:
        """A person by id, or by exact name or alias when that is unique."""
        try:
            return self.get_person(ref)
        except NotFound:
            pass
        hits = [p for p in self.list_persons() if p.name == ref or ref in p.aliases]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise NotFound(f"{ref!r} names {len(hits)} people; use an id ({', '.join(p.id for p in hits)})")
        raise NotFound(f"no person with id or name {ref!r}")

    def list_persons(self) -> list[Person]:
        """Everyone, with consents and template counts, in three queries whatever the size."""
        rows = self.conn.execute(
            "SELECT id, name, aliases, rights_holder, contact, jurisdictions, notes, created_at, updated_at FROM persons ORDER BY name, id"
        ).fetchall()
        consents: dict[str, dict[str, Consent]] = {}
        for pid, u, st, lic, until in self.conn.execute(
            "SELECT person_id, use, status, licensee, until FROM consents"
        ):
            consents.setdefault(pid, {})[u] = Consent(st, lic, until)
        counts: dict[str, dict[str, int]] = {}
        for pid, modality, n in self.conn.execute(
            "SELECT person_id, modality, COUNT(*) FROM templates GROUP BY person_id, modality"
        ):
            counts.setdefault(pid, {})[modality] = n
        return [self._person(r, consents.get(r[0], {}), counts.get(r[0], {})) for r in rows]

    def _person(
        self,
        row: tuple[Any, ...],
        consents: dict[str, Consent] | None = None,
        counts: dict[str, int] | None = None,
    ) -> Person:
        pid = row[0]
        if consents is None:
            consents = {
                u: Consent(s, lic, until)
                for u, s, lic, until in self.conn.execute(
                    "SELECT use, status, licensee, until FROM consents WHERE person_id = ?", (pid,)
                )
            }
        if counts is None:
            counts = dict(
                self.conn.execute(
                    "SELECT modality, COUNT(*) FROM templates WHERE person_id = ? GROUP BY modality", (pid,)
                ).fetchall()
            )
        return Person(
            id=pid,
            name=row[1],
            aliases=tuple(json.loads(row[2] or "[]")),
            rights_holder=row[3],
            contact=row[4],
            jurisdictions=tuple(json.loads(row[5] or "[]")),
            notes=row[6],
            consents=consents,
            created_at=row[7],
            updated_at=row[8],
            templates=counts,
        )

    # ------------------------------------------------------------ templates

    def templates(self, modality: str) -> tuple[list[str], np.ndarray, list[str]]:
        """(person ids, N×D float32 matrix, model ids) of every template of ``modality``."""
        rows = self.conn.execute(
            "SELECT person_id, vector, encrypted, dim, model FROM templates WHERE modality = ? ORDER BY id",
            (modality,),
        ).fetchall()
        ids, vecs, models = [], [], []
        for pid, blob, enc, dim, model in rows:
            data = self.cipher.decrypt(blob) if enc else blob
            vec = np.frombuffer(data, dtype="<f4")
            if vec.size != dim:
                raise RegistryError("a stored template is damaged (wrong length)", path=str(self.path))
            ids.append(pid)
            vecs.append(vec)
            models.append(model)
        if not vecs:
            return [], np.zeros((0, 0), np.float32), []
        dims = {v.size for v in vecs}
        if len(dims) != 1:
            raise RegistryError(
                f"{modality} templates have different sizes {sorted(dims)}", path=str(self.path)
            )
        return ids, np.stack(vecs).astype(np.float32), models

    def export(self, include_templates: bool = True) -> dict[str, Any]:
        """A JSON-ready copy of the registry (templates as lists of floats; media are never exported)."""
        people = []
        for p in self.list_persons():
            d = p.as_dict()
            d.pop("templates")
            if include_templates:
                d["templates"] = []
                for modality, model, blob, enc, quality in self.conn.execute(
                    "SELECT modality, model, vector, encrypted, quality FROM templates WHERE person_id = ? ORDER BY id",
                    (p.id,),
                ):
                    vec = np.frombuffer(self.cipher.decrypt(blob) if enc else blob, dtype="<f4")
                    d["templates"].append(
                        {
                            "modality": modality,
                            "model": model,
                            "vector": [float(x) for x in vec],
                            "quality": quality,
                        }
                    )
            people.append(d)
        with self._write() as c:
            self._audit(c, "export", None, {"people": len(people), "templates": include_templates})
        return {
            "format": "veracity-registry",
            "schema_version": SCHEMA_VERSION,
            "exported_at": now(),
            "people": people,
        }

    def import_(self, doc: dict[str, Any]) -> int:
        """Add every person of an export; all or nothing. Raises ImportRefused for a bad document."""
        from likeness.errors import ImportRefused

        people, templates = parse_export(doc)
        with self._write() as c:
            for p in people:
                if c.execute("SELECT 1 FROM persons WHERE id = ?", (p.id,)).fetchone():
                    raise ImportRefused(f"person {p.id} already exists; nothing was imported")
                ts = now()
                self._insert_person(c, p.id, p, p.created_at or ts, ts)
                self._put_consents(c, p.id, p.consents)
                for t in templates.get(p.id, []):
                    self._put_template(c, p.id, t)
            self._audit(c, "import", None, {"people": len(people)})
        return len(people)


def parse_export(doc: Any) -> tuple[list[Person], dict[str, list[Template]]]:
    """Validate an export document fully before anything is written."""
    from likeness.errors import ImportRefused

    if not isinstance(doc, dict) or doc.get("format") != "veracity-registry":
        raise ImportRefused("not a Veracity registry export (format must be 'veracity-registry')")
    version = doc.get("schema_version")
    if not isinstance(version, int) or version < 1 or version > SCHEMA_VERSION:
        raise ImportRefused(
            f"unsupported export schema version {version!r} (this Veracity reads 1 to {SCHEMA_VERSION})"
        )
    raw = doc.get("people")
    if not isinstance(raw, list):
        raise ImportRefused("export has no 'people' list")
    people, templates, seen = [], {}, set()
    for i, d in enumerate(raw):
        try:
            if (
                not isinstance(d, dict)
                or not str(d.get("id") or "").strip()
                or not str(d.get("name") or "").strip()
            ):
                raise ValueError("a person needs an id and a name")
            p = Person.from_dict(d)
            for use, c in p.consents.items():
                validate_consent(use, c)
            if p.id in seen:
                raise ValueError(f"duplicate id {p.id}")
            seen.add(p.id)
            ts = []
            for t in d.get("templates") or []:
                vec = np.asarray(t["vector"], dtype=np.float32)
                if (
                    t["modality"] not in MODALITIES
                    or vec.ndim != 1
                    or vec.size == 0
                    or not np.isfinite(vec).all()
                ):
                    raise ValueError("bad template")
                ts.append(Template(p.id, t["modality"], str(t["model"]), vec, t.get("quality")))
        except (ValueError, KeyError, TypeError) as exc:
            raise ImportRefused(f"person #{i + 1} is malformed: {exc}; nothing was imported") from None
        people.append(p)
        templates[p.id] = ts
    return people, templates


def _count(templates: list[Template] | tuple[Template, ...]) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in templates:
        out[t.modality] = out.get(t.modality, 0) + 1
    return out


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
