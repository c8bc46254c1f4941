"""The prelude rule of tests/upgrade/program_runner.py (pure Python): which programs may share a zygote's TensorFlow
import. Running programs through it is tested by test_programs_e2e.py (including its negative control)."""
from __future__ import annotations

import pytest

from tests.upgrade.program_runner import prelude

BOOT = 'import os\nos.environ["TF_USE_LEGACY_KERAS"] = "1"  # set before TF\n'
BODY = "import numpy as np\nimport tensorflow as tf\nprint(tf.__version__)\n"


def test_the_prelude_is_the_bootstrap_and_stops_at_the_first_other_statement():
    source, key = prelude('"""Doc."""\nfrom __future__ import print_function\n' + BOOT + "import json\n" + BODY)
    assert source == '"""Doc."""\nfrom __future__ import print_function\n' + BOOT + "import json\n"
    assert key == "os.environ['TF_USE_LEGACY_KERAS'] = '1'"
    assert prelude("import sys\nsys.path.insert(0, 'x')\n" + BODY) == ("import sys\n", "")  # code runs first
    with pytest.raises(ValueError):  # ... so a bootstrap after it is no longer in the prelude
        prelude("import sys\nsys.path.insert(0, 'x')\n" + BOOT + BODY)


@pytest.mark.parametrize("variant", [
    '"""Another docstring."""\n' + BOOT + BODY,
    "from __future__ import division\nimport sys\n" + BOOT + "import json\n" + BODY,
    BOOT + "import legacy_rnn\n" + BODY,
], ids=["docstring", "future-and-stdlib", "other-imports"])
def test_programs_with_the_same_settings_share_a_key(variant):
    assert prelude(variant)[1] == prelude(BOOT + BODY)[1]


@pytest.mark.parametrize("variant", [
    BODY,                                                          # no bootstrap
    BOOT.replace('"1"', '"0"') + BODY,                             # another value
    BOOT + 'os.environ["CUDA_VISIBLE_DEVICES"] = ""\n' + BODY,     # one more setting
    BOOT + "os.environ.pop('TF_USE_LEGACY_KERAS')\n" + BODY,
], ids=["missing", "other-value", "one-more", "popped"])
def test_other_settings_get_another_key(variant):
    assert prelude(variant)[1] != prelude(BOOT + BODY)[1]


@pytest.mark.parametrize("late", ['os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"\n', "v = os.environ.get('HOME')\n",
                                  "from os import environ\n"], ids=["set", "read", "imported"])
def test_a_program_touching_the_environment_after_its_prelude_is_refused(late):
    with pytest.raises(ValueError, match="os.environ after its prelude"):
        prelude(BOOT + "import numpy as np\n" + late + BODY)
