"""The one error of the evaluation: unusable input, reported in one line."""


class EvaluationError(ValueError):
    """Unusable evaluation input (missing folder, no pairs, bad manifest).

    Example
    -------
    >>> str(EvaluationError("no pairs"))
    'no pairs'
    """


# Its public path, as before evaluation.py became a package: tracebacks, reprs
# and pickles name it speechbrain_v2s.evaluation.EvaluationError.
EvaluationError.__module__ = "speechbrain_v2s.evaluation"
