"""The keys file, and making new keys."""

from __future__ import annotations

import pytest
from support import start_refused

from taskmanager.keys import KEY_PREFIX, KeysFileError, digest_of, file_line, load_keys, new_key


def test_a_new_key_is_random_and_its_line_reads_back_as_its_holder(tmp_path):
    first, second = new_key(), new_key()
    assert first != second
    assert first.startswith(KEY_PREFIX)
    assert len(first) > 40
    path = tmp_path / "keys"
    path.write_text(file_line("ci-bot", "admin", first) + "\n")
    ring = load_keys(path)
    holder = ring.holder(first)
    assert holder is not None
    assert (holder.name, holder.admin) == ("ci-bot", True)
    assert ring.holder(second) is None
    assert ring.holder("") is None


def test_only_the_hash_of_a_key_is_in_the_file(tmp_path):
    key = new_key()
    line = file_line("alice", "client", key)
    assert key not in line
    assert line.split() == ["alice", "client", digest_of(key)]


@pytest.mark.parametrize(
    ("content", "line", "why"),
    [
        ("alice client\n", 1, "expected '<name> <role> <sha256 hex>'"),
        (f"# fine\nalice owner {'a' * 64}\n", 2, "role must be client or admin"),
        (f"alice client {'g' * 64}\n", 1, "64 hex digits"),
        (f"al ice client {'a' * 64}\n", 1, "expected"),
        (f"alice client {'a' * 64}\nalice admin {'b' * 64}\n", 2, "used twice"),
        (f"alice client {'a' * 64}\nbob admin {'a' * 64}\n", 2, "listed twice"),
    ],
)
def test_a_malformed_line_is_named_with_its_number(tmp_path, content, line, why):
    path = tmp_path / "keys"
    path.write_text(content)
    with pytest.raises(KeysFileError, match=why) as raised:
        load_keys(path)
    assert str(raised.value).startswith(f"{path}:{line}: ")


def test_an_empty_or_unreadable_file_is_refused(tmp_path):
    empty = tmp_path / "empty"
    empty.write_text("# nobody yet\n")
    with pytest.raises(KeysFileError, match="no keys"):
        load_keys(empty)
    with pytest.raises(KeysFileError, match="cannot be read"):
        load_keys(tmp_path / "missing")


def test_a_malformed_keys_file_stops_the_server_with_one_line(tmp_path):
    path = tmp_path / "keys"
    path.write_text(f"alice client {'a' * 64}\nbob boss {'b' * 64}\n")
    line = start_refused(TASKMANAGER_API_KEYS_FILE=str(path))
    assert "TASKMANAGER_API_KEYS_FILE" in line
    assert f"{path}:2" in line
