"""A folder of unlabeled shards: each file is its own cached task; a new file processes only itself."""

import pyarrow.parquet as pq
import pytest

from fewlabel import report, runs, store
from fewlabel.flows.predict import predict_flow
from fewlabel.flows.train import PIPELINE, train_flow
from fewlabel.orchestration.plan import plan

from .conftest import labeled_csv, write

pytestmark = pytest.mark.server  # every test here uses a Prefect server

THEMES = {
    "a": ["the film was great and wonderful", "a fine lovely story of a family"],
    "b": ["the film was awful and terrible", "a dull poor plot with no end"],
    "c": ["number one two three film", "the actors were great but the plot was poor"],
    "d": ["a wonderful score and a dull script", "the story of a great terrible day"],
}


def shard(folder, name, lines=30):
    theme = THEMES[name]
    return write(folder / f"{name}.txt", "\n".join(f"{theme[i % 2]} {i % 5}" for i in range(lines)) + "\n")


def config(tiny_config, folder, labeled, *extra):
    return tiny_config(
        "data.source=files",
        f"data.unlabeled_path={folder}",
        f"data.labeled_path={labeled}",
        "word2vec.vector_size=8",
        "word2vec.min_count=1",
        *extra,
    )


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "shards"
    for name in "abc":
        shard(folder, name)
    return folder, labeled_csv(tmp_path / "labeled.csv")


def test_a_new_shard_processes_only_itself(prefect_api, data_dir, tiny_config, corpus):
    folder, labeled = corpus
    first = train_flow(config(tiny_config, folder, labeled))
    assert first["stages"]["shard"] == "Completed"
    assert [(s["item"], s["state"]) for s in first["shards"]] == [(f"{n}.txt", "Completed") for n in "abc"]
    assert first["stats"]["pretrain"]["corpus_sentences"] == 3 * 30 + first["stats"]["ingest"]["train_rows"]

    shard(folder, "d")
    rows = {r["stage"]: r for r in plan(PIPELINE, config(tiny_config, folder, labeled), runs.read_run())}
    assert [rows[f"shard {folder.resolve() / n}.txt"]["action"] for n in "abcd"] == ["cached"] * 3 + ["run"]
    assert rows[f"shard {folder.resolve() / 'd'}.txt"]["why"] == "no earlier run recorded for this stage"
    assert rows["pretrain"]["action"] == "run" and "shard" in rows["pretrain"]["why"]

    second = train_flow(config(tiny_config, folder, labeled))
    assert [(s["item"], s["state"]) for s in second["shards"]] == [
        ("a.txt", "Cached"),
        ("b.txt", "Cached"),
        ("c.txt", "Cached"),
        ("d.txt", "Completed"),
    ]
    assert second["stages"]["shard"] == "3 Cached, 1 Completed"
    assert second["stages"]["ingest"] == second["stages"]["preprocess"] == "Cached"
    assert second["stages"]["pretrain"] == "Completed"  # Word2Vec sees the new text
    assert second["stats"]["pretrain"]["corpus_sentences"] == first["stats"]["pretrain"]["corpus_sentences"] + 30
    markdown = report.run_markdown(second, second["metrics_detail"])  # the run's Prefect artifact
    assert "3 of 4 reused from the cache" in markdown and "| d.txt | Completed | 30 |" in markdown
    assert "    d.txt: Completed" in report.run_text(second)


def test_shards_depend_on_the_test_split_only_and_never_hold_test_text(prefect_api, data_dir, tiny_config, corpus):
    folder, labeled = corpus
    train_flow(config(tiny_config, folder, labeled))
    fewer = train_flow(config(tiny_config, folder, labeled, "data.labels_per_class=2"))
    assert fewer["stages"]["ingest"] == "Completed" and fewer["stages"]["shard"] == "Cached"
    other_split = train_flow(config(tiny_config, folder, labeled, "data.seed=1"))
    assert other_split["stages"]["shard"] == "Completed"  # the test sentences changed: filter again

    test = pq.read_table(store.data_dir() / other_split["artifacts"]["ingest"] / "test.parquet")["text"].to_pylist()
    write(folder / "leak.txt", "\n".join([f"  {test[0]}  ", "an innocent line", test[1]]) + "\n")
    again = train_flow(config(tiny_config, folder, labeled, "data.seed=1"))
    stats = {s["file"]: s for s in again["stats"]["shard"]}
    assert stats["leak.txt"]["rows"] == 1 and stats["leak.txt"]["unlabeled_equal_to_test_removed"] == 2
    leak = again["artifacts"]["shard"][3]  # shards in file-name order: a, b, c, leak
    assert pq.read_table(f"{leak}/unlabeled.parquet")["text"].to_pylist() == ["an innocent line"]


def test_a_bad_shard_is_named(prefect_api, data_dir, tiny_config, corpus):
    from fewlabel.errors import UserError

    folder, labeled = corpus
    write(folder / "broken.csv", "title\nno text column here\n")
    with pytest.raises(UserError, match=r"stage shard .*broken\.csv: .*broken\.csv has no column 'text'"):
        train_flow(config(tiny_config, folder, labeled))


def test_predict_a_folder_shard_by_shard(prefect_api, data_dir, tiny_config, corpus, tmp_path):
    folder, labeled = corpus
    train_flow(config(tiny_config, folder, labeled))
    new = tmp_path / "new"
    write(new / "1.txt", "a wonderful film\na dull plot\n")
    write(new / "2.csv", "text\nterrible\ngreat fun\nfine\n")
    first = predict_flow(input_path=str(new), output_name="folder")
    table = pq.read_table(first["output"])
    assert first["rows"] == table.num_rows == 5 and first["shards"] == 2
    assert list(zip(table["origin"].to_pylist(), table["row"].to_pylist())) == [
        ("1.txt", 1),
        ("1.txt", 2),
        ("2.csv", 1),
        ("2.csv", 2),
        ("2.csv", 3),
    ]
    write(new / "3.txt", "lovely\n")
    second = predict_flow(input_path=str(new), output_name="folder")
    assert [s["state"] for s in second["shards_detail"]] == ["Cached", "Cached", "Completed"]
    assert pq.read_table(second["output"]).slice(0, 5).equals(table)
