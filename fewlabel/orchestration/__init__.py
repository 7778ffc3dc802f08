"""Prefect-specific machinery: the stage decorator and cache policy, the pipeline runner, task runners,
progress, publishing, the launcher environment and the plan. Nothing outside tasks, flows, deployments
and the CLI imports it; the core never does."""
