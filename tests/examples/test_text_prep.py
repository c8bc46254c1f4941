"""Seed 003 text_prep: vocabularies, windows, Tokenizer, GloVe Embedding and parameter counts from real models."""
from __future__ import annotations

import json

import pytest

from migration.examples import text_prep as T

# one xdist worker runs the module (setup.cfg: --dist loadgroup): its module fixture is built once
pytestmark = pytest.mark.xdist_group("text_prep")

# seed 003's index_to_word, transcribed from /work/shared/seeds/003_*.txt (204 words, sorted, ids 0..203)
SEED_VOCAB = [
    "(3", "Ah,", "Amy's", "And", "Explorer", "Firefox.", "For", "Galileo,", "Goblin", "Green", "Hubble", "I", "I'm",
    "Internet", "Ladybugs", "Oh", "Paul", "Penny", "Penny!", "Pope", "Scissors", "She", "Spider-Man,", "Spock",
    "Spock,", "Thankfully", "The", "Two", "V", "Well,", "What", "Wheaton!", "Wil", "You're", "a", "afraid", "all",
    "always", "am", "and", "appeals", "are", "art", "as", "at", "aware", "based", "be", "became", "because", "been",
    "birthday", "bitch.", "black", "blood", "bottle.", "bottom", "brain", "breaker.", "bus", "but", "calls", "can",
    "care", "catatonic.", "center", "chance", "circuit", "computer", "could", "covers", "crushes", "cry", "cuts",
    "days", "decapitates", "deity.", "discovering", "disproves", "do", "does", "don't", "eat", "eats", "every",
    "example,", "flashlight", "for", "free", "genitals,", "genitals.", "get", "ghost", "girlfriend", "gravity,", "had",
    "hand.", "has,", "have", "have?", "having", "heartless", "here", "hole", "humans", "if", "impairment;", "in",
    "insane,", "insects", "involves", "is", "isn't", "it", "it.", "just", "kept", "knocks)", "later,", "little",
    "living", "lizard", "lizard,", "loud", "makes", "man", "masturbating", "me", "memory", "messy,", "money.",
    "moon-pie", "mother", "moved", "much", "must", "my", "next", "not", "nummy-nummy", "of", "on", "one.", "other",
    "others", "paper", "paper,", "people", "please", "poisons", "present", "prize", "relationship", "render",
    "reproduce", "right", "rock", "rock,", "rushed", "sad.", "say", "scissors", "scissors,", "scissors.",
    "searching", "sexual", "she", "smashes", "so", "sooner", "stopping", "stupid,", "taken", "telescope", "tested.",
    "that", "the", "things", "think", "thou", "three", "to", "today", "town.", "tried", "unnecessary", "unsanitary",
    "up.", "used", "usually", "vaporizes", "vodka", "way", "we", "well,", "which", "white", "will", "with", "women,",
    "would", "years,", "you", "your",
]


def test_vocabulary_equals_seed_exactly():
    index_to_word, word_to_index = T.vocabularies(T.SHELDON_QUOTES)
    assert [index_to_word[i] for i in range(len(index_to_word))] == SEED_VOCAB
    assert word_to_index == {w: i for i, w in enumerate(SEED_VOCAB)}


def test_char_windows_match_seed_printout():
    sentences, next_chars = T.char_windows(" ".join(T.SHELDON_QUOTES), 10, 2)
    # the seed prints these pairs (its table lost the leading/trailing blanks)
    printed = [("You're afr", "a"), ("u're afrai", "d"), ("re afraid", "o"), ("afraid of", ""), ("fraid of i", "n"),
               ("aid of ins", "e"), ("d of insec", "t"), ("of insects", ""), ("insects a", "n")]
    assert [(s.strip(), c.strip()) for s, c in zip(sentences, next_chars)][:9] == printed
    assert all(len(s) == 10 for s in sentences)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = T.main(["--json", "--quiet"])
    return code, json.loads(out.getvalue().strip().splitlines()[-1])


def test_json_parameter_counts_equal_the_seed(result):
    code, figures = result
    assert code == 0
    pc = figures["param_counts"]
    # the seed's printed numbers (003): ours come from models built by the example
    assert pc["lstm_dense"]["ours"]["LSTM"] == 71168 and pc["lstm_dense"]["ours"]["total"] == 71297
    assert pc["gru_onehot"]["reset_after_False"]["gru"] == 49920
    assert pc["gru_onehot"]["reset_after_False"]["total"] == 50049
    assert pc["gru_onehot"]["reset_after_True"]["gru"] == 50304  # TF2 default: not the seed's figure
    assert pc["gru_onehot"]["seed_variant"] == "reset_after=False"
    assert pc["emb_model"]["reset_after_False"] == {"embedding": 24000600, "gru": 164736, "dense": 129,
                                                   "total": 24165465}
    assert pc["emb_model"]["seed_variant"] == "reset_after=False"
    assert pc["stacked_lstm"]["ours"] == {"lstm_1": 34304, "lstm_2": 33024, "dense": 4485, "total": 71813}


def test_json_text_and_glove_figures(result):
    _, figures = result
    assert figures["vocabulary"]["size"] == 204 and figures["char_windows"]["match"]
    tok = figures["tokenizer"]
    assert tok["padded_shape"] == [len(T.SHELDON_QUOTES), 60]
    emb = figures["glove_embedding"]
    assert emb["weights_equal_glove"] and emb["trainable"] is False and emb["dim"] == 50
    assert emb["non_trainable_params"] == emb["rows"] * 50 and emb["rows"] == tok["words"] + 1
    assert emb["found_in_glove"] > 0.9 * tok["words"]


def test_glove_path_option(tmp_path, capsys):
    import numpy as np

    from migration.glove import Glove, load_glove, save_glove_cache

    cache = save_glove_cache(Glove(["penny", "rock"], np.float32([[1, 2, 3], [4, 5, 6]])), tmp_path / "c")
    matrix, found = T.glove_matrix({"rock": 1, "penny": 2, "zzz": 3}, load_glove(cache))
    assert found == 2 and matrix.tolist() == [[0, 0, 0], [4, 5, 6], [1, 2, 3], [0, 0, 0]]
    assert T.main(["--glove", str(cache), "--json", "--quiet"]) == 0
    emb = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["glove_embedding"]
    assert (emb["source"], emb["dim"], emb["found_in_glove"]) == (str(cache), 3, 2)
