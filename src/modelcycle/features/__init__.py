"""Text features: the tokenisation, n-gram keys, TF-IDF and hashed bags that models train with
and serving reuses, and engineered numeric features (length, words, share of capitals, ...).

Written here rather than taken from scikit-learn's ``TfidfVectorizer`` because featurisation is
the cost of the linear models (on IMDB the vectoriser is 90% of TF-IDF + logistic regression's
training time) and of the fastText-style model: every step below is vectorised with polars and
numpy, and a featurizer's learned state is plain data (a word list and arrays) that saves as JSON
and safetensors and is rebuilt exactly at load time, in training or in serving.

The pipeline::

    texts ──tokenize──► (doc, token) ──Vocabulary──► (doc, word id) ──ngram_keys──► (doc, key)
                                                                       │
                        NgramFeaturizer: key → column, tf-idf/binary ──┤
                        HashedBagFeaturizer: key → id or bucket ───────┘

One private module per step: ``_tokens`` (the tokens, which the EDA report counts too, and the
vocabulary), ``_ngrams``, ``_tfidf`` (NgramFeaturizer), ``_hashed`` (HashedBagFeaturizer) and
``_engineered``: engineered features are polars expressions, computed for every text at once (no
Python loop over rows)::

    frame.with_columns(engineered_features(pl.col("text"), ["length", "words"]))
"""

from modelcycle.features._engineered import (
    ENGINEERED_FEATURES,
    EngineeredFeature,
    EngineeredFeaturizer,
    add_engineered_features,
    check_feature_names,
    engineered_features,
)
from modelcycle.features._hashed import END_TOKEN, HashedBagFeaturizer
from modelcycle.features._ngrams import ngram_keys
from modelcycle.features._tfidf import WEIGHTINGS, NgramFeaturizer
from modelcycle.features._tokens import (
    TAG_PATTERN,
    TOKEN_PATTERN,
    TOKENISE_CHUNK,
    WORD_CHARACTER,
    CountedWords,
    Vocabulary,
    bag_ngram_count,
    document_frequencies,
    prepared_text,
    token_lists,
    tokenize,
    tokens_of,
)

__all__ = [
    "END_TOKEN",
    "ENGINEERED_FEATURES",
    "TAG_PATTERN",
    "TOKENISE_CHUNK",
    "TOKEN_PATTERN",
    "WEIGHTINGS",
    "WORD_CHARACTER",
    "CountedWords",
    "EngineeredFeature",
    "EngineeredFeaturizer",
    "HashedBagFeaturizer",
    "NgramFeaturizer",
    "Vocabulary",
    "add_engineered_features",
    "bag_ngram_count",
    "check_feature_names",
    "document_frequencies",
    "engineered_features",
    "ngram_keys",
    "prepared_text",
    "token_lists",
    "tokenize",
    "tokens_of",
]
