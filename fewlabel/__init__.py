"""fewlabel: text classification with few labels, by Word2Vec transfer learning, as Prefect flows."""

__version__ = "0.1.0"
