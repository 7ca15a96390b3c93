

def plot(models, words=None, method: str = "pca", path: str | os.PathLike | None = None, top: int | None = None,
         neighbours_of: str | None = None, k: int = 30, seed: int = 0, clusters: int | None = None):
    """Map words of one model (or two, aligned): the matplotlib Figure, or with ``path`` the file written.

    ``models`` is a ``ModelFolder`` or a list of one or two. The Python API's ``Model.plot`` is this.
    """
    models = list(models) if isinstance(models, (list, tuple)) else [models]
    kind = output_kind(path) if path is not None else "png"
    require(kind)
    wmap = maps_build(models, words, top, neighbours_of, k, method, seed, clusters,
                      hover_neighbours=8 if kind == "html" else 0)
    if path is None:
        return figure(wmap)
    written, _ = save_map(wmap, path)
    return written
