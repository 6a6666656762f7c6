"""Exceptions raised at stage boundaries. Each message names the problem and the fix; the CLI prints
it without a traceback and exits non-zero."""


class MedqaError(Exception):
    """Base class: a user-facing problem with an actionable message."""


class ConfigError(MedqaError):
    pass


class DataError(MedqaError):
    pass


class ModelLoadError(MedqaError):
    pass


class AdapterMismatchError(MedqaError):
    pass


class TrainingError(MedqaError):
    pass


class PickleRefusedError(ModelLoadError):
    """An adapter or checkpoint holds pickle files and `model.allow_pickle` is off."""


class RunInUseError(MedqaError):
    """Another process holds the run folder's lock."""


class DiskFullError(TrainingError):
    """A training write failed for lack of space (disk full, quota, file-size limit)."""


def require_extra(extra: str, *modules: str) -> None:
    """Refuse with the install command when an optional part's packages are missing (instead of a traceback)."""
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise MedqaError(f"this needs {', '.join(missing)}: pip install 'medqa[{extra}]' (or pip install -e "
                         f"\".[{extra}]\" in a checkout)")
