import math

import pytest

from superpose.toy.config import ToyConfig, replace
from superpose.validate import ConfigError


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        ({"feature_probability": 0.0}, "feature_probability must be in (0, 1]"),
        ({"feature_probability": 1.5}, "feature_probability must be in (0, 1]"),
        ({"feature_probability": math.nan}, "feature_probability must be finite"),
        ({"feature_probability": (0.1, 0.2)}, "feature_probability must be one value or 5 values"),
        ({"importance": (1.0, -1.0, 1.0, 1.0, 1.0)}, "importance must be a finite number >= 0.0"),
        ({"importance_decay": math.inf}, "importance_decay must be a finite number"),
        ({"n_hidden": 0}, "n_hidden must be an integer >= 1"),
        ({"n_features": 0}, "n_features must be an integer >= 1"),
        ({"steps": "abc"}, "steps must be an integer"),
        ({"model": "cubic"}, "model must be one of relu_output, linear"),
        ({"learning_rate": -1.0}, "learning_rate must be a finite number > 0.0"),
    ],
)
def test_bad_values_give_one_line_naming_the_field(overrides, fragment):
    with pytest.raises(ConfigError) as e:
        replace(ToyConfig(), overrides)
    assert fragment in str(e.value)
    assert "\n" not in str(e.value)


def test_unknown_key_suggests_the_closest():
    with pytest.raises(ConfigError, match="did you mean 'n_hidden'"):
        replace(ToyConfig(), {"n_hiden": 3})


def test_per_feature_arrays():
    c = ToyConfig(n_features=3, feature_probability=[0.1, 0.2, 0.3], importance_decay=0.5)
    assert c.probability_F().tolist() == pytest.approx([0.1, 0.2, 0.3])
    assert c.importance_F().tolist() == [1.0, 0.5, 0.25]
    assert ToyConfig(n_features=3, importance=(3, 2, 1)).importance_F().tolist() == [3, 2, 1]


def test_a_field_added_later_is_left_out_of_saved_jobs_at_its_default():
    """`init`, `init_instances` (toy) and `recipe` (SAE) came after folders were saved: at their defaults
    they are not in `to_dict`, so those folders hold the same job; set, they are saved and read back."""
    from superpose.sae.model import SAEConfig

    saved = ToyConfig().to_dict()
    assert not {"init", "init_instances"} & set(saved) and ToyConfig(**saved) == ToyConfig()
    notebook = ToyConfig(init="notebook").to_dict()
    assert notebook["init"] == "notebook" and "init_instances" not in notebook
    assert ToyConfig(**notebook) == ToyConfig(init="notebook")
    assert "recipe" not in SAEConfig().to_dict()
    assert SAEConfig(**SAEConfig(architecture="topk", recipe="saelens").to_dict()).recipe == "saelens"
