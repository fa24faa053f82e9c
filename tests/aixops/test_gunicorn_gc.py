"""gunicorn's workers keep the application they loaded out of the garbage collector's
generations, so a full collection during a large page walks only that request's objects."""

import gc
import runpy
from pathlib import Path

CONFIG = Path(__file__).resolve().parents[2] / "aixops" / "gunicorn.conf.py"


def test_a_worker_freezes_what_it_loaded_once_the_app_is_ready():
    config = runpy.run_path(str(CONFIG))
    assert gc.get_freeze_count() == 0
    try:
        config["post_worker_init"](worker=None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
    assert gc.get_freeze_count() == 0
