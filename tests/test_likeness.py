"""The likeness registry and matcher on synthetic templates (no models needed)."""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import sqlite3
import stat
from pathlib import Path

import numpy as np
import pytest

from likeness.crypto import Cipher, new_key
from likeness.errors import ImportRefused, NotFound, RegistryError, RegistryLocked
from likeness.matcher import Matcher, Threshold
from likeness.store import _SCHEMA_V1, SCHEMA_VERSION, Consent, Person, Registry, Template, _statements

THRESHOLDS = {
    "face": Threshold("face", "m", 0.8, 0.001, 0.02, "test"),
    "voice": Threshold("voice", "v", 0.75, 0.01, 0.05, "test"),
}


def vec(seed: int, dim: int = 128) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=dim).astype(np.float32)
    return v / np.linalg.norm(v)


def person(name: str, pid: str = "", **kw: object) -> Person:
    return Person(pid, name, **kw)  # type: ignore[arg-type]


@pytest.fixture()
def reg(tmp_path: Path) -> Registry:
    r = Registry(tmp_path / "reg.db", cipher=Cipher(None))
    yield r
    r.close()


def test_new_registry_is_private_wal_and_current(tmp_path: Path) -> None:
    p = tmp_path / "sub" / "reg.db"
    with Registry(p, cipher=Cipher(None)) as r:
        assert r.schema_version == SCHEMA_VERSION
        assert r.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600


def test_enrol_show_update_consents(reg: Registry) -> None:
    p = reg.add_person(
        person(
            "Ada Lovelace",
            aliases=("Ada",),
            rights_holder="Estate",
            jurisdictions=("UK",),
            consents={"news": Consent("allowed"), "commercial": Consent("licensed", "Acme", "2030-12-31")},
        ),
        [
            Template("", "face", "m", vec(1)),
            Template("", "face", "m", vec(2)),
            Template("", "voice", "v", vec(3, 256)),
        ],
    )
    assert p.templates == {"face": 2, "voice": 1}
    assert reg.find("Ada").id == p.id and reg.find(p.id).name == "Ada Lovelace"
    q = reg.update_person(p.id, consents={"political": Consent("not_allowed")}, notes="checked")
    assert q.consents["political"].status == "not_allowed" and q.notes == "checked"
    assert q.consents["commercial"].effective() == "licensed"
    assert Consent("licensed", "Acme", "2000-01-01").effective() == "not_allowed"
    with pytest.raises(ValueError, match="unknown use"):
        reg.update_person(p.id, consents={"memes": Consent("allowed")})
    with pytest.raises(ValueError, match="needs a licensee"):
        reg.add_person(person("B", consents={"news": Consent("licensed")}))
    with pytest.raises(NotFound):
        reg.find("nobody")
    actions = [a["action"] for a in reg.audit_log(p.id)]
    assert actions == ["update", "enroll"]


def test_erasure_leaves_no_row_and_no_bytes(tmp_path: Path) -> None:
    path = tmp_path / "reg.db"
    marker = vec(42)
    with Registry(path, cipher=Cipher(None)) as reg:
        keep = reg.add_person(person("Keep"), [Template("", "face", "m", vec(1))])
        gone = reg.add_person(
            person("Gone"),
            [Template("", "face", "m", marker), Template("", "voice", "v", vec(5, 256))],
            media=[("face", "ref.jpg", b"JPEG-BYTES-OF-GONE" * 10)],
        )
        counts = reg.remove_person(gone.id)
        assert counts == {"templates": 2, "media": 1}
        c = reg.conn
        for table in ("persons", "consents", "templates", "media"):
            col = "id" if table == "persons" else "person_id"
            assert c.execute(f"SELECT COUNT(*) FROM {table} WHERE {col} = ?", (gone.id,)).fetchone()[0] == 0
        assert c.execute("SELECT COUNT(*) FROM templates").fetchone()[0] == 1
        [erase] = [a for a in reg.audit_log(gone.id) if a["action"] == "erase"]
        assert erase["details"] == {"templates": 2, "media": 1}
        assert reg.get_person(keep.id).templates == {"face": 1}
    raw = b"".join(f.read_bytes() for f in tmp_path.iterdir() if f.name.startswith("reg.db"))
    assert marker.astype("<f4").tobytes() not in raw
    assert b"JPEG-BYTES-OF-GONE" not in raw


def test_audit_never_holds_templates(reg: Registry) -> None:
    v = vec(7)
    p = reg.add_person(person("X"), [Template("", "face", "m", v)])
    reg.record_match(p.id, {"file_sha256": "ab" * 32, "modality": "face", "similarity": 0.9})
    text = repr(reg.audit_log())
    assert str(float(v[0]))[:8] not in text
    assert (
        v.tobytes() not in reg.conn.execute("SELECT group_concat(details) FROM audit").fetchone()[0].encode()
    )


def test_migration_from_schema_1(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    c = sqlite3.connect(path)
    for stmt in _statements(_SCHEMA_V1):
        c.execute(stmt)
    c.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    c.execute("INSERT INTO persons VALUES ('p1', 'Old Timer', '[]', NULL, NULL, 't', 't')")
    c.execute("INSERT INTO consents VALUES ('p1', 'news', 'allowed', NULL, NULL)")
    c.execute(
        "INSERT INTO templates (person_id, modality, model, dim, vector, created_at) VALUES ('p1', 'face', 'm', 128, ?, 't')",
        (vec(1).astype("<f4").tobytes(),),
    )
    c.commit()
    c.close()
    with Registry(path, cipher=Cipher(None)) as reg:
        assert reg.schema_version == SCHEMA_VERSION
        p = reg.get_person("p1")
        assert p.name == "Old Timer" and p.jurisdictions == () and p.templates == {"face": 1}
        ids, mat, _ = reg.templates("face")
        assert ids == ["p1"] and np.allclose(mat[0], vec(1))
        assert reg.audit_log()[0]["action"] == "migrate"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_newer_schema_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    with Registry(path, cipher=Cipher(None)) as reg:
        reg.conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
        reg.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = _digest(path)
    with pytest.raises(RegistryError, match="newer than this version"):
        Registry(path, cipher=Cipher(None))
    assert _digest(path) == before


@pytest.mark.parametrize("content", [b"", b"garbage" * 100, b"SQLite format 3\x00" + b"\xff" * 2000])
def test_corrupt_files_are_refused_untouched(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.db"
    path.write_bytes(content)
    if not content:
        # an empty file is what sqlite makes of a new database: it becomes a registry
        with Registry(path, cipher=Cipher(None)) as reg:
            assert reg.schema_version == SCHEMA_VERSION
        return
    with pytest.raises(RegistryError, match=r"damaged|not a Veracity"):
        Registry(path, cipher=Cipher(None))
    assert path.read_bytes() == content


def test_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    c = sqlite3.connect(path)
    c.execute("CREATE TABLE photos (id INTEGER)")
    c.commit()
    c.close()
    before = _digest(path)
    with pytest.raises(RegistryError, match="not a Veracity registry"):
        Registry(path, cipher=Cipher(None))
    assert _digest(path) == before


def test_locked_registry_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "reg.db"
    Registry(path, cipher=Cipher(None)).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with (
            Registry(path, timeout=0.2, cipher=Cipher(None)) as reg,
            pytest.raises(RegistryLocked, match="locked"),
        ):
            reg.add_person(person("Blocked"))
    except RegistryLocked:
        pass  # the lock may already bite when opening
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with Registry(path, cipher=Cipher(None)) as reg:
        assert reg.list_persons() == []


def _writer(path: str, prefix: str, n: int) -> None:
    with Registry(Path(path), timeout=30, cipher=Cipher(None)) as reg:
        for i in range(n):
            reg.add_person(Person(f"{prefix}{i}", f"{prefix} {i}"), [Template("", "face", "m", vec(i))])


def test_two_concurrent_writers(tmp_path: Path) -> None:
    path = tmp_path / "reg.db"
    Registry(path, cipher=Cipher(None)).close()
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(path), p, 25)) for p in ("a", "b")]
    for pr in procs:
        pr.start()
    for pr in procs:
        pr.join(120)
        assert pr.exitcode == 0
    with Registry(path, cipher=Cipher(None)) as reg:
        assert len(reg.list_persons()) == 50
        assert len(reg.templates("face")[0]) == 50


def test_encryption_at_rest(tmp_path: Path) -> None:
    path = tmp_path / "enc.db"
    key = new_key()
    v = vec(9)
    with Registry(path, cipher=Cipher(key)) as reg:
        reg.add_person(person("Secret"), [Template("", "face", "m", v)])
        blob = reg.conn.execute("SELECT vector FROM templates").fetchone()[0]
        assert v.astype("<f4").tobytes() not in blob
        assert np.allclose(reg.templates("face")[1][0], v)
    raw = b"".join(f.read_bytes() for f in tmp_path.iterdir())
    assert v.astype("<f4").tobytes() not in raw
    with pytest.raises(RegistryError, match="wrong key"):
        Registry(path, cipher=Cipher(new_key()))
    with pytest.raises(RegistryError, match="set VERACITY_REGISTRY_KEY"):
        Registry(path, cipher=Cipher(None))
    with pytest.raises(RegistryError, match="not a valid key"):
        Cipher("short")


def test_export_import_roundtrip_and_malformed_refused(tmp_path: Path) -> None:
    with Registry(tmp_path / "a.db", cipher=Cipher(None)) as a:
        a.add_person(
            person("One", "p1", consents={"news": Consent("allowed")}), [Template("", "face", "m", vec(1))]
        )
        a.add_person(person("Two", "p2"), [Template("", "voice", "v", vec(2, 256))])
        doc = a.export()
    assert doc["schema_version"] == SCHEMA_VERSION and len(doc["people"]) == 2
    with Registry(tmp_path / "b.db", cipher=Cipher(None)) as b:
        assert b.import_(doc) == 2
        assert b.get_person("p1").consents["news"].status == "allowed"
        assert np.allclose(b.templates("voice")[1][0], vec(2, 256))
        bad_docs = [
            {"format": "other", "schema_version": 2, "people": []},
            {"format": "veracity-registry", "schema_version": 99, "people": []},
            {
                "format": "veracity-registry",
                "schema_version": 2,
                "people": [
                    {
                        "id": "p9",
                        "name": "N",
                        "templates": [{"modality": "face", "model": "m", "vector": ["x"]}],
                    }
                ],
            },
            {
                "format": "veracity-registry",
                "schema_version": 2,
                "people": [{"id": "p8", "name": "ok"}, {"name": "no id"}],
            },
            {
                "format": "veracity-registry",
                "schema_version": 2,
                "people": [{"id": "p7", "name": "N", "consents": {"news": {"status": "maybe"}}}],
            },
            doc,  # ids already present
        ]
        before = b.export()["people"]
        for bad in bad_docs:
            with pytest.raises(ImportRefused):
                b.import_(bad)
        assert b.export()["people"] == before


def test_matcher_agrees_with_brute_force(reg: Registry) -> None:
    rng = np.random.default_rng(0)
    for i in range(30):
        reg.add_person(
            person(f"P{i}", f"p{i:02d}"),
            [Template("", "face", "m", vec(100 + i * 3 + k)) for k in range(1 + i % 3)],
        )
    m = Matcher(reg, THRESHOLDS)
    ids, mat, _ = reg.templates("face")
    queries = rng.normal(size=(20, 128)).astype(np.float32)
    queries[:5] = mat[[0, 4, 9, 20, 33]] + 0.05 * rng.normal(size=(5, 128))
    got = m.search("face", queries, top_k=3)
    qn = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    for q, matches in zip(qn, got, strict=True):
        per = {}
        for pid, v in zip(ids, mat, strict=True):
            per[pid] = max(per.get(pid, -1.0), float(q @ v))
        expected = sorted(per.items(), key=lambda kv: -kv[1])[:3]
        assert [x.person.id for x in matches] == [pid for pid, _ in expected]
        assert [x.similarity for x in matches] == pytest.approx([s for _, s in expected], abs=1e-5)
    assert all(got[k][0].matched for k in range(5))
    assert got[0][0].person.id == ids[0]
    assert not any(x.matched for row in got[5:] for x in row)  # random queries match nobody
    assert m.search("voice", queries[:2], 3) == [[], []]  # no voice templates enrolled


def test_registry_path_resolution(tmp_path: Path) -> None:
    from likeness.store import default_path

    assert default_path({"VERACITY_REGISTRY": "/x/r.db"}) == Path("/x/r.db")
    cfg = tmp_path / "veracity.toml"
    cfg.write_text('[registry]\npath = "data/reg.db"\n')
    assert default_path({"VERACITY_CONFIG": str(cfg)}) == tmp_path / "data" / "reg.db"
    assert default_path({"XDG_DATA_HOME": "/d"}) == Path("/d/veracity/registry.db")
    cfg.write_text("[registry\n")
    with pytest.raises(RegistryError, match="cannot read config"):
        default_path({"VERACITY_CONFIG": str(cfg)})


def test_templates_of_another_model_are_not_searched(reg: Registry) -> None:
    reg.add_person(person("New", "n"), [Template("", "face", "m", vec(1))])
    reg.add_person(person("Old", "o"), [Template("", "face", "old-model", vec(1))])
    m = Matcher(reg, THRESHOLDS)
    assert m.skipped == {"face": 1}
    [[best]] = m.search("face", vec(1)[None], top_k=1)
    assert best.person.id == "n" and m.size("face") == 1


def test_pair_scores_and_operating_point() -> None:
    from likeness.calibrate import operating_point, pair_scores

    # two people, two samples each, nearly identical within a person
    emb = np.stack([vec(1), vec(1) + 0.01 * vec(2), vec(3), vec(3) + 0.01 * vec(4)])
    genuine, impostor = pair_scores(emb, ["a", "a", "b", "b"])
    assert len(genuine) == 2 and len(impostor) == 4
    assert genuine.min() > 0.99 > impostor.max()
    op = operating_point(genuine, impostor, 0.01)
    assert op["far"] == 0.0 and op["tar"] == 1.0 and op["eer"] == 0.0


@pytest.mark.shared_data
@pytest.mark.slow
def test_calibration_command_on_a_few_people(tmp_path: Path) -> None:
    import json

    from likeness.calibrate import main
    from tests.conftest import SHARED

    assert main(["--data", str(SHARED), "--out", str(tmp_path), "--limit", "4"]) == 0
    doc = json.loads((tmp_path / "likeness.json").read_text())
    for modality in ("face", "voice"):
        op = doc["modalities"][modality]["operating_point"]
        assert 0 < op["threshold"] < 1 and op["genuine_pairs"] > 0
    assert "## Limitations" in (tmp_path / "likeness.md").read_text()
