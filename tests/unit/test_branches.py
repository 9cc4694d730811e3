"""Branches are plug-ins: each in one module, found through the registry, named nowhere else."""

import ast
import io
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from mediumnet.branches import BRANCHES, branch_of, get_branch, keras_branches
from mediumnet.branches.composition import CompositionPreprocessor
from mediumnet.branches.effnet import EffnetPreprocessor
from mediumnet.branches.features import FeaturesMeasure
from mediumnet.branches.texture import TexturePreprocessor, pool_tiles
from mediumnet.config import load_config
from mediumnet.data.decode import decode
from mediumnet.errors import ConfigError, MediumnetError
from mediumnet.labels import MEDIUMS
from tests.conftest import REPO


def _jpeg(width=900, height=600):
    rng = np.random.default_rng(3)
    image = Image.fromarray(rng.integers(0, 255, (height // 60, width // 60, 3), np.uint8))
    buffer = io.BytesIO()
    image.resize((width, height), Image.Resampling.BICUBIC).save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def _branch_literals(path):
    """String constants in a module that are exactly a branch's name."""
    tree = ast.parse(path.read_text())
    return sorted({(node.lineno, node.value) for node in ast.walk(tree)
                   if isinstance(node, ast.Constant) and node.value in BRANCHES})


def test_no_module_outside_the_branches_names_a_branch():
    # The acceptance rule of the plug-in layout: only mediumnet/branches/ knows the names.
    named = {str(p.relative_to(REPO)): _branch_literals(p)
             for p in sorted((REPO / "mediumnet").rglob("*.py"))
             if "branches" not in p.relative_to(REPO / "mediumnet").parts}
    assert {k: v for k, v in named.items() if v} == {}
    # The check can fail: a branch module itself names its branch.
    assert _branch_literals(REPO / "mediumnet" / "branches" / "texture.py")


@pytest.mark.parametrize("name", [b.name for b in keras_branches()])
def test_a_preprocessor_survives_its_config(name):
    branch = get_branch(name)
    made = branch.preprocessor(load_config("demo"), ("painting", "photography"))
    settings = made.to_config()
    assert branch_of(settings) is branch
    again = branch.preprocessor_from_config(json.loads(json.dumps(settings)))
    assert again == made and type(again) is type(made)
    assert again.classes == ("painting", "photography")
    assert again.example().shape[1:] == made(np.zeros((300, 400, 3), np.uint8)).shape[1:]


def test_settings_saved_before_branches_were_plug_ins_still_load():
    old_composition = {"view": "composition", "branch": "composition", "size": 96,
                       "letterbox_pad": 127, "classes": list(MEDIUMS)}
    old_texture = {"view": "texture", "tile": 64, "tiles_per_image": 4, "long_edge": 800,
                   "pooling": "mean_log_probability", "classes": list(MEDIUMS)}
    old_effnet = {"view": "composition", "size": 96, "branch": "effnet"}
    assert branch_of(old_texture).preprocessor_from_config(old_texture) == \
        TexturePreprocessor(tile=64, tiles_per_image=4, long_edge=800)
    assert branch_of(old_composition).preprocessor_from_config(old_composition) == \
        CompositionPreprocessor(size=96)
    # Before mediums were recorded, and before the composition view named its branch.
    bare = {"view": "composition", "size": 32}
    assert branch_of(bare).preprocessor_from_config(bare).classes == MEDIUMS
    assert isinstance(branch_of(old_effnet).preprocessor_from_config(old_effnet),
                      EffnetPreprocessor)
    with pytest.raises(MediumnetError, match="unknown preprocessing view 'sketch'"):
        branch_of({"view": "sketch"})


def test_serving_cuts_the_views_the_cache_trained_on():
    from mediumnet.data.views import native_pixels

    data = _jpeg()
    pixels = native_pixels(data)
    texture = TexturePreprocessor(tile=64, tiles_per_image=4, long_edge=800)
    assert np.array_equal(texture(pixels), texture.grid(texture.bounded_from_file(data)))
    composition = CompositionPreprocessor(size=96)
    served = composition(pixels)[0].astype(int)
    cached = composition.from_file(data).astype(int)
    assert np.abs(served - cached).mean() < 3.0          # reduced JPEG decode: a hair apart
    image = decode(data)
    values = FeaturesMeasure(("edge_density", "grayscale"))(image)
    assert len(values) == 2 and values[1] == 0.0
    assert FeaturesMeasure(("edge_density",))(image) == values[:1]   # measured once, reused


def test_tiles_pool_into_a_renormalised_geometric_mean():
    p = np.array([[0.7, 0.1, 0.1, 0.05, 0.05], [0.5, 0.3, 0.1, 0.05, 0.05],
                  [0.1, 0.6, 0.1, 0.1, 0.1], [0.2, 0.5, 0.1, 0.1, 0.1]])
    pooled = pool_tiles(p, 2)
    assert pooled.shape == (2, 5) and np.allclose(pooled.sum(1), 1)
    assert pooled[0].argmax() == 0 and pooled[1].argmax() == 1
    expected = np.exp(np.log(p[:2]).mean(0))
    assert np.allclose(pooled[0], expected / expected.sum())


def test_unknown_branches_and_fitted_ones_are_refused_by_train():
    from mediumnet.train.step import trainable_branch

    with pytest.raises(MediumnetError, match="unknown branch 'vit': choose one of "
                                             "composition, texture, effnet, features"):
        get_branch("vit")
    with pytest.raises(MediumnetError, match="the features branch is fit by mediumnet stack"):
        trainable_branch("features")


def test_a_new_branch_reaches_every_face_through_the_registry(tmp_path):
    # Adding a branch is one module and one registry line: here a fitted branch "toy",
    # registered before the faces are imported, shows in the settings, the presets, the
    # stack command's options, the MLproject and the promotion choices.
    (tmp_path / "toy.py").write_text(textwrap.dedent('''
        from dataclasses import dataclass
        from mediumnet.branches.base import EstimatorServed, FittedBranch

        @dataclass
        class ToyConfig:
            bins: int = 4

        class ToyBranch(FittedBranch):
            name = "toy"
            title = "the toy branch (mean brightness)"
            summary = "the mean brightness of each image"
            settings = ToyConfig
            presets = {"tiny": {"bins": 2}}
            positive = ("bins",)

            def from_estimator(self, estimator, classes):
                return EstimatorServed(self.name, estimator, {"branch": self.name,
                                       "classes": list(classes)},
                                       lambda image: [float(image.pixels.mean())])
        '''))
    code = textwrap.dedent('''
        import mediumnet.branches as registry
        from toy import ToyBranch
        registry.BRANCHES["toy"] = ToyBranch()
        from click.testing import CliRunner
        from mediumnet.cli import cli
        from mediumnet.config import ConfigError, load_config
        from mediumnet.entry_points import render_mlproject
        assert load_config("tiny").toy.bins == 2
        assert load_config("seed", ["toy.bins=7"]).toy.bins == 7
        try:
            load_config("seed", ["toy.bins=0"])
            raise SystemExit("toy.bins=0 was taken")
        except ConfigError as exc:
            assert "toy.bins=0 must be positive" in str(exc)
        assert load_config("seed", ["ensemble.keep=toy"]).ensemble.keep == "toy"
        help_text = CliRunner().invoke(cli, ["stack", "--help"]).output
        assert "--toy / --no-toy" in help_text, help_text
        assert "toy: {type: string, default: \\"auto\\"}" in render_mlproject()
        print("ok")
        ''')
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, env={"PYTHONPATH": f"{tmp_path}:{REPO}", "PATH": ""})
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_embedding_views_are_the_whole_work_and_native_tiles_pooled_into_one_vector():
    from mediumnet.branches.embedding import EmbeddingPreprocessor

    pixels = np.random.default_rng(0).integers(0, 255, (600, 900, 3), np.uint8)
    squash = EmbeddingPreprocessor(size=64, tiles=4)
    views = squash(pixels)
    assert views.shape == (5, 64, 64, 3) and views.dtype == np.uint8
    assert np.array_equal(views[1:], texture_grid(pixels, 64, 4))    # native, not shrunk
    letterbox = EmbeddingPreprocessor(size=64, tiles=0, whole="letterbox")(pixels)
    assert letterbox.shape == (1, 64, 64, 3)
    assert (letterbox[0, 0] == 127).all() and not (views[0, 0] == 127).all()  # grey margins
    embeddings = np.arange(5 * 3, dtype=np.float32).reshape(5, 3)
    assert np.array_equal(squash.pool(embeddings), [0, 1, 2, 7.5, 8.5, 9.5])
    spread = EmbeddingPreprocessor(size=64, tiles=4, tile_spread=True).pool(embeddings)
    assert len(spread) == 9 and np.allclose(spread[6:], embeddings[1:].std(axis=0))
    again = EmbeddingPreprocessor.from_config(json.loads(json.dumps(squash.to_config())))
    assert again == squash


def texture_grid(pixels, tile, n):
    from mediumnet.data.views import tiles_from_pixels

    return tiles_from_pixels(pixels, tile, n, mode="grid")[0]


def test_the_embedding_branch_is_on_only_where_its_weights_are():
    from mediumnet.backbones.weights import installed_lite_file

    branch = get_branch("embedding")
    config = load_config("tiny")
    assert branch.enabled(config) == (installed_lite_file("lite0") is not None)
    assert branch.enabled(load_config("tiny", ["embedding.enabled=off"])) is False
    assert branch.enabled(load_config("tiny", ["embedding.enabled=on"])) is True
    with pytest.raises(ConfigError, match="embedding.whole='crop' is not valid"):
        load_config("tiny", ["embedding.whole=crop"])


def test_lite_variants_follow_the_b0_plan_without_scaling_stem_head_or_end_stages():
    from mediumnet.backbones.lite import block_plan, round_filters, stage_outputs

    lite0, lite2 = block_plan("lite0"), block_plan("lite2")
    assert len(lite0) == 16 and lite0[0] == (3, 1, 1, 32, 16) and lite0[-1][-1] == 320
    # Lite2: width 1.1, depth 1.2; the first and last stages keep one block each.
    assert len(lite2) == 1 + 3 + 3 + 4 + 4 + 5 + 1
    assert lite2[0][3] == 32 and lite2[-1][-1] == round_filters(320, 1.1) == 352
    assert stage_outputs("lite0")[3:6] == ["block7_add", "block10_add", "block14_add"]
