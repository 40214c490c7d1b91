"""A response's export numbers packed as bytes: big-endian doubles, eight bytes each, NaN where none.

Extracts read them in bulk straight into numpy. As a PostgreSQL ``float8[]`` the server spent about
four times as long sending them (element by element, each with its own length), and a client had to
parse every element; on SQLite they were a JSON list. Stored numbers are converted in place: a NULL
element of an array (never written by the service) becomes NaN, as a missing number is.

Revision ID: 0011_packed_export_values
Revises: 0010_research_ledger_indexes
Create Date: 2026-11-29
"""

import json
import math
import struct
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_packed_export_values"
down_revision: str | Sequence[str] | None = "0010_research_ledger_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PACK = (
    "CREATE OR REPLACE FUNCTION pg_temp.pack_export_values(numbers float8[]) RETURNS bytea LANGUAGE sql IMMUTABLE STRICT AS "
    "$$ SELECT coalesce(string_agg(float8send(coalesce(n, 'NaN')), ''::bytea ORDER BY i), ''::bytea) "
    "FROM unnest(numbers) WITH ORDINALITY AS u(n, i) $$"
)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(_PACK)
        op.execute(
            "ALTER TABLE response ALTER COLUMN export_values TYPE bytea "
            "USING pg_temp.pack_export_values(export_values)"
        )
        op.execute("DROP FUNCTION pg_temp.pack_export_values(float8[])")
        return
    with op.batch_alter_table("response") as batch_op:
        batch_op.alter_column("export_values", type_=sa.LargeBinary(), existing_nullable=True)
    response = sa.table("response", sa.column("id", sa.Uuid()), sa.column("export_values", sa.LargeBinary()))
    text = sa.literal_column("export_values")  # still the JSON text: read untyped
    stored = bind.execute(sa.select(response.c.id, text).where(text.is_not(None))).all()
    for response_id, listed in stored:
        numbers = [math.nan if n is None else n for n in json.loads(listed)]
        bind.execute(
            response.update()
            .where(response.c.id == sa.bindparam("rid"))
            .values(export_values=struct.pack(f">{len(numbers)}d", *numbers)),
            {"rid": response_id},
        )


def downgrade() -> None:
    # Back to an empty column of the earlier type: extracts then read every response from its
    # normalised answer rows, which hold the same numbers.
    with op.batch_alter_table("response") as batch_op:
        batch_op.drop_column("export_values")
        batch_op.add_column(
            sa.Column("export_values", sa.ARRAY(sa.Float()).with_variant(sa.JSON(), "sqlite"), nullable=True)
        )
