"""A model's answers on masters kept in wide-gamut colour profiles, converted and not.

    .venv/bin/python bench/colour_profiles.py DATASET_DIR MODEL_URI [PROFILE.icc …]
                        [--format jpeg|heic|avif] [--split test] [--limit N] [--quality 95]

Run where MODEL_URI resolves (the folder of its ``mlflow.db``, or with MLFLOW_TRACKING_URI
set). Every work of ``--split`` of the harvested data set DATASET_DIR (read, never written) is
written again as a lab would keep its master: the sRGB pixels as they are, and converted to
each RGB profile given (the lab's working space: Adobe RGB (1998), eciRGB v2, ProPhoto RGB)
with the profile embedded, each a JPEG (or a phone's HEIC, or an AVIF: ``--format``) of
``--quality``. Each converted file is written a second time without its profile: the same
pixels, which is what a reader that ignores profiles sees. With ``--format heic``, the works
are also written as a phone keeps them in Display P3, named by H.273 colour codes alone (no
ICC profile), and again with sRGB's codes: what a reader that ignores the codes sees. Each
folder is scored with the model (``mediumnet.serving.score.score``, as ``mediumnet score``
does), and the table gives, per variant: how far its decoded pixels lie from the sRGB file's
and how long they take to decode, the macro-F1 over the mediums of the split, the
accuracy, the share of works whose answer is the one the sRGB file gets, and how far the
answer's probabilities move; all in one run. Without profile files at hand,

    .venv/bin/python -m tests.iccprofiles DIR

writes Adobe RGB (1998) and ProPhoto RGB compatible ones (the tests' own) into DIR.
"""

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mediumnet.console import quiet  # noqa: E402


def read_profiles(paths: list[Path]) -> dict[str, bytes]:
    """Return ``{description: profile bytes}`` of RGB profile files; exit on any other file."""
    from PIL import ImageCms

    profiles = {}
    for path in paths:
        if not path.is_file():
            sys.exit(f"{path}: no such file; give ICC profile files (.icc, .icm)")
        data = path.read_bytes()
        try:
            profile = ImageCms.ImageCmsProfile(io.BytesIO(data))
        except (ImageCms.PyCMSError, OSError) as exc:
            sys.exit(f"{path}: not an ICC profile ({exc})")
        if profile.profile.xcolor_space.strip() != "RGB":
            sys.exit(f"{path}: a {profile.profile.xcolor_space.strip()} profile; give RGB "
                     "profiles (the master's working space)")
        profiles[ImageCms.getProfileDescription(profile).strip() or path.stem] = data
    return profiles


SUFFIXES = {"jpeg": ".jpg", "heic": ".heic", "avif": ".avif"}
DISPLAY_P3_CODES = (12, 13)
"""H.273's Display P3 primaries with sRGB's curve: how a phone's HEIC names its colours."""


def save(image, path: Path, fmt: str, quality: int, profile: bytes | None = None,
         codes: tuple[int, int] = (1, 13)) -> None:
    """Write ``image`` as ``fmt``, with ``profile`` embedded if given; a HEIC with ``codes``."""
    extra = {"icc_profile": profile} if profile else {}
    if fmt == "heic":
        import pillow_heif  # the test extra's writer; mediumnet reads with pi-heif

        pillow_heif.from_pillow(image).save(path, quality=quality, color_primaries=codes[0],
                                            transfer_characteristics=codes[1], **extra)
    else:
        image.save(path, {"jpeg": "JPEG", "avif": "AVIF"}[fmt], quality=quality, **extra)


def write_variants(root: Path, works, dataset: Path, profiles: dict[str, bytes],
                   quality: int, fmt: str = "jpeg") -> dict[str, Path]:
    """Write every work once per variant, ``<variant folder>/<row><suffix>``; return the folders.

    The variants: ``sRGB``, then for each profile ``<name>, profile embedded`` and ``<name>,
    profile ignored``; a HEIC's also ``Display P3, colour codes`` and ``Display P3, codes
    ignored``.
    """
    from PIL import Image, ImageCms

    from mediumnet.data.icc import cicp_profile
    from mediumnet.data.views import native_pixels

    if fmt == "heic":
        profiles = {**profiles, "Display P3": cicp_profile(*DISPLAY_P3_CODES)}
    names = ["sRGB"] + [f"{name}, {how}" for name in profiles for how in (
        ("colour codes", "codes ignored") if fmt == "heic" and name == "Display P3"
        else ("profile embedded", "profile ignored"))]
    folders = {name: root / f"v{i}" for i, name in enumerate(names)}
    for folder in folders.values():
        folder.mkdir()
    srgb = ImageCms.createProfile("sRGB")
    transforms = {name: ImageCms.buildTransform(srgb, ImageCms.ImageCmsProfile(io.BytesIO(data)),
                                                "RGB", "RGB")
                  for name, data in profiles.items()}
    suffix = SUFFIXES[fmt]
    for row, work in enumerate(works.itertuples()):
        image = Image.fromarray(native_pixels(dataset / work.image_path))
        save(image, folders["sRGB"] / f"{row:05d}{suffix}", fmt, quality)
        for name, transform in transforms.items():
            converted = ImageCms.applyTransform(image, transform)
            converted.info.pop("icc_profile", None)   # the AVIF and HEIC writers would embed it
            if f"{name}, colour codes" in folders:
                save(converted, folders[f"{name}, colour codes"] / f"{row:05d}{suffix}", fmt,
                     quality, codes=DISPLAY_P3_CODES)
                save(converted, folders[f"{name}, codes ignored"] / f"{row:05d}{suffix}", fmt,
                     quality)
                continue
            save(converted, folders[f"{name}, profile embedded"] / f"{row:05d}{suffix}", fmt,
                 quality, profiles[name])
            save(converted, folders[f"{name}, profile ignored"] / f"{row:05d}{suffix}", fmt,
                 quality)
    return folders


def decoded(folder: Path, reference: Path, names: list[str]) -> tuple[float, float]:
    """Return the mean pixel gap of ``folder``'s files to ``reference``'s, and seconds per file.

    The gap is the mean absolute grey-level difference of the pixels as the branches decode
    them (:func:`mediumnet.data.views.native_pixels`); only the decodes of ``folder`` are timed.
    """
    from mediumnet.data.views import native_pixels

    gaps, seconds = [], 0.0
    for name in names:
        started = time.perf_counter()
        pixels = native_pixels(folder / name)
        seconds += time.perf_counter() - started
        gaps.append(np.abs(pixels.astype(np.int16)
                           - native_pixels(reference / name).astype(np.int16)).mean())
    return float(np.mean(gaps)), seconds / len(names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("model_uri")
    parser.add_argument("profiles", type=Path, nargs="*", metavar="PROFILE.icc")
    parser.add_argument("--format", choices=sorted(SUFFIXES), default="jpeg",
                        help="the files' format (heic adds Display P3 named by colour codes)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, default=0, help="at most this many works")
    parser.add_argument("--quality", type=int, default=95)
    args = parser.parse_args()
    quiet()
    import pandas as pd
    from sklearn.metrics import f1_score

    from mediumnet.data.manifest import read_manifest
    from mediumnet.serving.score import score

    profiles = read_profiles(args.profiles)
    if not profiles and args.format != "heic":
        sys.exit("give at least one PROFILE.icc (or --format heic, which brings Display P3)")
    manifest = read_manifest(args.dataset)
    works = manifest[manifest["split"] == args.split].sort_values("id")
    if args.limit:
        works = works.head(args.limit)
    truth = {f"{row:05d}": label for row, label in enumerate(works["label"])}
    tables, gaps = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        folders = write_variants(Path(tmp), works, args.dataset, profiles, args.quality,
                                 args.format)
        for name, folder in folders.items():
            score(folder, Path(tmp) / f"{folder.name}.parquet", model_uri=args.model_uri,
                  batch=32, progress=False)
            table = pd.read_parquet(Path(tmp) / f"{folder.name}.parquet")
            tables[name] = table.set_index(table["path"].map(lambda p: Path(p).stem)
                                           ).sort_index()
            gaps[name] = decoded(folder, folders["sRGB"],
                                 [f"{i}{SUFFIXES[args.format]}" for i in sorted(truth)])
    probability_columns = [c for c in tables["sRGB"].columns if c.startswith("p_")]
    reference = tables["sRGB"]
    expected = [truth[i] for i in reference.index]
    print(f"{len(truth)} {args.split} works of {args.dataset} as {args.format} files of quality "
          f"{args.quality}, scored by {args.model_uri}")
    print("pixel gap: mean grey-level difference of the decoded pixels from the sRGB file's; "
          "probability shift: half the L1 distance of the answer's probabilities from the "
          "sRGB file's, averaged over the works; decode: milliseconds per file, pixels as the "
          "branches see them")
    width = max(map(len, tables))
    print(f"{'variant':<{width}} {'pixel gap':>9} {'decode':>6} {'macro-F1':>8} "
          f"{'accuracy':>8} {'same answer':>11} {'probability shift':>17}")
    for name, table in tables.items():
        got = list(table["label"])
        f1 = f1_score(expected, got, labels=sorted(set(expected)), average="macro",
                      zero_division=0)
        accuracy = float(np.mean(np.array(got) == np.array(expected)))
        same = float(np.mean(table["label"].to_numpy() == reference["label"].to_numpy()))
        shift = float(np.abs(table[probability_columns].to_numpy()
                             - reference[probability_columns].to_numpy()).sum(1).mean() / 2)
        gap, seconds = gaps[name]
        print(f"{name:<{width}} {gap:9.2f} {seconds * 1000:6.1f} {f1:8.3f} {accuracy:8.3f} "
              f"{same:11.3f} {shift:17.4f}")

if __name__ == "__main__":
    main()
