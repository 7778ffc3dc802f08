"""The predict flow: classify a file of new texts with a trained run."""

from __future__ import annotations

from prefect import flow

from tasks.predict import predict


@flow(name="fewlabel-predict", description="Classify new texts with a trained fewlabel run.")
def predict_flow(
    input_path: str, output_path: str | None = None, run: str = "latest",
    text_column: str = "text", encoding: str = "utf-8",
) -> dict:
    return predict(input_path, output_path, run, text_column, encoding)
