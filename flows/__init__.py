"""Prefect flows: they only compose the stage tasks."""
