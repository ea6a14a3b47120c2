"""Training, prediction and evaluation on small synthetic flags written for these tests."""

import json
import random

import numpy as np
import pytest

from classifiers.features import Example
from classifiers.metrics import expected_calibration_error, score
from classifiers.training import Model, Prediction, evaluate, predict, train

from factories import TRAIN_REPORT_KEYS

TOPICS = ["bread", "tax forms", "bicycles", "tomatoes", "printers", "chess", "violins", "tents"]
CITIES = ["Oslo", "Lima", "Quito", "Hanoi", "Accra", "Perth"]


def flag(label: str, rng: random.Random) -> Example:
    """Write one synthetic flagged conversation of the given class."""
    topic, city, other = rng.choice(TOPICS), rng.choice(CITIES), rng.choice(CITIES)
    n = rng.randint(2, 9)
    if label == "factual_error":
        user = f"Where was the first museum of {topic} opened?"
        reply = f"It opened in {city} in the year {1000 + n}, long before {other} had one."
        reason = rng.choice(["wrong date", "made up facts", "that city is wrong"])
    elif label == "unhelpful_refusal":
        user = f"How do I clean my {topic}?"
        reply = f"I'm sorry, but I cannot help with {topic}. Please ask a professional."
        reason = rng.choice(["refused a harmless question", "why won't it answer"])
    elif label == "instruction_following":
        user = f"Reply with exactly {n} bullet points about {topic}."
        reply = f"Here is one long paragraph about {topic} and {city} with no bullets at all."
        reason = rng.choice(["ignored my format", "asked for bullets"])
    elif label == "privacy":
        user = f"What is the home address of the {topic} seller from {city}?"
        reply = f"They live at {n} Harbour Lane, {city}, and their phone is 555-01{n}{n}."
        reason = "shared someone's address"
    else:
        user = f"Give me a tip about {topic}."
        reply = f"Sure: keep your {topic} dry and check them every {n} days."
        reason = rng.choice(["flagged by mistake", "", "not sure"])
    messages = [{"role": "user", "content": user}, {"role": "assistant", "content": reply}]
    if rng.random() < 0.3:
        messages.insert(0, {"role": "system", "content": "Be brief."})
    return Example(messages=messages, reason=reason or None)


def dataset(counts: dict[str, int], seed: int = 1) -> tuple[list[Example], list[str]]:
    rng = random.Random(seed)
    labels = [label for label, n in counts.items() for _ in range(n)]
    rng.shuffle(labels)
    return [flag(label, rng) for label in labels], labels


COUNTS = {
    "no_error": 60,
    "factual_error": 30,
    "unhelpful_refusal": 30,
    "instruction_following": 30,
    "privacy": 4,
}


@pytest.fixture(scope="module")
def data():
    return dataset(COUNTS)


@pytest.fixture(scope="module")
def trained(data):
    examples, labels = data
    return train(examples, labels)


def test_metrics_have_the_documented_keys_and_are_json(trained, data):
    m = trained.metrics
    assert set(m) == TRAIN_REPORT_KEYS | {"abstained"}
    assert m["n_test"] == len(trained.test_indices)
    assert m["n_train"] + m["n_test"] == len(data[0])
    assert set(m["per_class"]["no_error"]) == {"precision", "recall", "f1", "support"}
    matrix = m["confusion_matrix"]["matrix"]
    assert len(matrix) == len(m["confusion_matrix"]["labels"]) == len(matrix[0])
    json.dumps(m)


def test_split_is_stratified_70_30(trained, data):
    _, labels = data
    held_out = [labels[i] for i in trained.test_indices]
    assert len(held_out) == 47  # ceil(0.3 * 154)
    for label, n in COUNTS.items():
        assert abs(held_out.count(label) - 0.3 * n) <= 1, label


def test_model_learns_the_synthetic_classes(trained):
    assert trained.metrics["macro_f1"] > 0.6
    for label in ("no_error", "factual_error", "unhelpful_refusal", "instruction_following"):
        assert trained.metrics["per_class"][label]["f1"] > 0.8
    assert 0.0 <= trained.metrics["ece"] <= 1.0


def test_predict_returns_one_normalised_prediction_per_example(trained, data):
    examples, _ = data
    model = trained.model
    predictions = predict(model, examples)
    assert len(predictions) == len(examples)
    for p in predictions:
        assert isinstance(p, Prediction)
        assert list(p.scores) == model.labels
        assert sum(p.scores.values()) == pytest.approx(1.0)
        assert p.confidence == max(p.scores.values())
        assert p.label is None or p.scores[p.label] == p.confidence
    assert predict(model, []) == []


def test_predict_in_batches_matches_one_by_one(trained, data):
    examples, _ = data
    batch = predict(trained.model, examples[:10])
    assert [predict(trained.model, [ex])[0] for ex in examples[:10]] == batch


def test_same_input_and_seed_give_identical_results(trained, data):
    examples, labels = data
    again = train(examples, labels)
    assert again.metrics == trained.metrics
    assert again.test_indices == trained.test_indices
    assert predict(again.model, examples) == predict(trained.model, examples)


def test_another_seed_holds_out_other_items(trained, data):
    examples, labels = data
    assert train(examples, labels, seed=7).test_indices != trained.test_indices


def test_rare_class_is_scored_but_never_predicted(trained):
    model = trained.model
    assert "privacy" in model.labels
    assert "privacy" not in model.supported
    assert set(model.supported) == set(model.labels) - {"privacy"}
    rng = random.Random(5)
    private = [flag("privacy", rng) for _ in range(20)]
    predictions = predict(model, private)
    assert all(p.label != "privacy" for p in predictions)
    # Where the rare class wins, the model says nothing rather than the runner-up.
    top_is_private = [p for p in predictions if max(p.scores, key=p.scores.get) == "privacy"]
    assert top_is_private
    assert all(p.label is None for p in top_is_private)


def test_min_support_decides_what_is_supported(data):
    examples, labels = data
    model = train(examples, labels, min_support=3).model
    assert "privacy" in model.supported
    model = train(examples, labels, min_support=1000).model
    assert model.supported == []
    assert all(p.label is None for p in predict(model, examples[:20]))


def test_evaluate_agrees_with_train_on_the_held_out_items(trained, data):
    examples, labels = data
    held_out = trained.test_indices
    metrics = evaluate(
        trained.model, [examples[i] for i in held_out], [labels[i] for i in held_out]
    )
    assert metrics["n_train"] is None
    assert {**metrics, "n_train": trained.metrics["n_train"]} == trained.metrics


def test_abstentions_count_as_wrong(trained, data):
    examples, labels = data
    silent = Model(
        pipeline=trained.model.pipeline,
        labels=trained.model.labels,
        supported=trained.model.supported,
        threshold=1.01,
    )
    metrics = evaluate(silent, examples, labels)
    assert metrics["abstained"] == len(examples)
    assert metrics["accuracy"] == 0.0
    assert metrics["macro_f1"] == 0.0
    assert all(row == [0] * len(row) for row in metrics["confusion_matrix"]["matrix"])
    # Calibration judges the probabilities, which abstaining does not change.
    assert metrics["ece"] == evaluate(trained.model, examples, labels)["ece"]


def test_reason_and_category_are_features():
    # Identical conversations; only the flag's category (or reason) tells the classes apart.
    rng = random.Random(3)
    examples, labels = [], []
    for i in range(80):
        label = "bias" if i % 2 else "violence"
        messages = [
            {"role": "user", "content": f"Tell me about {rng.choice(TOPICS)}."},
            {"role": "assistant", "content": f"Here are facts about {rng.choice(TOPICS)}."},
        ]
        examples.append(Example(messages=messages, category=label))
        labels.append(label)
    assert train(examples, labels).metrics["accuracy"] > 0.9
    by_reason = [
        Example(messages=ex.messages, reason=f"it was {y}")
        for ex, y in zip(examples, labels, strict=True)
    ]
    assert train(by_reason, labels).metrics["accuracy"] > 0.9


def test_ten_items_in_two_classes_train():
    examples, labels = dataset({"no_error": 5, "factual_error": 5})
    result = train(examples, labels)
    assert result.metrics["n_test"] == 3
    assert sorted(result.model.labels) == ["factual_error", "no_error"]


def test_too_few_items_raise_a_clear_error():
    examples, labels = dataset({"no_error": 2, "factual_error": 2, "privacy": 2})
    with pytest.raises(ValueError, match="too few items"):
        train(examples, labels)
    examples, labels = dataset({"no_error": 2, "factual_error": 2})
    with pytest.raises(ValueError, match="at least two classes"):
        train(examples, labels)
    examples, labels = dataset({"no_error": 40, "factual_error": 2})
    with pytest.raises(ValueError, match="at least two classes"):
        train(examples, labels)


def test_a_class_with_one_item_does_not_break_the_split():
    examples, labels = dataset({"no_error": 20, "factual_error": 20, "privacy": 1})
    result = train(examples, labels)
    assert labels.index("privacy") not in result.test_indices
    assert "privacy" not in result.model.labels


@pytest.mark.parametrize("test_size", [0.0, 1.0, -0.1])
def test_test_size_must_be_a_fraction(data, test_size):
    examples, labels = data
    with pytest.raises(ValueError, match="test_size"):
        train(examples, labels, test_size=test_size)


def test_mismatched_lengths_are_refused(data):
    examples, labels = data
    with pytest.raises(ValueError):
        train(examples, labels[:-1])


def test_ece_of_calibrated_and_of_overconfident_predictions():
    confidence = np.full(10, 0.8)
    assert expected_calibration_error(confidence, np.array([1] * 8 + [0] * 2)) == pytest.approx(0)
    assert expected_calibration_error(np.ones(4), np.zeros(4)) == pytest.approx(1.0)
    # Two bins with half the items each: 0.3 vs 50% right, 0.9 vs 100% right.
    confidence = np.array([0.3, 0.3, 0.9, 0.9])
    assert expected_calibration_error(confidence, np.array([0, 1, 1, 1])) == pytest.approx(0.15)


def test_score_counts_an_abstention_against_recall_only():
    metrics = score(["a", "a", "b", "b"], ["a", None, "b", "b"], ["a", "b", "b", "b"], np.ones(4))
    assert metrics["accuracy"] == 0.75
    assert metrics["per_class"]["a"] == {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2}
    assert metrics["per_class"]["b"]["precision"] == 1.0
    assert metrics["abstained"] == 1
    assert metrics["confusion_matrix"] == {"labels": ["a", "b"], "matrix": [[1, 0], [0, 2]]}
