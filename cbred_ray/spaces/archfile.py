"""Reading lists of architectures: a text file (one identifier per line) or Parquet with the space's
identifier column (``arch_str`` for NB201 and cell spaces, ``hash`` for NB101)."""
from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from cbred_ray.errors import BadInput
from cbred_ray.spaces.base import Space
from cbred_ray.spaces.cell import nb201


def read_arch_strings(path: str | Path, space: Space = nb201.SPACE) -> list[str]:
    """The architecture identifiers listed in ``path``, each checked with ``space.parse_id``.

    Text files may hold blank lines and ``#`` comments. Raises BadInput naming the
    file or the first bad line.
    """
    path = Path(path)
    column = space.id_column
    if not path.is_file():
        raise BadInput(f"architecture file not found: {str(path)!r}")
    if path.suffix == ".parquet":
        try:
            table = pq.read_table(path)
        except (pa.ArrowInvalid, OSError) as err:
            raise BadInput(f"{str(path)!r} is not a readable Parquet file: {str(err).splitlines()[0]}") from None
        if column not in table.column_names:
            raise BadInput(f"{str(path)!r} has no {column!r} column (columns: {', '.join(table.column_names)})")
        archs = [str(a) for a in table.column(column).to_pylist()]
    else:
        try:
            lines = path.read_text().splitlines()
        except (OSError, UnicodeDecodeError) as err:
            raise BadInput(f"cannot read architecture file {str(path)!r}: {err}") from None
        archs = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not archs:
        raise BadInput(f"architecture file {str(path)!r} lists no architectures")
    for number, arch in enumerate(archs, start=1):
        try:
            space.parse_id(arch)
        except BadInput as err:
            raise BadInput(f"{path.name} entry {number}: {err}") from None
    return archs
