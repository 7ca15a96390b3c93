"""Output files of every command follow one policy: regular files replaced atomically with umask modes,
FIFOs and devices written through, symlinks followed, folders refused."""

from __future__ import annotations

import os
import stat
import threading

import pytest
from conftest import assert_clean_error, invoke
from query_models import install, small_corpus_file, w2v_dir  # noqa: F401

from embcli.errors import FormatError
from embcli.folder.output import write_file


def _write(text: str):
    def write(path: str) -> int:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        return len(text)

    return write


def test_a_regular_file_is_replaced_with_the_umask_mode(tmp_path):
    old = os.umask(0o022)
    try:
        target = tmp_path / "out.txt"
        assert write_file(target, _write("one\n")) == 4
        assert target.read_text() == "one\n" and stat.S_IMODE(target.stat().st_mode) == 0o644
        with pytest.raises(FormatError, match="exists: pass --force"):
            write_file(target, _write("two\n"))
        target.chmod(0o600)
        write_file(target, _write("two\n"), force=True)
        assert target.read_text() == "two\n" and stat.S_IMODE(target.stat().st_mode) == 0o600
        assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
    finally:
        os.umask(old)


def test_a_symlink_is_followed_and_a_fifo_written_through(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    write_file(link, _write("via link\n"), force=True)
    assert link.is_symlink() and real.read_text() == "via link\n"
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo).read()))
    reader.start()
    write_file(fifo, _write("through\n"))
    reader.join(10)
    assert got == ["through\n"] and stat.S_ISFIFO(fifo.stat().st_mode)


def test_a_folder_is_refused(tmp_path):
    with pytest.raises(FormatError, match="a file is written there"):
        write_file(tmp_path, _write("x"), force=True)


def test_emb_embed_writes_through_a_symlink_and_keeps_the_link(w2v_dir, tmp_path, emb_home):
    install(w2v_dir, "web-small")
    docs = tmp_path / "docs.txt"
    docs.write_text("the king\nthe queen\n", encoding="utf-8")
    real = tmp_path / "real.tsv"
    real.write_text("")
    link = tmp_path / "link.tsv"
    link.symlink_to(real)
    # The file it points to exists: refused without --force, untouched.
    assert_clean_error(invoke(["embed", docs, "-o", link]), 1, "exists: pass --force to replace it")
    assert real.read_text() == ""
    result = invoke(["embed", docs, "-o", link, "--force", "-q"])
    assert result.exit_code == 0, result.stderr
    assert link.is_symlink() and real.read_text().splitlines()[0] == "line\ttext\tvector"
    assert len(real.read_text().splitlines()) == 3
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
