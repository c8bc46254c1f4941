"""Seed 004 text handling, Rotten Tomatoes, aclImdb and imdb.npz loaders (fixtures written here, real layout)."""
from __future__ import annotations

import numpy as np
import pytest

from migration import datasets as D
from migration.core.errors import MigrationError


def test_clean_sentence_is_the_seeds():
    assert D.clean_sentence("This is <br />GREAT! (Really) isn't it?") == "this is  great really isnt it"
    assert D.clean_sentence("Caf\u00e9 -- 10/10") == "caf  1010"  # non-ASCII letters go too


def test_encode_seed_sentence_with_real_glove():
    from migration.glove import load_default_glove

    glove = load_default_glove()
    ids, lengths = D.encode(["I thought the movie was incredible and inspiring"], glove.index, 10)
    # seed 004 prints [41 804 201534 1005 15 7446 5 13767 0 0]; real GloVe has 'the' at row 0 (201534 is 'unk')
    assert ids.tolist() == [[41, 804, 0, 1005, 15, 7446, 5, 13767, 0, 0]]
    assert lengths.tolist() == [8] and ids.dtype == np.int32
    assert glove.words[201534] == "unk"


def test_encode_unknown_truncation_and_params():
    index = {"a": 1, "b": 2}
    ids, lengths = D.encode(["a zzz b", "b " * 10, ""], index, 4)
    assert ids.tolist() == [[1, 399999, 2, 0], [2, 2, 2, 2], [0, 0, 0, 0]]
    assert lengths.tolist() == [3, 4, 0]
    ids, _ = D.encode(["A zzz"], index, 3, unknown_id=-1, pad_id=7, clean=False)
    assert ids.tolist() == [[-1, -1, 7]]  # not cleaned: 'A' is unknown
    with pytest.raises(ValueError, match="max_len"):
        D.encode(["a"], index, 0)


def test_rotten_tomatoes_counts_and_split():
    data = D.load_rotten_tomatoes()
    assert len(data) == 12808 and int(data.labels.sum()) == 7403 and data.labels.dtype == np.int32
    train, test = D.train_test_split(data, 0.2, seed=3)
    assert len(train) + len(test) == len(data) and len(test) == round(7403 * 0.2) + round(5405 * 0.2)
    assert set(train.texts).isdisjoint(test.texts) or len(set(data.texts)) < len(data)
    again = D.train_test_split(data, 0.2, seed=3)
    assert again[1].texts == test.texts  # deterministic
    assert D.train_test_split(data, 0.2, seed=4)[1].texts != test.texts
    assert abs(test.labels.mean() - data.labels.mean()) < 1e-3  # stratified


def test_rotten_tomatoes_bad_category(tmp_path):
    import bz2

    path = tmp_path / "rt.csv.bz2"
    path.write_bytes(bz2.compress(b"category,text,movie_name,has_plot_and_reviews\nfresh,good,m,True\n"
                                  b"plot,a plot,m,True\nmeh,bad,m,True\n"))
    with pytest.raises(D.DatasetError, match=r"rt\.csv\.bz2:4: unknown category 'meh'"):
        D.load_rotten_tomatoes(path)
    with pytest.raises(D.DatasetError, match="not found"):
        D.load_rotten_tomatoes(tmp_path / "missing.csv.bz2")


@pytest.fixture
def aclimdb(tmp_path):
    root = tmp_path / "aclImdb"
    reviews = {("train", "pos"): {"10_9.txt": "Great <br />film!", "2_7.txt": "Loved it."},
               ("train", "neg"): {"0_2.txt": "Awful.", "1_1.txt": "Boring."},
               ("test", "pos"): {"0_10.txt": "Superb."}, ("test", "neg"): {"0_3.txt": "Meh."}}
    for (split, label), files in reviews.items():
        (root / split / label).mkdir(parents=True)
        for name, text in files.items():
            (root / split / label / name).write_text(text, encoding="utf-8")
    (root / "train" / "unsup").mkdir()
    (root / "train" / "unsup" / "0_0.txt").write_text("ignored")
    return root


def test_aclimdb_layout_order_and_env(aclimdb, monkeypatch):
    data = D.load_aclimdb(aclimdb, "train")
    assert data.texts == ["Loved it.", "Great <br />film!", "Awful.", "Boring."]  # pos first, numeric id order
    assert data.labels.tolist() == [1, 1, 0, 0]
    assert D.load_aclimdb(aclimdb.parent, "test").labels.tolist() == [1, 0]  # parent dir accepted
    monkeypatch.setenv(D.IMDB_ENV, str(aclimdb))
    assert D.load_aclimdb().texts == data.texts
    assert D.load_imdb(split="test").texts == ["Superb.", "Meh."]


def test_aclimdb_errors(aclimdb, tmp_path, monkeypatch):
    import shutil

    monkeypatch.delenv(D.IMDB_ENV, raising=False)
    with pytest.raises(D.DatasetError, match=D.IMDB_ENV):
        D.load_aclimdb()
    shutil.rmtree(aclimdb / "test" / "neg")
    with pytest.raises(D.DatasetError, match=r"test[/\\]neg"):
        D.load_aclimdb(aclimdb, "test")


def test_imdb_npz_round_trip(tmp_path, monkeypatch):
    path = D.save_imdb_npz(tmp_path / "imdb_int32.npz", [[1, 14, 22], [1, 5]], [1, 0], [[1]], [0])
    train = D.load_imdb_npz(path, "train")
    assert [s.tolist() for s in train.sequences] == [[1, 14, 22], [1, 5]] and train.labels.tolist() == [1, 0]
    monkeypatch.setenv(D.IMDB_ENV, str(path))
    assert [s.tolist() for s in D.load_imdb(split="test").sequences] == [[1]]
    with pytest.raises(D.DatasetError, match="already exists"):
        D.save_imdb_npz(path, [], [], [], [])


def test_keras_style_pickled_npz_is_refused_without_unpickling(tmp_path, monkeypatch):
    path = tmp_path / "imdb.npz"
    ragged = np.empty(2, dtype=object)
    ragged[0], ragged[1] = [1, 14, 22], [1, 5]
    np.savez(path, x_train=ragged, y_train=np.array([1, 0]), x_test=ragged, y_test=np.array([0, 1]))
    import pickle

    def boom(*args, **kwargs):  # any unpickling attempt fails the test
        raise AssertionError("unpickled")

    monkeypatch.setattr(pickle, "load", boom)
    monkeypatch.setattr(pickle, "loads", boom)
    with pytest.raises(D.DatasetError, match="x_test, x_train as object arrays.*never unpickles.*save_imdb_npz") as e:
        D.load_imdb_npz(path)
    assert isinstance(e.value, MigrationError)


def test_imdb_npz_missing(tmp_path):
    with pytest.raises(D.DatasetError, match=r"imdb\.npz not found: .*nope\.npz"):
        D.load_imdb_npz(tmp_path / "nope.npz")
