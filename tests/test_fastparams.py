"""Plain parameter conversion (embcli.cli.fastparams): same values and checks as typer's own."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import pytest
import typer
from typer.testing import CliRunner

from embcli.cli import fastparams


class Color(str, Enum):
    red = "red"
    blue = "blue"


def make_app():
    fastparams.install()
    app = typer.Typer()
    seen = {}

    @app.command()
    def cmd(
        names: Annotated[Optional[list[str]], typer.Argument()] = None,
        k: Annotated[int, typer.Option(min=1)] = 3,
        rate: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.5,
        clamped: Annotated[int, typer.Option(min=0, max=10, clamp=True)] = 0,
        color: Annotated[Color, typer.Option(case_sensitive=False)] = Color.red,
        out: Annotated[Optional[Path], typer.Option()] = None,
        existing: Annotated[Optional[Path], typer.Option(exists=True)] = None,
        sizes: Annotated[Optional[list[int]], typer.Option("--size")] = None,
        flag: Annotated[bool, typer.Option("--flag/--no-flag")] = False,
    ):
        seen.update(names=names, k=k, rate=rate, clamped=clamped, color=color, out=out,
                    existing=existing, sizes=sizes, flag=flag)

    return app, seen


def test_values_are_converted(tmp_path):
    app, seen = make_app()
    res = CliRunner().invoke(
        app,
        ["a", "b", "--k", "7", "--rate", "0.25", "--clamped", "99", "--color", "BLUE", "--out", "x/y",
         "--existing", str(tmp_path), "--size", "1", "--size", "2", "--flag"],
    )
    assert res.exit_code == 0, res.output
    assert seen == dict(names=["a", "b"], k=7, rate=0.25, clamped=10, color=Color.blue, out=Path("x/y"),
                        existing=tmp_path, sizes=[1, 2], flag=True)


def test_defaults_pass_through():
    app, seen = make_app()
    assert CliRunner().invoke(app, []).exit_code == 0
    assert seen == dict(names=None, k=3, rate=0.5, clamped=0, color=Color.red, out=None, existing=None,
                        sizes=None, flag=False)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--k", "0"], "0 is not in the range x>=1"),
        (["--k", "2.5"], "'2.5' is not a valid integer"),
        (["--rate", "1.5"], "1.5 is not in the range 0.0<=x<=1.0"),
        (["--color", "green"], "'green' is not one of 'red', 'blue'"),
        (["--size", "x"], "'x' is not a valid integer"),
        (["--existing", "/no/such/path"], "does not exist"),
    ],
)
def test_bad_values_are_usage_errors(args, message):
    app, _ = make_app()
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2 and message in res.output


def test_unsupported_annotations_keep_typers_conversion():
    fastparams.install()
    app = typer.Typer()
    seen = {}

    @app.command()
    def cmd(when: Annotated[datetime, typer.Option()]):
        seen["when"] = when

    res = CliRunner().invoke(app, ["--when", "2024-01-02"])
    assert res.exit_code == 0 and seen["when"] == datetime(2024, 1, 2)
