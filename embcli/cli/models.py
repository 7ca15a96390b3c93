"""``emb models list|info|use|rm``: the model store."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from embcli.cli.console import human_bytes, info, warn
from embcli.cli.options import FormatOpt, OutputFormat, complete_model

app = typer.Typer(help="List, inspect, choose and remove models in the store.", no_args_is_help=True)
NameArg = Annotated[
    str, typer.Argument(help="Model name (see `emb models list`).", show_default=False, autocompletion=complete_model)
]


@app.command("list")
def list_cmd(fmt: FormatOpt = OutputFormat.auto) -> None:
    """List the models: name, algorithm, dim, vocabulary, vector storage, size, created, default.

    A damaged model is listed with the algorithm "damaged" and a warning saying what is wrong.
    """
    from embcli.api import models as list_models
    from embcli.cli.output import Renderer

    models = list_models()
    out = Renderer(fmt, ["name", "algorithm", "dim", "vocab", "storage", "size", "created", "default"])
    for m in models:
        if m.damaged:
            warn(f"model {m.name!r} is damaged ({m.damaged}); remove it with `emb models rm {m.name}`")
        out.row(
            {
                "name": m.name,
                "algorithm": "damaged" if m.damaged else m.algorithm,
                "dim": m.dim,
                "vocab": m.vocab_size,
                "storage": m.storage,
                "size": human_bytes(m.size_bytes) if out.fmt == "table" else m.size_bytes,
                "created": m.created,
                "default": "*" if out.fmt == "table" and m.default else (m.default if out.fmt != "table" else ""),
            }
        )
    out.close()
    if not models:
        from embcli.api import store_folder

        info(f"no models yet in {store_folder()}: train one with `emb train FILE`")


@app.command("info")
def info_cmd(name: NameArg) -> None:
    """Print a model's metadata (training parameters, corpus, tokenizer) as JSON."""
    from embcli.api import model_info

    typer.echo(json.dumps(model_info(name), indent=2, ensure_ascii=False))


@app.command("use")
def use_cmd(name: NameArg) -> None:
    """Make a model the default for queries."""
    from embcli.api import set_default

    set_default(name)
    info(f"default model: {name}")


@app.command("rm")
def rm_cmd(name: NameArg) -> None:
    """Delete a model from the store."""
    from embcli.api import remove

    was_default = remove(name)
    info(f"removed {name}" + (" (it was the default; there is no default now)" if was_default else ""))
