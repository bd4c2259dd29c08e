"""The exit codes of every ``veracity`` command: one table, codes never reused.

| code | name          | meaning                                                              |
|------|---------------|----------------------------------------------------------------------|
| 0    | OK            | every file was processed and nothing reached the failure threshold   |
| 1    | FINDINGS      | a finding at or above the threshold (verify: a file is invalid, or   |
|      |               | below ``--require``)                                                 |
| 2    | USAGE         | a usage error: a bad option, config, policy, registry or labels file |
| 3    | OUTPUT_FAILED | the report could not be written                                      |
| 4    | INTEGRITY     | a shipped weight file failed its hash check                          |
| 5    | INPUT_ERROR   | a file could not be read or analysed (the others were; wins over 1)  |
| 70   | INTERNAL      | a bug: an unexpected exception (please report it)                    |
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FINDINGS = 1
    USAGE = 2
    OUTPUT_FAILED = 3
    INTEGRITY = 4
    INPUT_ERROR = 5
    INTERNAL = 70


def combine(*codes: ExitCode) -> ExitCode:
    """The code for a run with several outcomes: input errors win over findings."""
    order = [
        ExitCode.INTERNAL,
        ExitCode.INTEGRITY,
        ExitCode.OUTPUT_FAILED,
        ExitCode.USAGE,
        ExitCode.INPUT_ERROR,
        ExitCode.FINDINGS,
        ExitCode.OK,
    ]
    present = set(codes) or {ExitCode.OK}
    return next(c for c in order if c in present)
