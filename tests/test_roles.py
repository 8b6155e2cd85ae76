"""Role assignment from the tag names real frameworks write."""

import pytest

from lrdoctor.model import Curve, Run
from lrdoctor.roles import adaptive_optimizer, assign_roles, batch_size, missing_overrides


def run_with(tags: dict[str, int], params: dict[str, str] | None = None) -> Run:
    """A run whose tags have the given numbers of points (values do not matter to roles)."""
    curves = {
        tag: Curve.from_points(tag, range(points), [1.0] * points) for tag, points in tags.items()
    }
    return Run(name="r", source="s", format="test", curves=curves, params=params or {})


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        # Hugging Face Trainer
        (
            {"loss": 24, "grad_norm": 24, "learning_rate": 24, "eval_loss": 6, "epoch": 30},
            {"train_loss": "loss", "val_loss": "eval_loss", "grad_norm": "grad_norm"}
            | {"lr": "learning_rate"},
        ),
        # Lightning CSVLogger with LearningRateMonitor (opal-v2 fixture)
        (
            {"train/nll_loss": 108, "val/rmse_loss": 8, "lr-Adam": 108, "epoch": 108},
            {"train_loss": "train/nll_loss", "val_loss": "val/rmse_loss", "lr": "lr-Adam"},
        ),
        # Lightning: step-level curve preferred over its epoch aggregate (more points)
        (
            {"train_loss_step": 500, "train_loss_epoch": 10, "val_loss": 10, "lr-SGD": 500},
            {"train_loss": "train_loss_step", "val_loss": "val_loss", "lr": "lr-SGD"},
        ),
        # PyTorch add_scalars merged sub-folders
        ({"Loss/train": 100, "Loss/val": 10}, {"train_loss": "Loss/train", "val_loss": "Loss/val"}),
        # Keras TensorBoard callback train/ and validation/ folders
        (
            {"train/epoch_loss": 10, "validation/epoch_loss": 10, "train/epoch_accuracy": 10},
            {"train_loss": "train/epoch_loss", "val_loss": "validation/epoch_loss"}
            | {"accuracy": "train/epoch_accuracy"},
        ),
        # Keras TensorBoard callback with update_freq: batch_ running means by batch, epoch_
        # values, validation and learning rate by epoch index (as a Keras 3 fit writes them)
        (
            {"train/batch_loss": 12, "train/epoch_loss": 3, "train/epoch_learning_rate": 3}
            | {"validation/epoch_loss": 3, "validation/evaluation_loss_vs_iterations": 3},
            {"train_loss": "train/epoch_loss", "val_loss": "validation/epoch_loss"}
            | {"lr": "train/epoch_learning_rate"},
        ),
        # A batch_ tag without an epoch_ twin is the training loss
        ({"batch_loss": 12, "val_loss": 3}, {"train_loss": "batch_loss", "val_loss": "val_loss"}),
        # Keras CSVLogger (Keras 2 `acc` naming)
        (
            {"acc": 10, "loss": 10, "val_acc": 10, "val_loss": 10, "lr": 10},
            {"train_loss": "loss", "val_loss": "val_loss", "lr": "lr", "accuracy": "acc"},
        ),
        # Ray/RLlib: the total loss, not a component; cur_lr is the learning rate
        (
            {
                "ray/tune/info/learner/default_policy/total_loss": 500,
                "ray/tune/info/learner/default_policy/policy_loss": 500,
                "ray/tune/info/learner/default_policy/vf_loss": 500,
                "ray/tune/info/learner/default_policy/cur_lr": 500,
                "ray/tune/episode_reward_mean": 498,
            },
            {
                "train_loss": "ray/tune/info/learner/default_policy/total_loss",
                "lr": "ray/tune/info/learner/default_policy/cur_lr",
            },
        ),
        # Stable-Baselines3: `rollout/exploration rate` is not a learning rate
        (
            {"train/loss": 195, "train/learning_rate": 195, "rollout/exploration rate": 200},
            {"train_loss": "train/loss", "lr": "train/learning_rate"},
        ),
        # Optax / T5X / Flax style names
        (
            {"training_loss": 50, "global_norm": 50, "gradient_norm/layer3": 50, "val/loss": 5},
            {"train_loss": "training_loss", "val_loss": "val/loss", "grad_norm": "global_norm"},
        ),
        # Keras TensorBoard callback default
        ({"epoch_loss": 10, "hp_metric": 1}, {"train_loss": "epoch_loss"}),
        # Nothing that looks like a training signal
        ({"bleu/dev": 360, "runtime/sentence/sec": 360}, {}),
    ],
)
def test_roles_from_real_tag_names(tags, expected):
    assert assign_roles(run_with(tags)) == expected


def test_override_wins_and_a_missing_override_is_reported():
    run = run_with({"train_gen_loss": 320, "train_disc_loss": 320})
    assert assign_roles(run, {"train_loss": "train_disc_loss"})["train_loss"] == "train_disc_loss"
    assert assign_roles(run, {"train_loss": "nope"})["train_loss"] == "train_gen_loss"
    assert missing_overrides(run, {"train_loss": "nope"}) == [
        "train_loss tag 'nope' given as an override is not in this run"
    ]
    assert missing_overrides(run, {"train_loss": "train_disc_loss"}) == []


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"batch_size": "32"}, 32),
        ({"train_batch_size": "8"}, 8),
        ({"per_device_train_batch_size": "4.0"}, 4),
        ({"batch_size": "None"}, None),
        ({"lr": "0.1"}, None),
    ],
)
def test_batch_size_from_params(params, expected):
    assert batch_size(run_with({"loss": 3}, params)) == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"optimizer": "Adam"}, True),
        ({"optim": "adamw_torch_fused"}, True),  # a Hugging Face TrainingArguments value
        ({"optimizer_name": "RMSprop"}, True),
        ({"optimizer": "<class 'torch.optim.adagrad.Adagrad'>"}, True),
        ({"optimizer": "lion_32bit"}, True),
        ({"optimizer": "SGD"}, False),
        ({"optimizer": "nesterov99"}, False),
        ({"optimizer": "LARS"}, False),
        ({"optimizer": "my_own"}, None),
        ({"lr": "0.1"}, None),
    ],
)
def test_adaptive_optimizer_from_params(params, expected):
    assert adaptive_optimizer(run_with({"loss": 3}, params)) is expected
