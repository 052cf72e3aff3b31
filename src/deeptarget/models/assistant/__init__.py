"""Customer-service assistant models: intent classifiers (registered in :data:`deeptarget.registry.CLASSIFIERS`)
and the FAQ store the assistant answers from."""

from deeptarget.models.assistant.intent import (
    BiGRUIntent,
    IntentClassifier,
    IntentConfig,
    SentenceIntent,
    SentenceIntentConfig,
    TextCNNIntent,
    TextIntentConfig,
)

__all__ = [
    "BiGRUIntent",
    "IntentClassifier",
    "IntentConfig",
    "SentenceIntent",
    "SentenceIntentConfig",
    "TextCNNIntent",
    "TextIntentConfig",
]
