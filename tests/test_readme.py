"""The Python example of README.md runs as printed (on the small corpus, into a temporary folder)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def python_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    return code


def test_the_python_example_runs(tmp_path, web_file, capsys):
    code = python_example()
    assert "sample_data/web.txt.xz" in code and "/tmp/emb-readme-model" in code
    code = code.replace("sample_data/web.txt.xz", str(web_file)).replace("/tmp/emb-readme", str(tmp_path / "readme"))
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    assert "<embcli.Model 'readme-model'" in out and "error: unknown word 'qwertyuiop'" in out
    assert "questions-words.txt analogy-add" in out and "wordsim353.tsv similarity-spearman" in out
    assert (tmp_path / "readme-vectors.txt").is_file()
