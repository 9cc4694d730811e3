"""MLproject entry point stack: `mediumnet stack`.

Empty model URIs use the default choice (the branch models trained on the dataset);
features: "auto" (the preset's setting), "on" or "off".
"""

import argparse

from mediumnet.cli import cli

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset_dir")
    parser.add_argument("--preset", default="seed")
    parser.add_argument("--composition", default="")
    parser.add_argument("--texture", default="")
    parser.add_argument("--effnet", default="")
    parser.add_argument("--features", choices=["auto", "on", "off"], default="auto")
    parser.add_argument("--meta-learner", default="")
    args = parser.parse_args()
    argv = ["stack", args.dataset_dir, "--preset", args.preset, "--quiet"]
    for name in ("composition", "texture", "effnet"):
        if getattr(args, name):
            argv += [f"--{name}", getattr(args, name)]
    if args.features != "auto":
        argv.append("--features" if args.features == "on" else "--no-features")
    if args.meta_learner:
        argv += ["--set", f"ensemble.meta_learner={args.meta_learner}"]
    cli.main(args=argv, prog_name="mlproject/stack.py")
