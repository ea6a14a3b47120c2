"""Build the text classification pipeline; every hyperparameter lives in this module."""

from __future__ import annotations

from typing import TYPE_CHECKING

from classifiers.features import FIELDS, to_columns

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

    from classifiers.vectorizer import WordVectorizer

SEED = 0

# Word 1-2 grams only: on the dev data char n-grams added < 0.01 macro-F1 and cost 4x the
# prediction time (sklearn's char analyzer is pure Python).
WORD_NGRAMS = (1, 2)
# A term must occur in two training items; singletons are mostly noise and bloat the artifact.
MIN_DF = 2
# Caps on each field's vocabulary, so the artifact stays small (a few MB) at 50k items.
MAX_FEATURES = {
    "flagged": 60_000,
    "previous_user": 30_000,
    "context": 20_000,
    "reason": 20_000,
}
# Relative weight of each field's block of features; the flagged turn counts most.
FIELD_WEIGHTS = {
    "flagged": 1.0,
    "previous_user": 0.6,
    "context": 0.3,
    "reason": 0.6,
    "category": 0.5,
    "role": 0.2,
}
# LinearSVC with balanced class weights: the best macro-F1 per second of those tried (LR was on par
# and 3-5x slower to fit).
C = 0.5
CLASS_WEIGHT = "balanced"
# liblinear's default 1000 iterations did not converge on 50k items with many near-duplicates.
MAX_ITER = 5000
# Temperature scaling keeps the balanced classifier's ranking (so rare classes still win where they
# should) while making the top-class probability honest; sigmoid gave lower macro-F1.
CALIBRATION = "temperature"
CALIBRATION_FOLDS = 3
# Fewer training items than this for a class: the model may score it but never predicts it.
MIN_SUPPORT = 5
# Slugs and roles are whole tokens ("factual_error"), never split or lower-cased.
WHOLE_WORD_PATTERN = r"\S+"
# Top-class probability below this: the model abstains (label None) and a reviewer decides.
ABSTAIN_BELOW = 0.3


def _words(max_features: int) -> WordVectorizer:
    from classifiers.vectorizer import WordVectorizer

    return WordVectorizer(
        ngram_range=WORD_NGRAMS,
        sublinear_tf=True,
        min_df=MIN_DF,
        max_features=max_features,
    )


def _tokens() -> WordVectorizer:
    from classifiers.vectorizer import WordVectorizer

    return WordVectorizer(token_pattern=WHOLE_WORD_PATTERN, lowercase=False)


def build_pipeline(seed: int = SEED) -> Pipeline:
    """Return an unfitted pipeline: list[Example] -> label strings, calibrated predict_proba."""
    # sklearn is imported here, not at the top: importing it costs every flagq command and
    # worker start about a second, and most never build or load a model.
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer
    from sklearn.svm import LinearSVC

    column = {name: i for i, name in enumerate(FIELDS)}
    blocks = [(name, _words(cap), column[name]) for name, cap in MAX_FEATURES.items()]
    blocks += [(name, _tokens(), column[name]) for name in ("category", "role")]
    features = ColumnTransformer(
        blocks, transformer_weights={name: FIELD_WEIGHTS[name] for name, _, _ in blocks}
    )
    classifier = CalibratedClassifierCV(
        LinearSVC(C=C, class_weight=CLASS_WEIGHT, max_iter=MAX_ITER, random_state=seed),
        method=CALIBRATION,
        cv=CALIBRATION_FOLDS,
        # One classifier fit on all items, not one per fold: a third of the artifact and of
        # the predict time.
        ensemble=False,
    )
    return Pipeline(
        [
            ("columns", FunctionTransformer(to_columns)),
            ("features", features),
            ("classifier", classifier),
        ]
    )
