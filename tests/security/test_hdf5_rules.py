"""Issue 20 point 2: HDF5 weights that point outside their file are refused before anything reads them.

Fails on main (verified: ``PYTHONPATH=/work/main python -m migration export model.keras out/model.ckpt`` on the
external-storage archive exits 0 and the exported kernel holds the secret file's bytes).
"""
from __future__ import annotations

import io
import os

import numpy as np
import pytest

from migration.core.errors import MigrationError
from migration.hdf5_check import check_hdf5, hdf5_problem
from migration.safe_io import check_keras_archive, load_keras_model
from tests.security.model_files import LSTM_KERNEL, members, rewrite, save_lstm_model
from tests.ux import run_cli_in_process

# one xdist worker runs the module (setup.cfg: --dist loadgroup): its module fixture is built once
pytestmark = pytest.mark.xdist_group("hdf5_rules")

SECRET = np.frombuffer(b"TOP-SECRET-PASSWORD!" * 16, dtype="<f4").reshape(4, 20)  # 320 bytes = the kernel's size


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("hdf5")
    save_lstm_model(root / "model.keras")
    (root / "secret.bin").write_bytes(SECRET.tobytes())
    return root


def _external(secret: str):
    def edit(h5) -> None:
        del h5[LSTM_KERNEL]
        h5.create_dataset(LSTM_KERNEL, shape=(4, 20), dtype="<f4", external=[(secret, 0, 320)])
    return edit


def test_export_refuses_external_storage_and_copies_nothing(saved, tmp_path):
    path = rewrite(saved / "model.keras", tmp_path / "model.keras", weights=_external(str(saved / "secret.bin")))
    proc = run_cli_in_process("export", "model.keras", "out/model.ckpt", cwd=tmp_path)  # the refusal, not start-up
    assert proc.returncode == 2, proc.stderr
    assert "external storage" in proc.stderr and LSTM_KERNEL in proc.stderr and "secret.bin" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()
    with pytest.raises(MigrationError, match="external storage"):
        load_keras_model(path)


def _vds(h5) -> None:
    import h5py

    layout = h5py.VirtualLayout(shape=(4, 20), dtype="<f4")
    layout[:] = h5py.VirtualSource("/etc/passwd-like.h5", "data", shape=(4, 20))
    del h5[LSTM_KERNEL]
    h5.create_virtual_dataset(LSTM_KERNEL, layout, fillvalue=0)


def _soft(h5) -> None:
    import h5py

    h5["elsewhere"] = h5[LSTM_KERNEL][()]
    del h5[LSTM_KERNEL]
    h5[LSTM_KERNEL] = h5py.SoftLink("/elsewhere")


def _extlink(h5) -> None:
    import h5py

    del h5[LSTM_KERNEL]
    h5[LSTM_KERNEL] = h5py.ExternalLink("/tmp/other.h5", "/data")


def _filter(h5) -> None:  # scale-offset: built into HDF5 but not a filter Keras writes; a plugin id is refused alike
    data = h5[LSTM_KERNEL][()]
    del h5[LSTM_KERNEL]
    h5.create_dataset(LSTM_KERNEL, data=data, chunks=(4, 20), scaleoffset=3)


def _huge(h5) -> None:  # declared 40 GB, never written (late allocation): Keras would try to read it
    del h5[LSTM_KERNEL]
    h5.create_dataset(LSTM_KERNEL, shape=(100_000, 100_000), dtype="<f4")


def _huge_chunked(h5) -> None:
    del h5[LSTM_KERNEL]
    h5.create_dataset(LSTM_KERNEL, shape=(100_000, 100_000), dtype="<f4", chunks=(100, 100), compression="gzip")


def _strings(h5) -> None:
    del h5[LSTM_KERNEL]
    h5.create_dataset(LSTM_KERNEL, data=np.array([b"a", b"b"]))


@pytest.mark.parametrize("edit, pattern", [
    (_vds, "virtual dataset"), (_soft, "SoftLink"), (_extlink, "ExternalLink"), (_filter, "filter"),
    (_huge, "declares 40000000000 bytes"), (_huge_chunked, "more than a"), (_strings, "not numeric"),
])
def test_hdf5_that_reads_elsewhere_is_refused(saved, tmp_path, edit, pattern):
    path = rewrite(saved / "model.keras", tmp_path / "m.keras", weights=edit)
    with pytest.raises(MigrationError, match=pattern):
        check_keras_archive(str(path))


def test_allowed_filters_and_a_plain_save_pass(saved, tmp_path):
    """Negative control: a real save passes; gzip + shuffle + fletcher32 and lzf are accepted and load equal."""
    check_keras_archive(str(saved / "model.keras"))
    original = load_keras_model(saved / "model.keras").get_weights()

    def compressed(h5) -> None:
        data = h5[LSTM_KERNEL][()]
        del h5[LSTM_KERNEL]
        h5.create_dataset(LSTM_KERNEL, data=data, compression="gzip", shuffle=True, fletcher32=True)
        bias = "layers/lstm/cell/vars/2"
        data = h5[bias][()]
        del h5[bias]
        h5.create_dataset(bias, data=data, compression="lzf")

    path = rewrite(saved / "model.keras", tmp_path / "gz.keras", weights=compressed)
    for a, b in zip(load_keras_model(path).get_weights(), original):
        np.testing.assert_array_equal(a, b)


def test_standalone_h5_is_checked_even_with_trust_model(saved, tmp_path):
    """--trust-model vouches for Lambda code, not for reading other files: external storage is refused too."""
    import h5py

    path = tmp_path / "model.h5"
    with h5py.File(path, "w") as h5:
        h5.create_dataset("model_weights/lstm/kernel", shape=(4, 20), dtype="<f4",
                          external=[(str(saved / "secret.bin"), 0, 320)])
    with pytest.raises(MigrationError, match="external storage"):
        load_keras_model(path, trust=True)
    with pytest.raises(MigrationError, match="not HDF5|damaged"):
        check_hdf5(str(saved / "secret.bin"), "secret.bin")


def test_zip_member_is_checked_through_a_file_object(saved):
    """The check reads the archive's member in place (no extraction); the same bytes in memory give the same verdict."""
    data = members(saved / "model.keras")["model.weights.h5"]
    assert hdf5_problem(io.BytesIO(data), len(data)) is None
    assert os.path.getsize(saved / "model.keras") > len(data)
