"""Guarded schema operations for the revisions: each does only what is missing.

A database made by repwatch before the version table existed was changed by hand-written
``ADD COLUMN`` code on every start, one column per transaction, so it may be anywhere
between two revisions; :mod:`monitor.store.migrate` stamps it at the last revision whose
tables and columns are all there, and these guards let the next revisions finish what is
half done instead of failing on it. Each revision module names what it adds in ``ADDS``
(table -> columns; ``"*"`` for a table it creates); that is also how an unversioned
database is recognised.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from monitor.mention import canonical_url

# SQLite cannot drop an unnamed foreign key; batch mode names it with this convention first
FK_NAMES = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}


def _inspector() -> sa.Inspector:
    return sa.inspect(op.get_bind())


def dt(name: str, nullable: bool = True) -> sa.Column:
    """A datetime column as :class:`monitor.store.tables.UTCDateTime` creates it."""
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def create_table(name: str, *columns: sa.SchemaItem, indexes: tuple[tuple[str, list[str], bool], ...] = ()) -> None:
    """Create the table and its indexes ``(name, columns, unique)`` unless it exists."""
    if not _inspector().has_table(name):
        op.create_table(name, *columns)
    create_indexes(name, indexes)


def create_indexes(table: str, indexes: tuple[tuple[str, list[str], bool], ...]) -> None:
    present = {i["name"] for i in _inspector().get_indexes(table)}
    for index, columns, unique in indexes:
        if index not in present:
            op.create_index(index, table, columns, unique=unique)


def add_columns(table: str, *columns: sa.Column) -> None:
    """Add the nullable ``columns`` the table lacks."""
    present = {c["name"] for c in _inspector().get_columns(table)}
    for column in columns:
        if column.name not in present:
            op.add_column(table, column)


def make_nullable(table: str, column: str, drop_foreign_key: bool = False) -> None:
    """Let ``column`` hold NULL (with no server default), and drop its foreign key when asked.
    SQLite rebuilds the table (batch mode); PostgreSQL alters it in place."""
    insp = _inspector()
    info = next(c for c in insp.get_columns(table) if c["name"] == column)
    fks = [fk for fk in insp.get_foreign_keys(table) if fk["constrained_columns"] == [column]]
    fks = fks if drop_foreign_key else []
    if info["nullable"] and info.get("default") is None and not fks:
        return
    with op.batch_alter_table(table, naming_convention=FK_NAMES) as batch:
        for fk in fks:
            name = fk.get("name") or f"fk_{table}_{column}_{fk['referred_table']}"
            batch.drop_constraint(name, type_="foreignkey")
        batch.alter_column(column, existing_type=info["type"], nullable=True, server_default=None)


def fill_url_keys() -> None:
    """Give every mention with a URL and no ``url_key`` its key (the canonical URL), so the
    second key also finds articles stored before it existed."""
    mentions = sa.table("mentions", sa.column("id", sa.Integer), sa.column("url", sa.Text),
                        sa.column("url_key", sa.Text))
    conn = op.get_bind()
    while True:
        rows = conn.execute(sa.select(mentions.c.id, mentions.c.url)
                            .where(mentions.c.url_key.is_(None), mentions.c.url.is_not(None)).limit(1000)).all()
        if not rows:
            return
        for ident, url in rows:  # a URL with no canonical form is its own key, so the loop ends
            conn.execute(mentions.update().where(mentions.c.id == ident).values(url_key=canonical_url(url) or url))
