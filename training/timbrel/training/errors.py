"""The one error type of timbrel.training."""


class TrainError(Exception):
    """A problem with the data, the run folder or the options, said in plain words."""
