from __future__ import annotations

import json
from pathlib import Path

import pytest

from proteus_worker.contract import (
    ContractError,
    EventValidationError,
    contract,
    contract_dir,
    object_key,
    validate_event,
    worker_heartbeat,
)

VECTORS = contract_dir().parent / "test-vectors"
VALID = sorted((VECTORS / "valid").glob("*.json"))
INVALID = sorted((VECTORS / "invalid").glob("*.json"))


def test_vectors_exist() -> None:
    assert VALID and INVALID, f"no test vectors under {VECTORS}"


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_vector_passes(path: Path) -> None:
    event = json.loads(path.read_text())
    assert validate_event(event) is event


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_vector_fails(path: Path) -> None:
    case = json.loads(path.read_text())
    with pytest.raises(EventValidationError) as caught:
        validate_event(case["event"])
    assert caught.value.issues, case["reason"]


def test_issue_names_the_field_path() -> None:
    event = json.loads((VECTORS / "valid" / "tryon-requested-minimal.json").read_text())
    event["data"]["seed"] = 1.5
    event["data"]["userId"] = "u1\n"  # Python's `$` would let the newline through; the contract's must not
    with pytest.raises(EventValidationError) as caught:
        validate_event(event)
    fields = [issue.split(":", 1)[0] for issue in caught.value.issues]
    assert fields == ["data.seed", "data.userId"]


def test_unknown_type_names_the_known_types() -> None:
    with pytest.raises(EventValidationError, match="dev.proteus.tryon.requested"):
        validate_event({"type": "dev.proteus.nope", "specversion": "1.0"})


def test_names_match_architecture() -> None:
    c = contract()
    assert c.entry_field == "event"
    assert dict(c.streams) == {
        "jobs": "queue:jobs",
        "segment": "queue:segment",
        "lifecycle": "events:jobs",
        "dead": "queue:dead",
    }
    assert dict(c.stream_groups) == {"queue:jobs": "weavers", "queue:segment": "tailors", "events:jobs": "recorders"}
    assert (c.jobs_stream, c.jobs_group) == ("queue:jobs", "weavers")
    assert dict(c.channels) == {"jobDone": "events:job_done"}
    assert sorted(c.config.values()) == ["config:batch_size", "config:degraded_mode", "config:mode", "config:policy"]
    assert worker_heartbeat("gpu-0") == "worker:heartbeat:gpu-0"
    assert object_key("u1", "results", "v1", "png") == "users/u1/results/v1.png"


@pytest.mark.parametrize("bad", ["", "..", "a/b", "../x", "_x", "a\n", "a" * 129])
def test_keys_reject_bad_segments(bad: str) -> None:
    with pytest.raises(ValueError):
        worker_heartbeat(bad)
    with pytest.raises(ValueError):
        object_key(bad, "person", "p1", "jpg")
    with pytest.raises(ValueError):
        object_key("u1", "person", bad, "jpg")


def test_object_key_rejects_unknown_kind_and_extension() -> None:
    with pytest.raises(ValueError, match="kind"):
        object_key("u1", "../person", "p1", "jpg")
    with pytest.raises(ValueError, match="extension"):
        object_key("u1", "person", "p1", "gif")


def test_every_event_type_has_a_schema_and_vice_versa() -> None:
    c = contract()
    files = {p.name for p in c.directory.glob("*.json")} - {"contract.json"}
    assert set(c.events.values()) == files
    for event_type, name in c.events.items():
        assert json.loads((c.directory / name).read_text())["title"] == event_type


def test_missing_contract_dir_says_how_to_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROTEUS_CONTRACT_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(ContractError, match="PROTEUS_CONTRACT_DIR") as caught:
        contract_dir()
    assert str(tmp_path / "nowhere") in str(caught.value)
