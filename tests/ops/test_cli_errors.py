"""`rfhound relay` / `rfhound ops` answer bad input in one line with exit status 2."""

import subprocess
import sys

import pytest


def _run(*args):
    return subprocess.run([sys.executable, "-m", "host.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=30)


@pytest.mark.parametrize("argv, why", [
    (("relay", "--broker", "tcp://h", "--team", "north", "S"), "is not mqtt://HOST"),
    (("relay", "--broker", "mqtt://127.0.0.1:1", "--allow-insecure", "--team", "no/slash", "S"), "team name"),
    (("relay", "--broker", "mqtt://127.0.0.1:1", "--allow-insecure", "--team", "north", "/nonexistent/s.sqlite"),
     "no such session file"),
    (("ops", "--broker", "mqtt://h:x", "--archive", "A", "--headless"), "bad port"),
])
def test_bad_input_is_one_line_and_exit_2(argv, why):
    proc = _run(*argv)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and why in proc.stderr
    assert proc.stderr.startswith(f"rfhound {argv[0]}: error: ")


def test_an_archive_path_that_is_a_file_is_refused(tmp_path):
    archive = tmp_path / "archive"
    archive.write_text("not a directory")
    proc = _run("ops", "--broker", "mqtt://127.0.0.1:1", "--allow-insecure", "--archive", archive, "--headless")
    assert proc.returncode == 2
    assert "--archive" in proc.stderr and "writable directory" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("option", ["--every", "--connect-timeout"])
def test_non_positive_intervals_are_refused(tmp_path, option):
    proc = _run("ops", "--broker", "mqtt://127.0.0.1:1", "--allow-insecure", "--archive", tmp_path, "--headless",
                option, "0")
    assert proc.returncode == 2 and f"{option} 0: give a number of seconds above 0" in proc.stderr


def test_a_foreign_file_is_not_relayed(tmp_path):
    path = tmp_path / "notes.sqlite"
    path.write_bytes(b"not a database at all" * 100)
    proc = _run("relay", "--broker", "mqtt://127.0.0.1:1", "--allow-insecure", "--team", "north", path)
    assert proc.returncode == 2 and "not a readable session file" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_ops_without_a_broker_says_so(tmp_path):
    from host.ops.localbroker import free_port

    proc = _run("ops", "--broker", f"mqtt://127.0.0.1:{free_port()}", "--allow-insecure", "--archive", tmp_path,
                "--headless", "--connect-timeout", "1")
    assert proc.returncode == 2
    assert "not reachable within" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("argv, why", [
    (("relay", "--broker", "mqtt://127.0.0.1:1", "--team", "north", "--username", "north", "S"), "is plain TCP"),
    (("relay", "--broker", "mqtts://127.0.0.1:1", "--team", "north", "S"), "would be used anonymously"),
    (("ops", "--broker", "mqtt://127.0.0.1:1", "--username", "ops", "--archive", "A", "--headless"),
     "is plain TCP"),
    (("ops", "--broker", "mqtts://127.0.0.1:1", "--archive", "A", "--headless"), "would be used anonymously"),
])
def test_plain_or_anonymous_brokers_are_refused_in_one_line(argv, why, monkeypatch):
    monkeypatch.delenv("RFHOUND_MQTT_PASSWORD", raising=False)
    proc = _run(*argv)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and why in proc.stderr and "--allow-insecure" in proc.stderr
    assert proc.stderr.startswith(f"rfhound {argv[0]}: error: broker mqtt")


def test_ops_gaps_needs_an_archive_directory(tmp_path):
    proc = _run("ops", "--archive", tmp_path / "none", "--gaps")
    assert proc.returncode == 2 and "no such directory" in proc.stderr and proc.stderr.count("\n") == 1
    proc = _run("ops", "--archive", tmp_path, "--headless")
    assert proc.returncode == 2 and "--broker URL is required" in proc.stderr
