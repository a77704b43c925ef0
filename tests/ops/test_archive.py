"""The archive rebuilds a team's session file from envelopes in any order, each record once."""

import random

import pytest

from host.ops import archive as archive_mod
from host.ops.envelope import Envelope, MalformedPayload
from host.session import SessionReader, SessionWriter


def _envelopes(path, team="north"):
    with SessionReader(str(path)) as reader:
        meta, tasking, records = reader.meta, reader.tasking, list(reader.records())
    sid = meta["session_id"]
    yield Envelope(team, sid, 0, "meta", 0.0, {"meta": meta, "tasking": tasking})
    for rec in records:
        yield Envelope(team, sid, rec["id"], rec["kind"], 0.0, rec)


def _contents(path):
    with SessionReader(str(path)) as reader:
        return reader.meta, reader.tasking, list(reader.records()), reader.measurements()


def test_shuffled_repeated_envelopes_with_late_meta_rebuild_the_session(tmp_path, kit):
    team_path = tmp_path / "team.sqlite"
    with SessionWriter(str(team_path), tasking=kit.taskings["north"]) as writer:
        for rec in kit.hunt_records(400, 9):
            writer.record(rec)
    envelopes = list(_envelopes(team_path))
    meta, records = envelopes[0], envelopes[1:]
    rng = random.Random(3)
    shuffled = records + rng.sample(records, 150)      # 150 re-deliveries
    rng.shuffle(shuffled)
    archive = archive_mod.Archive(tmp_path / "archive")
    new = [archive.store(env) for env in shuffled]
    assert archive.store(meta) is True                  # the metadata arrives last
    assert archive.store(meta) is False                 # and once more from a restarted relay
    archive.commit()
    archive.close()
    assert sum(new) == len(records)
    archived = tmp_path / "archive" / "north" / f"{meta.session_id}.sqlite"
    assert _contents(archived) == _contents(team_path)


@pytest.mark.parametrize("record, why", [
    ({"id": 3, "kind": "MEAS", "target": 0}, "id or kind disagrees"),
    ({"id": 2, "kind": "STATUS"}, "id or kind disagrees"),
    ({"kind": "MEAS", "target": 0}, "id or kind disagrees"),
    ({"id": 2, "kind": "MEAS"}, "without a target"),
])
def test_records_that_cannot_be_session_records_are_malformed(tmp_path, record, why):
    archive = archive_mod.Archive(tmp_path)
    with pytest.raises(MalformedPayload, match=why):
        archive.store(Envelope("north", "s1", 2, "MEAS", 0.0, record))


def test_sessions_beyond_the_open_file_limit_are_closed_and_reopened(tmp_path, monkeypatch):
    monkeypatch.setattr(archive_mod, "MAX_OPEN", 2)
    archive = archive_mod.Archive(tmp_path)
    sids = [f"s{i}" for i in range(4)]
    for rid in (1, 2):
        for sid in sids:
            env = Envelope("north", sid, rid, "EVENT", 0.0, {"id": rid, "kind": "EVENT", "text": f"{sid}-{rid}"})
            assert archive.store(env) is True
            assert archive.store(env) is False
            archive.commit()
    archive.close()
    for sid in sids:
        with SessionReader(str(tmp_path / "north" / f"{sid}.sqlite")) as reader:
            assert [r["text"] for r in reader.records()] == [f"{sid}-1", f"{sid}-2"]
