"""The predict flow: classify a file of new texts with a trained run."""

from __future__ import annotations

from prefect import flow

from tasks.predict import predict


@flow(name="fewlabel-predict", description="Classify new texts with a trained fewlabel run.")
def predict_flow(
    input_path: str, output_name: str | None = None, run: str = "latest",
    text_column: str = "text", encoding: str = "utf-8",
) -> dict:
    """Predictions go to data/predictions/<output_name or the input's name>.parquet."""
    return predict(input_path, output_name, run, text_column, encoding)
