"""Batch scoring: images in (folder, CSV, Parquet), one Parquet table of answers out.

:func:`score` reads INPUT — a folder of images, or a CSV or Parquet table with a ``path``,
``url`` or ``image`` (base64) column — and writes OUTPUT, a Parquet table of the input columns
followed by the serving schema (``label``, ``confidence``, ``p_<medium>``, ``error``), one row
per input row, in order. A row that cannot be answered gets its ``error`` and no
probabilities; the others are answered normally, exactly as the served model does.

Both engines run the registered pyfunc model itself, under the same guard as a server
(:mod:`mediumnet.serving.guard`) opened to the folder the input's files lie in:

- ``local``: in this process, in batches, with a progress bar;
- ``spark``: ``mlflow.pyfunc.spark_udf`` on a Spark session (``local[*]`` unless a master is
  given), the input columns passed by name in a struct (never by position), Arrow batches of
  ``batch`` rows.

The output is written to a temporary file beside OUTPUT and renamed over it when complete: a
failed run leaves no half table and an earlier OUTPUT untouched.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mediumnet.data.images import images_in, table_image_path
from mediumnet.data.sheets import read_sheet
from mediumnet.errors import MediumnetError
from mediumnet.labels import MEDIUMS
from mediumnet.serving.requests import INPUT_COLUMNS

ENGINES = ("local", "spark")


@dataclass
class ScoreResult:
    """What :func:`score` wrote."""

    output: Path
    rows: int
    failed: int
    seconds: float
    engine: str
    mediums: tuple[str, ...] = MEDIUMS
    """The mediums the model tells apart (its saved settings' ``classes``); the others always
    get probability 0."""

    @property
    def images_per_second(self) -> float:
        """Rows answered (well or with an error) per second of scoring."""
        return self.rows / max(self.seconds, 1e-9)


def read_input(source: str | os.PathLike[str]) -> tuple[pd.DataFrame, list[Path]]:
    """Read what to score: a folder of images, or a CSV / Parquet table.

    Relative paths in a table are read relative to the table's own folder (and made
    absolute; a Windows export's backslashes as folder separators where that names no file).
    Returns the rows and the folders their files lie in (what the guard opens).

    Raises
    ------
    MediumnetError
        A missing input, an unknown file type, an empty input, or a table without a
        ``path``, ``url`` or ``image`` column.
    """
    source = Path(source)
    if source.is_dir():
        files = [p.resolve() for p in images_in(source)]
        return pd.DataFrame({"path": [str(p) for p in files]}), [source.resolve()]
    if not source.is_file():
        raise MediumnetError(f"{source}: no such file or folder; give a folder of images, a "
                             "CSV or a Parquet table")
    suffix = source.suffix.lower()
    if suffix == ".csv":
        frame = read_sheet(source)
    elif suffix in (".parquet", ".pq"):
        frame = pd.read_parquet(source)
    else:
        raise MediumnetError(f"{source}: give a folder of images, a .csv or a .parquet table")
    if not any(c in frame.columns for c in INPUT_COLUMNS):
        raise MediumnetError(f"{source}: no path, url or image column (columns: "
                             f"{', '.join(map(str, frame.columns)) or 'none'}); name the "
                             "column of image paths 'path'")
    if frame.empty:
        raise MediumnetError(f"{source}: the table has no rows")
    folders = []
    if "path" in frame.columns:
        base = source.resolve().parent
        frame = frame.copy()
        frame["path"] = [str(table_image_path(base, p))
                         if isinstance(p, str) and p and not os.path.isabs(p) else p
                         for p in frame["path"]]
        folders = sorted({Path(p).parent for p in frame["path"] if isinstance(p, str) and p})
    return frame.reset_index(drop=True), folders


def _guard_env(folders: list[Path], batch: int) -> dict[str, str]:
    """Return the server guard's settings for scoring: the input's folders open, ``batch`` rows."""
    from mediumnet.serving.guard import ENV_MAX_ROWS, ENV_ROOTS

    roots = sorted({str(f) for f in folders})
    return {ENV_ROOTS: os.pathsep.join(roots), ENV_MAX_ROWS: str(batch)}


def _model_input(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the served model's input: its three columns, strings or missing."""
    out = pd.DataFrame(index=frame.index)
    for column in INPUT_COLUMNS:
        values = frame[column] if column in frame.columns else None
        out[column] = (values.astype(object).where(values.notna(), None)
                       if values is not None else None)
    return out


def score_local(frame: pd.DataFrame, model_uri: str, batch: int,
                progress: bool = True) -> pd.DataFrame:
    """Answer every row in this process with the pyfunc model, ``batch`` rows at a time."""
    import mlflow
    from tqdm.auto import tqdm

    from mediumnet.ensemble.classifier import OUTPUT_COLUMNS

    model = mlflow.pyfunc.load_model(model_uri)
    inputs = _model_input(frame)
    parts = []
    with tqdm(total=len(frame), desc="score", unit="img", leave=False,
              disable=None if progress else True) as bar:
        for start in range(0, len(frame), batch):
            chunk = inputs.iloc[start:start + batch]
            parts.append(pd.DataFrame(model.predict(chunk.reset_index(drop=True)))
                         [list(OUTPUT_COLUMNS)])
            bar.update(len(chunk))
    return pd.concat(parts, ignore_index=True)


def score_spark(frame: pd.DataFrame, model_uri: str, batch: int, master: str | None,
                env: dict[str, str]) -> pd.DataFrame:
    """Answer every row with ``mlflow.pyfunc.spark_udf`` on a Spark session.

    Raises
    ------
    MediumnetError
        Without pyspark (the ``mediumnet[spark]`` extra) or without Java.
    """
    try:
        from pyspark.sql import SparkSession
        from pyspark.sql import functions as sf
    except ImportError:
        raise MediumnetError("--engine spark needs pyspark: pip install 'mediumnet[spark]'"
                             ) from None
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        raise MediumnetError("--engine spark needs Java (a JDK 17 or 21): install one, or "
                             "set JAVA_HOME, or use --engine local")
    import sys

    import mlflow

    from mediumnet.ensemble.classifier import OUTPUT_COLUMNS, PROBABILITY_COLUMNS

    # The executors run this Python (with mediumnet and its dependencies), not the system's.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = (SparkSession.builder.appName("mediumnet-score")
               .master(master or "local[*]")
               .config("spark.pyspark.python", os.environ["PYSPARK_PYTHON"])
               .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(batch))
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false"))
    for key, value in env.items():  # the executors' guard (local mode inherits os.environ)
        builder = builder.config(f"spark.executorEnv.{key}", value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    try:
        inputs = _model_input(frame)
        inputs.insert(0, "_row", range(len(inputs)))
        sdf = spark.createDataFrame(inputs, schema=", ".join(
            ["_row long", *[f"{c} string" for c in INPUT_COLUMNS]]))
        result_type = ", ".join(["label string", "confidence double",
                                 *[f"{c} double" for c in PROBABILITY_COLUMNS],
                                 "error string"])
        udf = mlflow.pyfunc.spark_udf(spark, model_uri, result_type=result_type,
                                      env_manager="local")
        # By name: one struct whose fields are the model's input columns.
        answered = (sdf.select("_row", udf(sf.struct(*[sf.col(c) for c in INPUT_COLUMNS]))
                               .alias("out")).select("_row", "out.*")
                    # spark_udf casts a missing string with str(): "None". No label or error
                    # message is ever that text, so it is put back to null.
                    .replace("None", None, subset=["label", "error"]))
        out = answered.toPandas().sort_values("_row").reset_index(drop=True)
    except Exception as exc:  # Py4J and PySpark errors carry the executor's traceback
        lines = [line for line in str(exc).splitlines() if line.strip()]
        cause = next((line for line in reversed(lines) if "Error" in line), lines[-1]
                     if lines else type(exc).__name__)
        raise MediumnetError(f"Spark scoring failed: {cause.strip()[:300]}") from None
    finally:
        spark.stop()
    return out[list(OUTPUT_COLUMNS)]


def score(source: str | os.PathLike[str], output: str | os.PathLike[str], *,
          model_uri: str | None = None, engine: str = "local",
          master: str | None = None, batch: int = 64, progress: bool = True) -> ScoreResult:
    """Score a folder or table of images into a Parquet table.

    Parameters
    ----------
    source : path-like
        A folder of images, or a CSV / Parquet table with a ``path``, ``url`` or ``image``
        column (other columns are carried to the output).
    output : path-like
        The Parquet file to write (replaced atomically when complete).
    model_uri : str, optional
        Any mediumnet ensemble URI (default: ``models:/mediumnet-ensemble@champion``).
    engine : {"local", "spark"}
    master : str, optional
        Spark master URL (default ``local[*]``).
    batch : int
        Rows per model call.

    Raises
    ------
    MediumnetError
        Bad input, an unknown engine, a model that cannot be loaded, or Spark unavailable.
    """
    from mediumnet.ensemble.classifier import OUTPUT_COLUMNS
    from mediumnet.ensemble.model import fetch_model
    from mediumnet.registry import model_uri as registered

    model_uri = model_uri or registered("ensemble")
    if engine not in ENGINES:
        raise MediumnetError(f"unknown engine {engine!r}: choose local or spark")
    if batch < 1:
        raise MediumnetError(f"--batch {batch}: give at least 1 row per batch")
    output = Path(output)
    if output.suffix.lower() not in (".parquet", ".pq"):
        raise MediumnetError(f"{output}: the output is a Parquet table; name it *.parquet")
    if output.is_dir():
        raise MediumnetError(f"{output} is a folder: give a file name ending in .parquet")
    frame, folders = read_input(source)
    clash = [c for c in OUTPUT_COLUMNS if c in frame.columns]
    if clash:
        raise MediumnetError(f"{source}: the input already has the output column(s) "
                             f"{', '.join(clash)}; rename them")
    env = _guard_env(folders, batch)
    started = time.perf_counter()
    # Downloaded once, here: a bad URI is one line, and Spark ships the folder to executors.
    model_uri, info = fetch_model(model_uri)
    mediums = tuple(((info.metadata or {}).get("mediumnet") or {}).get("classes") or MEDIUMS)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        answers = (score_local(frame, model_uri, batch, progress) if engine == "local"
                   else score_spark(frame, model_uri, batch, master, env))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    seconds = time.perf_counter() - started
    table = pd.concat([frame.reset_index(drop=True), answers.reset_index(drop=True)], axis=1)
    output.parent.mkdir(parents=True, exist_ok=True)
    part = output.with_name(f".{output.name}.{os.getpid()}.part")
    try:
        table.to_parquet(part, index=False)
        part.replace(output)
    finally:
        part.unlink(missing_ok=True)
    return ScoreResult(output, len(table), int(table["error"].notna().sum()), seconds, engine,
                       mediums)
