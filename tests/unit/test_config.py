import pytest
import yaml

from mediumnet.config import PRESETS, Config, load_config
from mediumnet.errors import ConfigError


def test_seed_preset_is_the_research_setting_with_a_backbone_that_installs_offline():
    c = load_config("seed")
    assert (c.data.composition_size, c.data.texture_tile) == (320, 320)
    # The research's B6 at 528 px needs ImageNet weights from the internet; the transfer
    # branch fine-tunes EfficientNet-Lite0 at 384 px, pretrained when the extra is installed.
    assert (c.effnet.variant, c.effnet.image_size, c.effnet.weights) == ("lite0", 384, "auto")
    research = load_config("seed", ["effnet.variant=B6", "effnet.image_size=528"])
    assert (research.effnet.variant, research.effnet.image_size) == ("B6", 528)
    # Texture tiles through the pretrained backbone, fine-tuned gently; the CNN is one --set.
    assert c.texture.backbone == "effnet" and c.texture.backbone_learning_rate < 0.005
    assert load_config("demo").texture.backbone == "cnn"
    assert (c.composition.learning_rate, c.composition.final_learning_rate) == (0.005, 0.001)
    assert (c.texture.learning_rate, c.texture.final_learning_rate) == (0.005, 0.001)
    assert c.composition.kernel_size == 10 and len(c.composition.filters) == 3
    assert c.texture.kernel_size == 5 and len(c.texture.filters) == 2
    assert c.composition.batch_size > 0 and c.texture.batch_size > 0


def test_demo_is_smaller_and_full_is_larger_than_seed():
    seed, demo, full = (load_config(p) for p in ("seed", "demo", "full"))
    assert demo.data.composition_size < seed.data.composition_size < full.data.composition_size
    assert demo.synth.per_class * demo.synth.width * demo.synth.height < \
        seed.synth.per_class * seed.synth.width * seed.synth.height
    assert demo.effnet.weights == "auto" and demo.effnet.image_size == 224
    assert full.effnet.variant == "lite2"
    assert set(PRESETS) == {"seed", "demo", "tiny", "full"}
    tiny = load_config("tiny")
    assert tiny.data.composition_size < demo.data.composition_size
    assert tiny.synth.per_class * tiny.synth.width < demo.synth.per_class * demo.synth.width


def test_presets_do_not_leak_into_each_other():
    load_config("demo")
    assert load_config("seed").data.composition_size == 320


@pytest.mark.parametrize(("assignment", "section", "field", "value"), [
    ("data.composition_size=256", "data", "composition_size", 256),
    ("data.val_fraction=0.2", "data", "val_fraction", 0.2),
    ("train.class_weights=false", "train", "class_weights", False),
    ("composition.filters=16,32,64", "composition", "filters", (16, 32, 64)),
    ("effnet.stage_learning_rates=0.01,0.001,0.0001", "effnet", "stage_learning_rates",
     (0.01, 0.001, 0.0001)),
    ("effnet.weights=/models/b6.weights.h5", "effnet", "weights", "/models/b6.weights.h5"),
    ("composition.head=gap", "composition", "head", "gap"),
])
def test_overrides_are_typed(assignment, section, field, value):
    c = load_config("seed", [assignment])
    assert getattr(getattr(c, section), field) == value


@pytest.mark.parametrize(("preset", "overrides", "message"), [
    ("huge", [], "unknown preset 'huge': choose one of seed, demo, tiny, full"),
    ("seed", ["data.composition_size"], "malformed --set 'data.composition_size': write "
     "section.field=value"),
    ("seed", ["composition_size=3"], "malformed --set"),
    ("seed", ["model.size=3"], "unknown section 'model'"),
    ("seed", ["data.size=3"], "unknown setting 'size' in data"),
    ("seed", ["data.composition_size=big"], "must be an integer"),
    ("seed", ["train.class_weights=maybe"], "must be true or false"),
    ("seed", ["composition.head=dense"], "composition.head='dense' is not valid: choose one "
     "of flatten, gap"),
    ("seed", ["effnet.variant=B9"], "choose one of lite0, lite1, lite2, B0, B1"),
    ("seed", ["data.val_fraction=0.5", "data.test_fraction=0.5"], "leaves nothing to train"),
    ("seed", ["data.composition_size=-5"], "must not be negative"),
    ("seed", ["data.texture_tile=0"], "data.texture_tile=0 must be positive"),
    # Trained nothing and registered the untrained network before.
    ("seed", ["composition.epochs=0"], "composition.epochs=0 must be positive"),
    ("seed", ["texture.epochs=0"], "texture.epochs=0 must be positive"),
    ("seed", ["effnet.stage_epochs=1,2"], "three values each"),
])
def test_bad_settings_are_one_line_errors(preset, overrides, message):
    with pytest.raises(ConfigError) as info:
        load_config(preset, overrides)
    text = str(info.value)
    assert message in text
    assert "\n" not in text


def test_flat_params_and_yaml_carry_every_setting():
    c = load_config("demo", ["data.composition_size=128"])
    flat = c.flat()
    assert flat["data.composition_size"] == 128
    assert flat["preset"] == "demo"
    assert flat["composition.filters"] == [8, 16, 32]
    loaded = yaml.safe_load(c.to_yaml())
    assert loaded["data"]["composition_size"] == 128
    assert loaded == c.to_dict()
    assert isinstance(Config(), Config)
