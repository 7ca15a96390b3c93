"""Optional extras: the missing-extra error, imports that never need an extra, every extra documented."""

from __future__ import annotations

import pickle
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from embcli import versions
from embcli.errors import EmbError, MissingExtraError
from embcli.extras import available, require

ROOT = Path(__file__).resolve().parent.parent


def test_require_returns_the_module():
    import json as expected

    assert require("json", extra="none") is expected


def test_a_missing_extra_is_one_line_naming_the_pip_command():
    with pytest.raises(MissingExtraError) as caught:
        require("no_such_module_emb", extra="ko", feature="Korean tokenizing")
    message = str(caught.value)
    assert message == (
        "Korean tokenizing needs the 'ko' extra (no_such_module_emb is not installed): pip install 'embcli[ko]'"
    )
    assert isinstance(caught.value, EmbError) and caught.value.exit_code == 1
    assert caught.value.extra == "ko" and caught.value.module == "no_such_module_emb"


def test_without_a_feature_the_module_is_named():
    with pytest.raises(MissingExtraError, match=r"^no_such_module_emb\.sub needs the 'plot' extra \(no_such_module_emb"):
        require("no_such_module_emb.sub", extra="plot")


def test_a_module_whose_own_dependency_is_missing_says_so(tmp_path, monkeypatch):
    (tmp_path / "half_installed_emb.py").write_text("import no_such_dependency_emb\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(MissingExtraError) as caught:
        require("half_installed_emb", extra="zh")
    assert "half_installed_emb cannot be imported: No module named 'no_such_dependency_emb'" in str(caught.value)
    assert str(caught.value).endswith("pip install 'embcli[zh]'") and "\n" not in str(caught.value)


def test_the_error_survives_a_worker_process():
    error = MissingExtraError("kiwipiepy", "ko", "Korean tokenizing")
    again = pickle.loads(pickle.dumps(error))
    assert str(again) == str(error) and again.extra == "ko"


def test_available_does_not_import():
    assert available("json") and not available("no_such_module_emb") and not available("no_such_module_emb.sub")
    assert available("embcli.extras")


def test_every_module_imports_without_the_optional_packages():
    """Block every installed package that only an extra (not test/bench) brings, then import all of embcli."""
    def name(requirement: str) -> str:
        return re.split(r"[\s\[<>=!~;(]", requirement, maxsplit=1)[0].lower().replace("_", "-")

    core, dists = set(), set()
    for requirement in metadata.distribution("embcli").metadata.get_all("Requires-Dist") or []:
        extra = re.search(r"""extra\s*==\s*["']([^"']+)["']""", requirement)
        if extra is None:
            core.add(name(requirement))
        elif extra.group(1) not in ("test", "bench"):
            dists.add(name(requirement))
    dists -= core
    # The engines --version knows as optional are blocked too, whether or not an extra lists them yet.
    always = {shown for shown, _ in versions.OPTIONAL}
    blocked = sorted(
        module for module, owners in metadata.packages_distributions().items()
        if any(owner.lower().replace("_", "-") in dists for owner in owners)
    ) + sorted(always)
    script = f"""
import importlib, importlib.abc, pkgutil, sys
BLOCKED = set({blocked!r})
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Block())
import embcli
names = [m.name for m in pkgutil.walk_packages(embcli.__path__, "embcli.") if not m.name.endswith("__main__")]
for name in names:
    importlib.import_module(name)
print(len(names))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 20



def test_every_extra_has_a_line_in_the_readme_install_table():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = list(project["optional-dependencies"])
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    install = readme.split("\n## Install\n", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `([a-z0-9-]+)` \|", install, flags=re.M)
    assert "test" in extras and sorted(extras) == sorted(documented)
