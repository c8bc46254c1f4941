"""Seed 003 (text preparation for Keras RNNs), reproduced with real models and the real GloVe vectors.

What the seed does, step by step, and what this example prints next to the seed's own numbers:

1. ``word_to_index`` / ``index_to_word`` over Sheldon Cooper's quotes: ``' '.join(quotes).split(' ')``, the sorted
   unique words numbered from 0. The seed prints 204 words (``'(3'`` = 0 ... ``'your'`` = 203).
2. Character windows for next-character prediction: ``chars_window = 10``, ``step = 2`` over the quotes joined with
   spaces (the seed prints ``"You're afr" -> 'a'``, ``"u're afrai" -> 'd'`` ...).
3. Unseen sentences through ``word_to_index.get(word, 0)``: the seed's quirk - unknown words get id 0, which is also
   a real word (``'(3'``); the seed's own ids come from a larger vocabulary it does not show.
4. Keras ``Tokenizer`` + ``pad_sequences`` (``modern_rnn.keras.preprocessing``), padded to 60 as in the seed. The
   seed's counts ``(54, 78)`` are for texts it does not show; ours are for the quotes.
5. A GloVe ``Embedding``: ``Constant(glove_matrix)``-initialised and frozen (``trainable=False``) in front of
   ``GRU(128)`` + ``Dense(1)``; the matrix rows are the real GloVe 6B 50d vectors of the Tokenizer's words (row 0 is
   padding, zeros), or any ``--glove PATH`` (text file, seed ``.npy`` pair directory or cache).
6. The seed's parameter counts, from real built ``tf_keras`` models: ``LSTM(128)`` on 10 features + ``Dense(1)`` =
   71,297; ``GRU(128)`` on 1 feature = 49,920; the 300-d embedding model = 24,165,465; the stacked character LSTM =
   71,813.

**Which GRU gives 49,920.** A Keras GRU has ``3 * (units * (input_dim + units) + units)`` parameters with
``reset_after=False`` (one bias per gate: the Keras 2.2 / TF1 ``GRUCell`` layout, the seed's era) and
``3 * (units * (input_dim + units) + 2 * units)`` with ``reset_after=True`` (an input bias and a recurrent bias per
gate: the TF2 default). For 128 units on 1 feature that is 49,920 vs 50,304: the seed's figure is
``reset_after=False``, and so is its 164,736 for the 300-d model (``reset_after=True`` would give 165,120). The
example builds both variants and reports which one equals the document.
"""
from __future__ import annotations

import argparse
from typing import Sequence

import numpy as np

from migration.examples.common import (add_common_args, emit_json, result_line, scoped_op_determinism,
                                       seed_everything)
from migration.glove import load_default_glove, load_glove

#: Sheldon Cooper's quotes used by seed 003 (DataCamp "Recurrent Neural Networks for Language Modeling", ch. 1);
#: their sorted word set is exactly the 204-word ``index_to_word`` the seed prints (checked by the tests).
SHELDON_QUOTES: tuple[str, ...] = (
    "You're afraid of insects and women, Ladybugs must render you catatonic.",
    "Scissors cuts paper, paper covers rock, rock crushes lizard, lizard poisons Spock, Spock smashes scissors, "
    "scissors decapitates lizard, lizard eats paper, paper disproves Spock, Spock vaporizes rock, and as it always "
    "has, rock crushes scissors.",
    "For example, I cry because others are stupid, and that makes me sad.",
    "I'm not insane, my mother had me tested.",
    "Two days later, Penny moved in and so much blood rushed to your genitals, your brain became a ghost town.",
    "Amy's birthday present will be my genitals.",
    "(3 knocks) Penny! (3 knocks) Penny! (3 knocks) Penny!",
    "Thankfully all the things my girlfriend used to do can be taken care of with my right hand.",
    "I would have been here sooner but the bus kept stopping for other people to get on it.",
    "Oh gravity, thou art a heartless bitch.",
    "I am aware of the way humans usually reproduce which is messy, unsanitary and based on living next to you for "
    "three years, involves loud and unnecessary appeals to a deity.",
    "Well, today we tried masturbating for money.",
    "I think that you have as much of a chance of having a sexual relationship with Penny as the Hubble telescope "
    "does of discovering at the center of every black hole is a little man with a flashlight searching for a "
    "circuit breaker.",
    "Well, well, well, if it isn't Wil Wheaton! The Green Goblin to my Spider-Man, the Pope Paul V to my Galileo, "
    "the Internet Explorer to my Firefox.",
    "What computer do you have? And please don't say a white one.",
    "She calls me moon-pie because I'm nummy-nummy and she could just eat me up.",
    "Ah, memory impairment; the free prize at the bottom of every vodka bottle.",
)

#: The seed's unseen sentences (step 3).
NEW_TEXT: tuple[str, ...] = (
    "A man either lives life as it happens to him meets it head-on and licks it or he turns his back on it and "
    "starts to wither away",
    "To the brave crew and passengers of the Kobayshi Maru sucks to be you",
    "Beware of more powerful weapons They often inflict as much damage to your soul as they do to you enemies",
    "They are merely scars not mortal wounds and you must use them to propel you forward",
    "You cannot explain away a wantonly immoral act because you think that it is connected to some higher purpose",
)

#: Numbers printed in seed 003 (/work/shared/seeds/003_*.txt).
SEED_003 = {
    "vocabulary_size": 204,
    "vocabulary_spot_checks": {"(3": 0, "I": 11, "Penny!": 18, "Spock,": 24, "a": 34, "the": 176, "your": 203},
    # first char windows (chars_window=10, step=2); the seed's printout lost leading/trailing spaces
    "char_windows": [["You're afr", "a"], ["u're afrai", "d"], ["re afraid ", "o"], [" afraid of", " "],
                     ["fraid of i", "n"], ["aid of ins", "e"], ["d of insec", "t"], ["of insects", " "],
                     [" insects a", "n"]],
    "chars_window": 10,
    "step": 2,
    "tokenizer_first_two_lengths": [54, 78],  # for the seed's own (unshown) texts
    "pad_length": 60,
    "lstm_dense": {"LSTM": 71168, "output": 129, "total": 71297},
    "gru_onehot": {"gru": 49920, "dense": 129, "total": 50049},
    "emb_model": {"embedding": 24000600, "gru": 164736, "dense": 129, "total": 24165465},
    "stacked_lstm": {"lstm_1": 34304, "lstm_2": 33024, "dense": 4485, "total": 71813},
}


# --- steps 1-3: plain Python, as in the seed ------------------------------------------------------------------------

def vocabularies(quotes: Sequence[str]) -> tuple[dict[int, str], dict[str, int]]:
    """The seed's ``index_to_word`` and ``word_to_index``: sorted unique space-separated words, numbered from 0."""
    all_words = " ".join(quotes).split(" ")
    unique_words = sorted(set(all_words))
    return dict(enumerate(unique_words)), {word: i for i, word in enumerate(unique_words)}


def char_windows(text: str, chars_window: int = 10, step: int = 2) -> tuple[list[str], list[str]]:
    """The seed's (sentence, next char) pairs: ``text[i:i + chars_window]`` -> ``text[i + chars_window]``."""
    sentences, next_chars = [], []
    for i in range(0, len(text) - chars_window, step):
        sentences.append(text[i:i + chars_window])
        next_chars.append(text[i + chars_window])
    return sentences, next_chars


def to_ids(sentences: Sequence[str], word_to_index: dict[str, int]) -> list[list[int]]:
    """The seed's ``new_text_split``: ``word_to_index.get(word, 0)`` per space-separated word (0 = unknown AND '(3')."""
    return [[word_to_index.get(word, 0) for word in sentence.split(" ")] for sentence in sentences]


# --- steps 4-6: tf_keras ---------------------------------------------------------------------------------------------

def tokenize(texts: Sequence[str], pad_length: int = 60) -> tuple[object, list[list[int]], np.ndarray]:
    from modern_rnn import keras

    tokenizer = keras.preprocessing.text.Tokenizer()
    tokenizer.fit_on_texts(list(texts))
    numeric = tokenizer.texts_to_sequences(list(texts))
    padded = keras.preprocessing.sequence.pad_sequences(numeric, pad_length)
    return tokenizer, numeric, padded


def glove_matrix(word_index: dict[str, int], glove) -> tuple[np.ndarray, int]:
    """``[len(word_index) + 1, E]`` float32: row ``word_index[w]`` = GloVe vector of ``w`` (zeros if absent)."""
    matrix = np.zeros((len(word_index) + 1, glove.dim), dtype=np.float32)
    found = 0
    for word, row in word_index.items():
        gid = glove.get_id(word)
        if gid is not None:
            matrix[row] = glove.vectors[gid]
            found += 1
    return matrix, found


def glove_embedding_model(matrix: np.ndarray, sentence_len: int):
    """The seed's ``emb_model`` with GloVe: frozen ``Embedding(Constant(matrix))`` -> ``GRU(128)`` -> ``Dense(1)``."""
    from modern_rnn import keras

    model = keras.Sequential(name="emb_model", layers=[
        keras.layers.Embedding(input_dim=matrix.shape[0], output_dim=matrix.shape[1],
                               embeddings_initializer=keras.initializers.Constant(matrix),
                               input_length=sentence_len, trainable=False),
        keras.layers.GRU(128),
        keras.layers.Dense(1),
    ])
    model.build((None, sentence_len))
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


def _counts(model) -> dict[str, int]:
    counts = {layer.name: int(layer.count_params()) for layer in model.layers}
    counts["total"] = int(model.count_params())
    return counts


def parameter_counts() -> dict[str, dict]:
    """The seed's four models, built for real; GRU models in both ``reset_after`` variants."""
    from modern_rnn import keras

    layers = keras.layers
    main_input = keras.Input(shape=(None, 10), name="input")
    lstm = layers.LSTM(128, name="LSTM")(main_input)
    output = layers.Dense(1, activation="sigmoid", name="output")(lstm)
    lstm_dense = _counts(keras.Model(inputs=main_input, outputs=output, name="modelclass_model"))

    def gru_model(reset_after: bool, features: int, embedding: tuple[int, int] | None = None):
        model = keras.Sequential()
        if embedding:
            model.add(layers.Embedding(input_dim=embedding[0], output_dim=embedding[1], input_length=features,
                                       name="embedding"))
        model.add(layers.GRU(128, reset_after=reset_after, name="gru"))
        model.add(layers.Dense(1, name="dense"))
        model.build((None, features) if embedding else (None, None, features))
        return _counts(model)

    gru = {f"reset_after_{flag}": gru_model(flag, 1) for flag in (False, True)}
    # seed: input_dim = vocabulary_size + 1 = 80,002 (24,000,600 / 300), 300 dims, sentences of 200 words
    emb = {f"reset_after_{flag}": gru_model(flag, 200, (80002, 300)) for flag in (False, True)}

    stacked = keras.Sequential([
        layers.LSTM(64, input_shape=(20, 69), return_sequences=True, name="lstm_1"),  # 69 = n_vocab (one-hot chars)
        layers.LSTM(64, return_sequences=False, name="lstm_2"),
        layers.Dense(69, activation="softmax", name="dense"),
    ])
    return {
        "lstm_dense": {"ours": lstm_dense, "seed": SEED_003["lstm_dense"],
                       "match": lstm_dense["total"] == SEED_003["lstm_dense"]["total"]},
        "gru_onehot": _gru_verdict(gru, SEED_003["gru_onehot"]),
        "emb_model": _gru_verdict(emb, SEED_003["emb_model"]),
        "stacked_lstm": {"ours": _counts(stacked), "seed": SEED_003["stacked_lstm"],
                         "match": stacked.count_params() == SEED_003["stacked_lstm"]["total"],
                         "note": "input features 69 (= n_vocab) inferred from 34,304 = 4*(64*(69+64)+64)"},
    }


def _gru_verdict(variants: dict[str, dict[str, int]], seed: dict[str, int]) -> dict:
    matching = [name for name, counts in variants.items() if counts["gru"] == seed["gru"]]
    labels = {"reset_after_False": "reset_after=False", "reset_after_True": "reset_after=True"}
    return {**variants, "seed": seed, "seed_variant": labels[matching[0]] if matching else None,
            "match": bool(matching) and variants[matching[0]]["total"] == seed["total"]}


# --- the program ----------------------------------------------------------------------------------------------------

def run(glove_path: str | None = None) -> dict:
    index_to_word, word_to_index = vocabularies(SHELDON_QUOTES)
    spot = {word: word_to_index.get(word) for word in SEED_003["vocabulary_spot_checks"]}
    text = " ".join(SHELDON_QUOTES)
    sentences, next_chars = char_windows(text, SEED_003["chars_window"], SEED_003["step"])
    first = [[s, c] for s, c in zip(sentences, next_chars)][: len(SEED_003["char_windows"])]
    new_ids = to_ids(NEW_TEXT, word_to_index)

    tokenizer, numeric, padded = tokenize(SHELDON_QUOTES, SEED_003["pad_length"])
    glove = load_glove(glove_path) if glove_path else load_default_glove()
    matrix, found = glove_matrix(tokenizer.word_index, glove)
    model = glove_embedding_model(matrix, SEED_003["pad_length"])
    embedding = model.layers[0]
    out = model.predict(padded, verbose=0)
    return {
        "vocabulary": {"size": len(index_to_word), "seed_size": SEED_003["vocabulary_size"], "spot_checks": spot,
                       "match": len(index_to_word) == SEED_003["vocabulary_size"]
                       and spot == SEED_003["vocabulary_spot_checks"]},
        "char_windows": {"count": len(sentences), "first": first, "seed_first": SEED_003["char_windows"],
                         "match": first == SEED_003["char_windows"]},
        "new_text": {"first_ids": new_ids[0], "unknown_as_0": sum(i == 0 for i in new_ids[0]),
                     "decoded": " ".join(index_to_word[i] for i in new_ids[0])},
        "tokenizer": {"words": len(tokenizer.word_index), "first_two_lengths": [len(numeric[0]), len(numeric[1])],
                      "seed_first_two_lengths": SEED_003["tokenizer_first_two_lengths"],
                      "padded_shape": list(padded.shape), "first_padded": padded[0].tolist()},
        "glove_embedding": {
            "source": glove.source, "glove_words": len(glove), "dim": glove.dim, "rows": int(matrix.shape[0]),
            "found_in_glove": found, "trainable": bool(embedding.trainable),
            "non_trainable_params": int(sum(np.prod(w.shape) for w in model.non_trainable_weights)),
            "trainable_params": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
            "weights_equal_glove": bool(np.array_equal(embedding.get_weights()[0], matrix)),
            "output_shape": list(out.shape),
        },
        "param_counts": parameter_counts(),
    }


def report(result: dict, args: argparse.Namespace) -> None:
    result_line("1. vocabulary: ours {size} words, seed {seed_size}; spot checks {spot_checks} -> "
        "{verdict}".format(**result["vocabulary"], verdict="match" if result["vocabulary"]["match"] else "DIFFER"), args)
    cw = result["char_windows"]
    result_line(f"2. char windows (10 chars, step 2): {cw['count']} pairs; first {cw['first'][:3]} ... -> "
        f"{'match the seed' if cw['match'] else 'DIFFER from the seed'}", args)
    nt = result["new_text"]
    result_line(f"3. unseen sentence -> {nt['first_ids'][:8]}...; {nt['unknown_as_0']} unknown words became id 0 "
        f"(also the id of '(3'): {nt['decoded'][:60]}...", args)
    tk = result["tokenizer"]
    result_line(f"4. Tokenizer: {tk['words']} words; first two texts {tk['first_two_lengths']} words "
        f"(seed {tk['seed_first_two_lengths']} on its own texts); padded to {tk['padded_shape']}", args)
    ge = result["glove_embedding"]
    result_line(f"5. GloVe Embedding ({ge['source']}): {ge['rows']} x {ge['dim']} frozen, {ge['found_in_glove']} of "
        f"{ge['rows'] - 1} words found; non-trainable {ge['non_trainable_params']:,}, trainable "
        f"{ge['trainable_params']:,}; weights == GloVe rows: {ge['weights_equal_glove']}", args)
    pc = result["param_counts"]
    result_line("6. parameter counts (ours from built models | seed):", args)
    result_line(f"   LSTM(128) on 10 features + Dense(1): {pc['lstm_dense']['ours']['total']:,} | "
        f"{pc['lstm_dense']['seed']['total']:,}", args)
    for key, label in (("gru_onehot", "GRU(128) on 1 feature"), ("emb_model", "Embedding(80002, 300) + GRU(128)")):
        entry = pc[key]
        result_line(f"   {label}: GRU reset_after=False {entry['reset_after_False']['gru']:,}, reset_after=True "
            f"{entry['reset_after_True']['gru']:,} | seed {entry['seed']['gru']:,} -> the seed's GRU is "
            f"{entry['seed_variant']} (total {entry['seed']['total']:,})", args)
    result_line(f"   stacked LSTM(64) x2 + Dense(69): {pc['stacked_lstm']['ours']['total']:,} | "
        f"{pc['stacked_lstm']['seed']['total']:,}", args)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="text_prep", description=__doc__.splitlines()[0])
    parser.add_argument("--glove", metavar="PATH",
                        help="GloVe text file, seed .npy pair directory or cache (default: installed GloVe 6B 50d)")
    add_common_args(parser, curves=False)  # nothing is trained: no loss curve to plot or log
    args = parser.parse_args(list(argv) if argv is not None else None)
    with scoped_op_determinism():
        return _main(args)


def _main(args: argparse.Namespace) -> int:
    seed_everything(args.seed)
    result = run(args.glove)
    report(result, args)
    if args.json:
        emit_json(result)
    pc = result["param_counts"]
    ok = all(pc[key]["match"] for key in pc) and result["vocabulary"]["match"] and result["char_windows"]["match"]
    return 0 if ok else 1


if __name__ == "__main__":
    import sys

    sys.exit(main())
