"""Engine, schema and the per-request transaction of the linking backend."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar, cast

from sqlalchemy import (
    Connection,
    CursorResult,
    Executable,
    Result,
    Select,
    Table,
    bindparam,
    event,
    inspect,
    make_url,
    select,
)
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, class_mapper
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.util import immutabledict

from services.linking.errors import DomainError
from services.linking.models import LinkingBase
from services.storage import sqlite_one_hop


def create_engine(database_url: str) -> AsyncEngine:
    """Create the engine; on SQLite every transaction takes the write lock up front.

    SQLite in WAL mode refuses (without waiting) a write from a transaction whose read snapshot
    is stale, which would surface as "database is locked" under concurrent requests.
    `BEGIN IMMEDIATE` makes writers queue on the busy timeout instead. PostgreSQL keeps its
    default READ COMMITTED; the conditional UPDATEs in the domain code hold there as well.

    On SQLite the statements, commits and rollbacks run in the event loop's thread
    (`sqlite_one_hop.install_in_loop`): every transaction holds the write lock from its BEGIN,
    and a BEGIN that has to wait for another process does so in aiosqlite's thread.
    """
    sqlite = make_url(database_url).get_backend_name() == "sqlite"
    # The sqlite3 connection is opened in aiosqlite's thread and then also used from the loop's.
    engine = create_async_engine(
        database_url, connect_args={"check_same_thread": False} if sqlite else {}
    )
    if sqlite:

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            sqlite_one_hop.install(dbapi_connection)  # the PRAGMAs: one trip each
            dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={sqlite_one_hop.BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
            sqlite_one_hop.install_in_loop(dbapi_connection)  # then no trip to the thread

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(connection) -> None:  # type: ignore[no-untyped-def]
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


T = TypeVar("T")
_EMPTY: Any = immutabledict()
_PREBUFFER: Any = immutabledict({"prebuffer_rows": True})
_BY_PRIMARY_KEY: dict[type[Any], Select[Any]] = {}


async def get(session: AsyncSession, model: type[T], ident: Any) -> T | None:
    """`session.get(model, ident)` for a one-column primary key, at a third of its cost.

    The same answer: the row in the session's identity map if it is there and not expired
    (no SQL, as `session.get`; answered here without a trip through the session's greenlet),
    otherwise one `SELECT … WHERE pk = ?` loaded by the ORM into the identity map — a statement
    built once per model, so SQLAlchemy neither builds it nor computes its cache key again
    (`session.get` does both on every miss). An expired row goes to `session.get` itself.
    """
    mapper = class_mapper(model)
    instance = session.identity_map.get(mapper.identity_key_from_primary_key((ident,)))
    if instance is not None:
        if instance_state(instance).expired:
            return await session.get(model, ident)
        return instance
    statement = _BY_PRIMARY_KEY.get(model)
    if statement is None:
        [column] = mapper.primary_key
        statement = _BY_PRIMARY_KEY[model] = select(model).where(column == bindparam("ident"))
    return cast(T | None, await session.scalar(statement, {"ident": ident}))


def table(model: type[Any]) -> Table:
    """The model's table, to build a statement on its columns (Core) instead of the ORM's."""
    return cast(Table, model.__table__)


async def execute_core(
    session: AsyncSession, statement: Executable, params: Any = None
) -> Result[Any]:
    """Run a statement built on tables (Core) where the ORM would run its own: flush first.

    A statement built on the ORM's classes goes through the ORM's execution path on every run
    even when it loads no objects (its compile state, the bulk UPDATE/DELETE machinery, a cache
    key computed anew for each annotated DML statement): ~20 µs more for a SELECT of columns,
    ~50 µs for an UPDATE (bench/README.md, backend CPU, stop 20). The same SQL on the tables
    skips it. An ORM statement flushes the session's pending changes before it runs
    (autoflush) and a Core one would not, so this flushes first: the request's changes are
    written, and seen, in the same order as before.
    """
    await session.flush()
    return await session.execute(statement, params)


def rows_affected(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE changed (AsyncSession types every result as a plain Result)."""
    return cast(CursorResult[Any], result).rowcount


class OutdatedSchema(RuntimeError):
    """The database was made by an older version of the simulation (it keeps no migrations)."""


async def create_schema(engine: AsyncEngine) -> None:
    """Create the simulation's tables if they do not exist yet; refuse an older schema.

    `create_all` adds missing tables but never columns, so a database from an older version
    would fail request by request; this fails once, at start, saying what to do.
    """
    async with engine.begin() as connection:
        await connection.run_sync(LinkingBase.metadata.create_all)
        missing = await connection.run_sync(_missing_columns)
    if missing:
        raise OutdatedSchema(
            f"the linking database lacks {', '.join(missing)}: it was made by an older version. "
            "The simulation keeps no migrations: start it on a fresh database (delete the SQLite "
            "file or point LINKING_DATABASE_URL elsewhere)."
        )


def _missing_columns(connection: Connection) -> list[str]:
    inspector = inspect(connection)
    return [
        f"{table.name}.{column.name}"
        for table in LinkingBase.metadata.sorted_tables
        for column in table.columns
        if column.name not in {c["name"] for c in inspector.get_columns(table.name)}
    ]


class RequestSession(Session):
    """A session that keeps every row it loaded for its one request.

    SQLAlchemy's identity map holds unchanged objects weakly: a row read by one step of a
    request (the flow's snapshot, the MESH account, the VK ID) was dropped as soon as that step
    let go of it, and the next `session.get` of the same row queried the database again. A
    request's session lives for one transaction, so keeping them costs nothing and every later
    `get` of a row is answered from the identity map, as it would be if someone still held it.
    """


@event.listens_for(RequestSession, "loaded_as_persistent")
def _keep_loaded(session: Session, instance: object) -> None:
    session.info.setdefault("loaded", []).append(instance)


class InLoopSession(AsyncSession):
    """An AsyncSession whose calls, once its transaction holds a connection, run right here.

    AsyncSession runs every call of its sync session in a new greenlet, so that the driver can
    await inside it: ~20 µs of CPU per call on this machine (a greenlet made, two switches),
    more than SQLite's own work on most of the backend's statements. On SQLite the backend's
    statements, commits and rollbacks never wait (`sqlite_one_hop.install_in_loop`: they run
    in the loop's thread once `BEGIN IMMEDIATE` has the write lock), so after the first
    statement of a transaction — which checks a connection out of the pool and emits BEGIN,
    both of which may wait, and so go through AsyncSession as before — `execute`, `scalar`,
    `scalars`, `get`, `flush`, `refresh`, `commit` and `rollback` call the sync session
    directly, with AsyncSession's own arguments. Same statements, same objects, same errors.
    Only for that engine (`Database(in_loop=True)`); PostgreSQL keeps AsyncSession as it is.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._connected = False  # this transaction has its connection (and its BEGIN)

    async def _connect(self) -> None:
        if not self._connected:
            await super().connection()  # the pool's checkout and BEGIN IMMEDIATE may wait
            self._connected = True

    async def execute(
        self,
        statement: Any,
        params: Any = None,
        *,
        execution_options: Any = _EMPTY,
        bind_arguments: Any = None,
        **kw: Any,
    ) -> Result[Any]:
        await self._connect()
        return self.sync_session.execute(
            statement,
            params=params,
            execution_options=_with_prebuffer(execution_options),
            bind_arguments=bind_arguments,
            **kw,
        )

    async def scalar(
        self,
        statement: Any,
        params: Any = None,
        *,
        execution_options: Any = _EMPTY,
        bind_arguments: Any = None,
        **kw: Any,
    ) -> Any:
        await self._connect()
        return self.sync_session.scalar(
            statement,
            params=params,
            execution_options=_with_prebuffer(execution_options),
            bind_arguments=bind_arguments,
            **kw,
        )

    async def get(self, entity: Any, ident: Any, **kw: Any) -> Any:
        if not self._connected:  # maybe no SQL at all (the identity map)
            return await super().get(entity, ident, **kw)
        return self.sync_session.get(entity, ident, **kw)

    async def flush(self, objects: Any = None) -> None:
        if not self._connected:  # maybe nothing to flush
            await super().flush(objects)
        else:
            self.sync_session.flush(objects=objects)

    async def refresh(self, instance: object, *args: Any, **kw: Any) -> None:
        await self._connect()
        self.sync_session.refresh(instance, *args, **kw)

    async def commit(self) -> None:
        if not self._connected:  # a flush may still need the connection and BEGIN
            await super().commit()
        else:
            self.sync_session.commit()
        self._connected = False  # the next statement begins anew

    async def rollback(self) -> None:
        if not self._connected:
            await super().rollback()
        else:
            self.sync_session.rollback()
        self._connected = False

    async def close(self) -> None:
        if self.sync_session.in_transaction():  # a connection to give back: its reset may wait
            await super().close()
        else:  # committed or rolled back: the connection is back in the pool already
            self.sync_session.close()
        self._connected = False


def _with_prebuffer(options: Any) -> Any:
    """AsyncSession's execution options: rows buffered (its `_EXECUTE_OPTIONS`)."""
    return immutabledict(options).union(_PREBUFFER) if options else _PREBUFFER


class Database:
    """The engine plus a transaction per unit of work."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(
            engine,
            class_=InLoopSession if engine.dialect.name == "sqlite" else AsyncSession,
            expire_on_commit=False,
            sync_session_class=RequestSession,
        )
        # SQLite runs one writing transaction at a time anyway (BEGIN IMMEDIATE): queueing them
        # here instead of in SQLite's busy handler (which sleeps and retries) keeps one pooled
        # connection busy instead of opening overflow connections — a new thread and four
        # PRAGMAs each — for every request beyond the pool's 15 (bench/README.md, backend).
        self._one_at_a_time = (
            asyncio.Lock() if engine.dialect.name == "sqlite" else contextlib.nullcontext()
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """Commit on success; roll back on any error except refusals that record an attempt."""
        async with self._one_at_a_time, self._sessions() as session:
            try:
                yield session
            except DomainError as error:
                if error.keeps_changes:
                    await session.commit()
                else:
                    await session.rollback()
                raise
            except BaseException:
                await session.rollback()
                raise
            else:
                await session.commit()

    async def dispose(self) -> None:
        await self.engine.dispose()
