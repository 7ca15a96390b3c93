"""The typer layer: parse arguments, call the library, render results. No numerical work here."""
