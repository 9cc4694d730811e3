"""MLproject entry points train_composition, train_texture, train_effnet: `mediumnet train`.

Parameters left at 0 or "" keep the preset's value; the rest become --set overrides.
"""

import argparse

from mediumnet.cli import cli

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("branch")
    parser.add_argument("dataset_dir")
    parser.add_argument("--preset", default="seed")
    parser.add_argument("--epochs", type=float, default=0)
    parser.add_argument("--variant", default="")
    parser.add_argument("--image-size", type=float, default=0)
    parser.add_argument("--stage-epochs", default="")
    parser.add_argument("--weights", default="")
    args = parser.parse_args()
    sets = []
    if args.epochs > 0:
        sets.append(f"{args.branch}.epochs={int(args.epochs)}")
    if args.variant:
        sets.append(f"effnet.variant={args.variant}")
    if args.image_size > 0:
        sets.append(f"effnet.image_size={int(args.image_size)}")
    if args.stage_epochs:
        sets.append(f"effnet.stage_epochs={args.stage_epochs}")
    if args.weights:
        sets.append(f"effnet.weights={args.weights}")
    argv = ["train", args.branch, args.dataset_dir, "--preset", args.preset, "--quiet"]
    for assignment in sets:
        argv += ["--set", assignment]
    cli.main(args=argv, prog_name="mlproject/train.py")
