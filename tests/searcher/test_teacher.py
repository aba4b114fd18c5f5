from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from searcher.cli.main import main
from searcher.run import teacher as teacher_module
from searcher.run.config import SearchConfig
from searcher.run.teacher import TeacherSource, teacher_path
from searcher.study import attrs
from space import Candidate, Recipe
from space.search_space import load_space
from trainers import build_ensemble, load_data, save_checkpoint
from trainers.train.imitation import teacher_candidate

RECIPE = Recipe(epochs=2, batch_size=128, lr=0.05, warmup_epochs=0, js_warmup_epochs=1,
                augmentation="crop", init="wide_then_narrow")  # fmt: skip
CANDIDATE = Candidate("resnet", 8, 2, networks=2, image_size=8, in_channels=1, recipe=RECIPE)
TEACHER = teacher_candidate(CANDIDATE)


@pytest.fixture(scope="module")
def digits():
    return load_data("digits")


@pytest.fixture
def trainings(monkeypatch: pytest.MonkeyPatch) -> list[Candidate]:
    """Counts teacher trainings; the teacher is built, not trained (its weights do not matter)."""
    done: list[Candidate] = []

    def fake_train(candidate: Candidate, data, seed: int, device: str):
        done.append(candidate)
        return type("R", (), {"ensemble": build_ensemble(candidate, seed), "train_seconds": 1.5})

    monkeypatch.setattr(teacher_module, "train", fake_train)
    return done


def setup(tmp_path: Path) -> tuple[optuna.Study, SearchConfig]:
    study = optuna.create_study(directions=["maximize", "minimize"])
    config = SearchConfig(space=load_space("digits"), study="t", runs_dir=tmp_path)
    return study, config


def running(study: optuna.Study, **extra: object) -> optuna.Trial:
    trial = study.ask()
    values = {attrs.TEACHER_ID: TEACHER.id, attrs.STATUS: "training"} | extra
    for key, value in values.items():
        trial.set_user_attr(key, value)
    return trial


def test_a_teacher_is_trained_once_then_reused(tmp_path, digits, trainings) -> None:
    study, config = setup(tmp_path)
    lines: list[str] = []
    first = TeacherSource(running(study), digits, config, lines.append)(CANDIDATE)
    assert first.trained and first.seconds == 1.5 and Path(first.checkpoint).is_file()
    assert first.checkpoint == str(teacher_path(config, TEACHER))
    second_trial = running(study)
    second = TeacherSource(second_trial, digits, config, lines.append)(CANDIDATE)
    assert not second.trained and second.checkpoint == first.checkpoint
    assert second.seconds == 1.5  # the teacher's cost, wherever it was paid
    assert second_trial.user_attrs[attrs.TEACHER_TRAINED] is False
    assert len(trainings) == 1 and trainings[0] == TEACHER and lines == []


def test_a_trained_trial_of_the_teacher_is_its_checkpoint(tmp_path, digits, trainings) -> None:
    study, config = setup(tmp_path)
    path = save_checkpoint(tmp_path / "ref.pt", TEACHER, build_ensemble(TEACHER, 0))
    reference = study.ask()
    for key, value in {attrs.STATUS: "trained", attrs.CANDIDATE_ID: TEACHER.id,
                       attrs.CHECKPOINT: str(path), attrs.TRAIN_SECONDS: 3.0}.items():  # fmt: skip
        reference.set_user_attr(key, value)
    study.tell(reference, [0.5, 1.0])
    found = TeacherSource(running(study), digits, config, print)(CANDIDATE)
    assert (found.checkpoint, found.trained, found.seconds) == (str(path), False, 3.0)
    assert trainings == []


def test_an_unreadable_teacher_is_retrained_with_one_warning(tmp_path, digits, trainings) -> None:
    study, config = setup(tmp_path)
    broken = teacher_path(config, TEACHER)
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"not a checkpoint")
    lines: list[str] = []
    found = TeacherSource(running(study), digits, config, lines.append)(CANDIDATE)
    assert found.trained and len(trainings) == 1
    assert len(lines) == 1 and "unreadable" in lines[0] and "retraining" in lines[0]


def test_a_lower_trial_training_the_teacher_is_waited_for(tmp_path, digits, trainings) -> None:
    study, config = setup(tmp_path)
    owner = running(study)  # lower number, still obtaining the teacher

    def owner_finishes() -> None:
        save_checkpoint(teacher_path(config, TEACHER), TEACHER, build_ensemble(TEACHER, 0))
        owner.set_user_attr(attrs.TEACHER, {"candidate_id": TEACHER.id})

    polls: list[int] = []
    source = TeacherSource(running(study), digits, config, print, poll=lambda: polls.append(1))
    source.poll = lambda: (polls.append(1), owner_finishes())
    found = source(CANDIDATE)
    assert polls == [1] and not found.trained and trainings == []


TINY_WTN_SPACE = """
families:
  resnet: {depths: [8], widths: [2]}
networks: [1, 2]
image_sizes: [8]
references:
  - {family: resnet, depth: 8, width: 2, image_size: 8}
recipe: {epochs: 2, batch_size: 128, lr: 0.05, warmup_epochs: 0, js_warmup_epochs: 1,
         augmentation: crop, init: wide_then_narrow}
"""


@pytest.mark.slow
def test_a_search_records_teacher_and_imitation(tmp_path: Path, trainings) -> None:
    space = tmp_path / "wtn.yaml"
    space.write_text(TINY_WTN_SPACE)
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    args = ["run", "--space", str(space), "--storage", storage, "--study", "w",
            "--runs-dir", str(tmp_path / "runs"), "--no-pruning", "--n-trials", "2"]  # fmt: skip
    assert main(args) == 0
    trials = optuna.load_study(study_name="w", storage=storage).trials
    trained = [t.user_attrs for t in trials if t.user_attrs.get(attrs.STATUS) == "trained"]
    assert len(trained) == 2 and len(trainings) == 2  # S=1 (widened) and S=2 (undivided) teachers
    for a in trained:
        assert a[attrs.TEACHER_TRAINED] is True and a[attrs.TEACHER_SECONDS] == 1.5
        assert a[attrs.TEACHER]["candidate_id"] == a[attrs.TEACHER_ID]
        assert len(a[attrs.IMITATION_LOSSES]) == 3 and len(a[attrs.CURVE]) == 2


def test_inits_are_a_search_axis() -> None:
    import yaml

    from space.errors import ConfigError
    from space.search_space import space_from_dict
    from space.suggest import suggest

    data = yaml.safe_load(TINY_WTN_SPACE) | {"inits": ["scratch", "wide_then_narrow"]}
    space = space_from_dict(data, "axis")
    assert sorted(c.recipe.init for c in space.candidates()) == ["scratch"] * 2 + ["wide_then_narrow"] * 2  # fmt: skip
    picks = {"init": "wide_then_narrow", "S": 2}
    fake = type(
        "T", (), {"suggest_categorical": lambda _, name, options: picks.get(name, options[0])}
    )
    chosen = suggest(fake(), space)
    assert chosen.recipe.init == "wide_then_narrow" and chosen.networks == 2
    assert Candidate.from_params(chosen.to_params(), space.template()) == chosen
    assert "inits" not in space_from_dict(yaml.safe_load(TINY_WTN_SPACE), "x").to_dict()
    with pytest.raises(ConfigError, match="inits"):
        space_from_dict(data | {"inits": ["warm"]}, "bad")


def test_the_init_option_reaches_the_recipe_and_is_checked(tmp_path, run_args, capsys) -> None:
    try:  # the tiny space's recipe has 1 epoch: nothing is left after imitation
        code = main([*run_args, "--init", "wide_then_narrow", "--n-trials", "1"])
    except SystemExit as exc:
        code = exc.code
    assert code == 2 and "imitation_epochs" in capsys.readouterr().err


def test_compare_and_the_dashboard_have_a_wide_then_narrow_series() -> None:
    from searcher.run.compare import series_spaces
    from ui.data import series_of

    series = series_spaces(load_space("digits"), load_space("digits-hetero"))
    assert series[-1].name == "wide then narrow" and len(series) == 5
    assert {c.recipe.init for c in series[-1].space.candidates()} == {"wide_then_narrow"}
    assert min(series[-1].space.networks) > 1
    one_epoch = load_space("digits").with_recipe(epochs=1)  # no room for imitation: 4 series
    assert len(series_spaces(one_epoch, load_space("digits-hetero"))) == 4
    assert series_of({"networks": 2, "recipe": {"init": "wide_then_narrow"}}) == "wide then narrow"
