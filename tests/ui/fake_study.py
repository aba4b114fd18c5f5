"""Studies written straight through Optuna, with the attributes a trained trial stores: the
dashboard's reads are tested on them without training anything."""

from __future__ import annotations

import optuna
from optuna.distributions import CategoricalDistribution, IntDistribution

DISTRIBUTIONS = {"S": CategoricalDistribution([1, 2, 4]), "width": IntDistribution(1, 64)}


def candidate(networks: int, width: int) -> dict:
    return {
        "family": "resnet",
        "depth": 8,
        "width": width,
        "groups": 1,
        "networks": networks,
        "image_size": 8,
        "recipe": {"mode": "cotrain"},
        "members": [],
    }


def trained_attrs(number: int, networks: int = 1, width: int = 4) -> dict:
    """A trained trial's user attributes (searcher/study/attrs.py), cost and accuracy varied."""
    gflops = 0.001 * width * width * (1 + number % 7) / networks**0.5
    accuracy = 0.80 + 0.01 * (number % 13)
    label = f"ResNet-8 w{width} S={networks} @8px"
    latency_rows = [
        {"mode": mode, "batch": batch, "median_ms": gflops * 100 * k, "p90_ms": gflops * 120 * k}
        for k, mode in enumerate(("sequential", "concurrent", "undivided"), 1)
        for batch in (1, 64)
    ]
    return {
        "status": "trained",
        "candidate": candidate(networks, width),
        "candidate_id": f"c{number}",
        "label": label,
        "reference": number < 2,
        "accuracy": accuracy,
        "member_accuracies": [accuracy - 0.012 * (i + 1) for i in range(networks)],
        "curve": [accuracy - 0.1, accuracy],
        "gflops": gflops,
        "params_m": gflops * 10,
        "latency": {"device": "cpu", "rows": latency_rows},
        "latency_ms": latency_rows[3]["median_ms"],
        "latency_mode": "concurrent",
        "latency_layout": "channels_last",
        "device": "cpu",
    }


def add_trained(study: optuna.Study, number: int, networks: int = 1, width: int = 4) -> None:
    attrs = trained_attrs(number, networks, width)
    study.add_trial(
        optuna.trial.create_trial(
            params={"S": networks, "width": width},
            distributions=DISTRIBUTIONS,
            values=[attrs["accuracy"], attrs["gflops"]],
            user_attrs=attrs,
        )
    )


def make_study(url: str, trained: int, name: str = "fake") -> optuna.Study:
    """`trained` finished trials; trials 0 and 1 are one reference network at S = 1 and 2."""
    study = optuna.create_study(storage=url, study_name=name, directions=["maximize", "minimize"])
    for number in range(trained):
        add_trained(study, number, networks=(1, 2, 4)[number % 3] if number > 1 else number + 1)
    return study


def start_running(study: optuna.Study) -> optuna.Trial:
    """A trial a worker is training: RUNNING, with its candidate written."""
    trial = study.ask(DISTRIBUTIONS)
    trial.set_user_attr("status", "training")
    trial.set_user_attr("label", "ResNet-8 w8 S=2 @8px")
    return trial


def finish(study: optuna.Study, trial: optuna.Trial) -> None:
    """The running trial ends trained, as a worker writes it."""
    for key, value in trained_attrs(trial.number, networks=2, width=8).items():
        trial.set_user_attr(key, value)
    study.tell(trial, [trial.user_attrs["accuracy"], trial.user_attrs["gflops"]])
