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
