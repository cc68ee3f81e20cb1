"""Errors caused by the user's input, which the tools print without a traceback."""


class MapleUserError(Exception):
    """Base of errors whose message tells the user what is wrong and how to fix it."""


class CLIPBuildError(MapleUserError, ValueError):
    """A CLIP cannot be built or cannot take prompts."""


class CheckpointMismatchError(MapleUserError, ValueError):
    """A checkpoint's prompts do not fit the model built from the config."""


class CheckpointNotFoundError(MapleUserError, FileNotFoundError):
    """A checkpoint file does not exist."""


class CheckpointFormatError(MapleUserError, RuntimeError):
    """A checkpoint cannot be loaded weights-only."""


class DatasetNotFoundError(MapleUserError, FileNotFoundError):
    """A dataset folder, split file or image is missing."""


class DatasetFormatError(MapleUserError, ValueError):
    """A dataset's split file or settings are malformed."""


class DatasetCacheWarning(UserWarning):
    """A few-shot cache file is stale, corrupt or cannot be written; it is regenerated."""
