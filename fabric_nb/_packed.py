"""How a job loaded from storage holds its outputs: packed, checked once, built on read.

A history holds hundreds of thousands of jobs, and most analyses never look
at their clips one object at a time. So the row codec (:mod:`fabric_nb._rows`),
which owns this module, keeps the checked outputs of a loaded job as compact
text (:class:`PackedOutputs`: one JSON array per output, every field but
``job_id``, in field order) instead of several objects per clip; the opened
history stays smaller than its database file.

Nobody reading ``job.outputs`` can tell: ``models`` declares
``IngestedJob.outputs`` as a field whose slot holds a tuple or a stand-in
that unpacks to one (:class:`fabric_nb._slots.HeldOutputs`), and a
:class:`PackedOutputs` is such a stand-in, unpacked fresh on each read.

Code that reads the outputs of many jobs column by column (the frames, the
operators' report) asks :func:`output_records` and never learns the layout.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import fields
from types import GenericAlias
from typing import Any, Final, Literal, Protocol, TypeVar, get_type_hints

import msgspec

from ._slots import checked_constructor
from .models import CLIP_STATUSES, IngestedJob, IngestedOutput

__all__ = [
    "OutputRecord",
    "OutputRecords",
    "PackedOutputs",
    "output_records",
    "pack_outputs",
]

_T = TypeVar("_T")


#: ``IngestedOutput``'s fields with their types; the one list of output fields.
_OUTPUT_TYPES: Final[dict[str, Any]] = {
    f.name: get_type_hints(IngestedOutput)[f.name] for f in fields(IngestedOutput)
}

OutputRecord: Final = msgspec.defstruct(
    "OutputRecord",
    [
        (name, Literal[CLIP_STATUSES] if name == "status" else kind)
        for name, kind in list(_OUTPUT_TYPES.items())[1:]
    ],
    module=__name__,
    frozen=True,
    gc=False,
    array_like=True,
)
OutputRecord.__doc__ = """One output of a loaded job without its ``job_id``, as :func:`output_records` gives it.

A frozen ``msgspec.Struct`` decoded from a JSON array: the fields and order of
``IngestedOutput`` after ``job_id``; ``status`` is decoded as the one shared
string of each status.
"""

_decode_records: Final = msgspec.json.Decoder(GenericAlias(tuple, (OutputRecord, ...))).decode
_record_fields: Final = msgspec.structs.astuple
_encode_into: Final = msgspec.json.Encoder().encode_into
#: Outputs of packed records, which were checked at load.
_checked_output: Final = checked_constructor(IngestedOutput)


class PackedOutputs:
    """The outputs of a loaded job, checked once and kept as compact text.

    Made by :func:`pack_outputs`, never by hand. ``len()`` is the number of
    outputs; iterating decodes them as :class:`OutputRecord` objects, and
    :meth:`unpack` as the :class:`~fabric_nb.models.IngestedOutput` tuple that
    ``job.outputs`` returns. Nothing is cached, so memory stays what the load
    left.
    """

    __slots__ = ("count", "data", "job_id")

    def __init__(self, job_id: str, data: bytes, count: int) -> None:
        self.job_id = job_id
        self.data = data
        self.count = count

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[Any]:
        return iter(_decode_records(self.data))

    def unpack(self) -> tuple[IngestedOutput, ...]:
        """The outputs as :class:`~fabric_nb.models.IngestedOutput` objects."""
        job_id = self.job_id
        return tuple(
            _checked_output(job_id, *_record_fields(r)) for r in _decode_records(self.data)
        )

    def __reduce__(self) -> tuple[type[PackedOutputs], tuple[str, bytes, int]]:
        return (PackedOutputs, (self.job_id, self.data, self.count))


def pack_outputs(job_id: str, checked: Sequence[msgspec.Struct]) -> tuple[()] | PackedOutputs:
    """Keep the outputs ``checked`` of job ``job_id`` packed (``()`` when there are none).

    Each item is a struct whose fields are the output fields in order,
    ``job_id`` first, every value already checked by the caller (the row
    codec's typed decoder).
    """
    if not checked:
        return ()
    # Encoded into a scratch buffer and copied out at its exact size: the
    # encoder's own result keeps spare capacity, a third of it over a history.
    buffer = bytearray()
    _encode_into([_record_fields(output)[1:] for output in checked], buffer)
    return PackedOutputs(job_id, bytes(buffer), len(checked))


class OutputRecords(Protocol):
    """What :func:`output_records` returns: sized, and iterable once or more."""

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[Any]: ...


def output_records(job: IngestedJob) -> OutputRecords:
    """``job``'s outputs in the cheapest form that has every output field but ``job_id``.

    A sized iterable whose items have the fields of
    :class:`~fabric_nb.models.IngestedOutput` (``job_id`` aside) as
    attributes: the job's own tuple, or for a loaded job its packed outputs,
    decoded as :class:`OutputRecord` objects on each iteration. ``len()``
    never decodes. For code that reads the outputs of many jobs column by
    column, such as the DataFrame builders and the operators' counts.
    """
    records: OutputRecords = _stored_outputs(job)
    return records


# -- what a job's outputs slot holds ---------------------------------------------------

#: What ``IngestedJob.outputs``' slot holds: a tuple, or ``PackedOutputs``.
_stored_outputs: Final = IngestedJob.__dict__["outputs"].held
