"""Conformance over ../shared/data/c2pa: every row of expected.csv, as `verify --format json` reports it."""

from __future__ import annotations

import csv
import json

import pytest

from .conftest import SHARED

C2PA = SHARED / "c2pa"
ANCHORS = C2PA / "c2pa_rs_fixtures/sdk/tests/fixtures/certs/trust/test_cert_root_bundle.pem"
pytestmark = pytest.mark.shared_data


def _rows() -> list[dict[str, str]]:
    if not (C2PA / "expected.csv").is_file():
        return []
    with (C2PA / "expected.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


ROWS = _rows()


def _present(rows):
    # Some assets are stored differently from their source (WAV kept as FLAC, which
    # drops the RIFF C2PA chunk); the row's own path then does not exist.
    return [r for r in rows if (C2PA / r["path"]).is_file()]


@pytest.fixture(scope="module")
def reports(run_module):
    present = _present(ROWS)
    paths = [str(C2PA / r["path"]) for r in present]
    out = {}
    for mode, extra in (("none", []), ("anchors", ["--trust-anchors", str(ANCHORS)])):
        result = run_module("verify", "--format", "json", *extra, *paths)
        doc = json.loads(result.stdout)
        out[mode] = {res["path"]: res for res in doc["results"]}
    return out


@pytest.fixture(scope="module")
def run_module():
    from click.testing import CliRunner

    from cli.main import cli

    def _run(*args):
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return _run


@pytest.mark.skipif(not ROWS, reason="no ../shared/data/c2pa/expected.csv")
@pytest.mark.parametrize("row", ROWS, ids=[r["path"] for r in ROWS])
def test_expected_state(row, reports):
    path = C2PA / row["path"]
    if not path.is_file():
        pytest.skip(f"{row['path']} is not in the shared data as such (stored in another format)")
    plain = reports["none"][str(path)]
    anchored = reports["anchors"][str(path)]
    assert plain["state"] == row["state_no_trust"]
    assert anchored["state"] == (row["state_with_c2pa_rs_test_anchors"] or row["state_no_trust"])
    if row["ai_generated"]:
        assert anchored["ai"]["declared"] is (row["ai_generated"] == "True")
    if anchored["state"] in ("valid", "trusted", "invalid"):
        expected_codes = set(row["failure_codes_with_test_anchors"].split())
        assert set(anchored["c2pa"]["failure_codes"]) == expected_codes


@pytest.mark.skipif(not ROWS, reason="no ../shared/data/c2pa/expected.csv")
def test_most_rows_are_checkable():
    assert len(_present(ROWS)) >= len(ROWS) - 2
