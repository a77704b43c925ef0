"""The live-hunt board: rows per hunt, last fix, link age, and a target seen in two hunts."""

from host.ops.envelope import Envelope
from host.ops.hunts import HuntBoard


def _meta(team, sid, targets, area):
    return Envelope(team, sid, 0, "meta", 100.0,
                    {"meta": {"session_id": sid}, "tasking": {"targets": targets, "area": area}})


def _meas(team, sid, rid, lat, lon, sent_s=100.0):
    return Envelope(team, sid, rid, "MEAS", sent_s,
                    {"id": rid, "kind": "MEAS", "target": 0, "lat_deg": lat, "lon_deg": lon, "floor": 2})


def test_rows_carry_area_targets_last_fix_and_link_age():
    board = HuntBoard()
    board.update(_meta("north", "s1", [{"label": "rack-A", "imsi": "46000********12"}], "old town"), 1000.0)
    board.update(_meas("north", "s1", 1, 31.1, 121.1), 1001.0)
    board.update(_meas("north", "s1", 2, 31.2, 121.2), 1002.0)
    board.update(_meas("north", "s1", 2, 31.2, 121.2), 1003.0, new=False)
    (row,) = board.rows(now_s=1010.0)
    assert row["team"] == "north" and row["area"] == "old town"
    assert row["targets"] == "rack-A (46000********12)"
    assert row["last_fix"] == (31.2, 121.2, 2)
    assert row["link_age_s"] == 7.0
    assert row["records"] == 2
    assert not row["duplicate"]


def test_same_masked_imsi_or_label_in_two_hunts_is_flagged():
    board = HuntBoard()
    board.update(_meta("north", "s1", [{"label": "rack-A", "imsi": "46000********12"},
                                       {"label": "rack-B", "imsi": "46001********34"}], "a"), 0.0)
    board.update(_meta("south", "s2", [{"label": "rack-C", "imsi": "46000********12"}], "b"), 0.0)
    board.update(_meta("east", "s3", [{"label": "rack-B", "imsi": None}], "c"), 0.0)
    board.update(_meta("west", "s4", [{"label": "rack-Z", "imsi": "23415*******21"}], "d"), 0.0)
    assert board.duplicates() == {
        ("imsi", "46000********12"): [("north", "s1"), ("south", "s2")],
        ("label", "rack-B"): [("east", "s3"), ("north", "s1")],
    }
    flagged = {r["team"]: r["duplicate"] for r in board.rows(0.0)}
    assert flagged == {"east": True, "north": True, "south": True, "west": False}


def test_one_hunt_listing_a_target_twice_is_not_a_duplicate():
    board = HuntBoard()
    board.update(_meta("north", "s1", [{"label": "A", "imsi": "46000********12"},
                                       {"label": "A", "imsi": "46000********12"}], "a"), 0.0)
    assert board.duplicates() == {}

