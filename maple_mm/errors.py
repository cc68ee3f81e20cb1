"""Errors caused by the user's input, which the tools print as one ``error:`` line.

Every error a user can fix is a :class:`MapleUserError`; its message says what
is wrong and what to do. ``tools/*.py`` print it without a traceback
(``MAPLE_DEBUG=1`` shows the traceback).
"""


class MapleUserError(Exception):
    """Base of errors whose message tells the user what is wrong and how to fix it."""


# -- configuration ----------------------------------------------------------------
class ConfigError(MapleUserError, ValueError):
    """A config file, config key or command-line option is wrong."""


class PromptConfigError(ConfigError):
    """Prompt settings (n_ctx, depth, ...) do not fit the method or the CLIP."""


class ClassNameError(MapleUserError, ValueError):
    """Class names cannot be turned into prompts (none given, or too long)."""


#: Where a run's class names come from, for the errors about missing or stale ones.
CLASS_NAMES_HOOK_HINT = (
    "ClassNamesHook sets the class names of each dataset: MapleRunner (maple_mm's runtime) "
    "adds it; with another runner add dict(type='ClassNamesHook') to the config's custom_hooks")


# -- models and checkpoints -------------------------------------------------------
class CLIPBuildError(MapleUserError, ValueError):
    """A CLIP cannot be built or cannot take prompts."""


class CheckpointMismatchError(MapleUserError, ValueError):
    """A checkpoint's prompts do not fit the model built from the config."""


class OtherWriterError(CheckpointMismatchError):
    """A checkpoint was written by another method, or learned on another CLIP, than the
    model it is loaded into (``--allow-other-method`` loads it anyway)."""


class TrainedDataMismatchError(MapleUserError, ValueError):
    """A checkpoint is tested on other class names than it was trained on."""


class CheckpointNotFoundError(MapleUserError, FileNotFoundError):
    """A checkpoint file does not exist."""


class CheckpointFormatError(MapleUserError, RuntimeError):
    """A checkpoint file cannot be read, or not without executing pickled code."""


class NonFiniteWeightsError(CheckpointFormatError):
    """A checkpoint's learned weights hold NaN or Inf values."""


class NonFiniteStateError(CheckpointFormatError):
    """A checkpoint's training state (optimizer, schedule, hook state, logs) holds NaN or Inf."""


class NonFiniteOutputError(MapleUserError, FloatingPointError):
    """A model gave NaN or Inf scores while testing or classifying."""


class SourceStatisticsError(MapleUserError, ValueError):
    """A source statistics file (PromptAlign) is missing, damaged or made for another model."""


class ResumeError(MapleUserError, RuntimeError):
    """``--resume`` finds no complete checkpoint to continue from."""


# -- runs -------------------------------------------------------------------------
class WorkDirError(MapleUserError, OSError):
    """The work dir cannot be written, or holds a run that must not be overwritten."""


class WorkDirLockedError(WorkDirError):
    """Another training process is writing into the same work dir."""


class TrainingDivergedError(MapleUserError, FloatingPointError):
    """The loss or the prompts became NaN or infinite; training was stopped."""


class SweepError(MapleUserError, RuntimeError):
    """A sweep cannot be planned or one of its runs failed."""


class RunInterrupted(MapleUserError):
    """Ctrl-C stopped a run; the message says what was kept and how to continue."""


class InvalidTestSetsError(MapleUserError, ValueError):
    """The test sets of a MultiSetTestLoop are configured wrongly."""


# -- datasets ---------------------------------------------------------------------
class DatasetNotFoundError(MapleUserError, FileNotFoundError):
    """A dataset folder, split file or image is missing."""


class DatasetFormatError(MapleUserError, ValueError):
    """A dataset's split file or settings are malformed."""


class ImageDecodeError(DatasetFormatError):
    """An image file exists but cannot be decoded (empty, truncated, not an image)."""


class MapleWarning(UserWarning):
    """Base of maple_mm's warnings: the run goes on, and the tools print each as one
    ``warning:`` line."""


class DatasetCacheWarning(MapleWarning):
    """A few-shot cache file is stale, corrupt or cannot be written; it is regenerated."""


class SlowPathWarning(MapleWarning):
    """A model runs without maple_mm's fast paths (another open_clip): same results, slower."""


class DatasetWarning(MapleWarning):
    """A dataset is usable but looks wrong (e.g. two labels share a class name)."""


class ClassNameWarning(MapleWarning):
    """A class list is usable but looks wrong (e.g. one name given twice)."""


class ProtocolWarning(MapleWarning):
    """A run departs from its protocol (e.g. --shots on a base-to-novel config), so its
    numbers are not comparable with the protocol's published ones."""


# -- results ----------------------------------------------------------------------
class RunMetricsError(MapleUserError, ValueError):
    """A results folder is missing or holds unreadable metrics."""
