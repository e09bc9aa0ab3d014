"""The third-party modules a Python test needs, checked in one place.

`.ci/install-deps --test` installs all of them, so under CI (CI set) a missing
one is a failure: a skip there would hide a missing install step. Elsewhere
the test is skipped with exit 77 (ctest's SKIP_RETURN_CODE) and the reason."""
import importlib
import os
import sys


def require(*modules):
    missing = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as e:
            missing.append(f"{name} ({e})")
    if not missing:
        return
    what = ", ".join(missing)
    if os.environ.get("CI"):
        print(f"FAIL: missing {what}; .ci/install-deps --test should have installed it")
        sys.exit(1)
    print(f"SKIP: needs {what}; install with .ci/install-deps --test")
    sys.exit(77)
