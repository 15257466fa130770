"""One client session: classifies each statement and runs it.

The session does not depend on the wire protocol. It turns statement text
(plus bound parameters) into ``Result`` objects, or raises a GatewayError
carrying the SQLSTATE.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field, replace
from itertools import count, pairwise

import duckdb
import pyarrow as pa
from sqlglot import exp

from gateway import __version__
from gateway.cursor_batches import CursorStreams
from gateway.engine import fetch_table
from gateway.errors import (
    FeatureNotSupported,
    GatewayError,
    InsufficientPrivilege,
    InternalError,
    InvalidCatalogName,
    QueryCanceled,
    SqlSyntaxError,
    UndefinedTable,
)
from gateway.ingest.column_kinds import KIND_TYPE_NAMES
from gateway.runtime import Runtime
from gateway.sql import parse
from gateway.sql.catalog.rewrite import SessionValues, rewrite_catalog
from gateway.sql.column_names import name_result_columns
from gateway.sql.commands import database as database_command
from gateway.sql.commands import delete as delete_command
from gateway.sql.commands import drop as drop_command
from gateway.sql.commands import insert as insert_command
from gateway.sql.commands import job_statements
from gateway.sql.commands import show as show_command
from gateway.sql.commands.copy_in import CopyIn, copy_table, copy_target
from gateway.sql.commands.copy_out import copy_source
from gateway.sql.commands.cursors import Cursors
from gateway.sql.commands.insert_literals import LiteralInsert
from gateway.sql.commands.insert_literals import match as match_literal_insert
from gateway.sql.commands.removal_context import RemovalContext
from gateway.sql.constant_time import ConstantEvaluator, constant_evaluator
from gateway.sql.duckdb_errors import from_reader_error, names_missing_file, translate
from gateway.sql.explain import explain_lines
from gateway.sql.lru import LruCache
from gateway.sql.measurements import Column
from gateway.sql.parameter_types import infer_parameter_types, typed_parameters
from gateway.sql.plan_cache import CachedPlan, current_scans
from gateway.sql.results import Result, table_result, text_table
from gateway.sql.rewrite import QueryRewriter, ScanPlan
from gateway.sql.session_settings import SessionSettings, format_duration_ms
from gateway.storage import layout

logger = logging.getLogger(__name__)

BATCH_ROWS = 65_536
#: Attempts to run a query whose listed files are removed before DuckDB reads them.
#: Under many concurrent DELETEs, the second listing was sometimes out of date too.
MISSING_FILE_ATTEMPTS = 3
_session_ids = count(1)


@dataclass
class Prepared:
    """A parsed statement of the extended protocol, ready to bind and run."""

    text: str
    words: list[parse.Word]
    parameter_count: int
    tree: exp.Expression | None = None
    kind: str = "command"  # "query", "insert", "command" or "empty"
    #: DuckDB type of each parameter, declared by the client or inferred; None where unknown.
    parameter_types: list[str | None] = field(default_factory=list)
    #: A literal-only multi-row INSERT, read without sqlglot (see insert_literals.py).
    literal: LiteralInsert | None = None


@dataclass
class TransactionState:
    """Transaction status reported in ReadyForQuery: idle, open or failed."""

    status: str = "idle"


class Session:
    """Runs the statements of one client connection."""

    def __init__(self, runtime: Runtime, database: str, user: str) -> None:
        self.id = next(_session_ids)
        self.runtime = runtime
        self.measurements = runtime.measurements
        self.database = layout.validate_name(database, "database")
        self.user = user
        self.settings = SessionSettings(
            user=user, database=database, server_version=_server_version(),
            statement_timeout=_setting_ms(runtime.settings.statement_timeout_ms),
            idle_session_timeout=_setting_ms(runtime.settings.idle_session_timeout_ms))
        self.transaction = TransactionState()
        self.cursor = runtime.engine.cursor()
        #: Results streaming from ``cursor``, read into memory before it runs anything else.
        self._streams = CursorStreams()
        self._registered: list[str] = []
        self._insert_sql: insert_command.RenderCache = {}
        self._unsynced = False
        #: Sends a NoticeResponse to the client at once; the wire layer sets it.
        self.send_notice: Callable[[str], None] | None = None
        self.catalog = runtime.catalog
        self.cursors = Cursors()
        self.process_id = 0  # the wire layer sets the BackendKeyData process id
        self.last_plan: ScanPlan | None = None
        #: Set by a cancel request or statement_timeout; work outside DuckDB (job statements) checks it.
        self.cancelled = threading.Event()
        logger.info("session %d opened: user=%s database=%s", self.id, user, database)

    # Simple protocol

    def execute_simple(self, sql: str) -> list[Prepared]:
        """Split a simple-protocol query string into prepared statements, in order."""
        literal = _literal_insert(sql)
        if literal is not None:
            return [Prepared(sql, [], 0, kind="insert", literal=literal)]
        known = self.runtime.statements.get(sql)
        if known is not None:
            return [_fresh(prepared) for prepared in known]
        statements = [self.prepare(text) for text in parse.split_statements(sql)]
        _keep_queries(self.runtime.statements, sql, statements)
        return statements

    # Extended protocol

    def prepare(self, text: str) -> Prepared:
        """Parse one statement; raise SqlSyntaxError (42601) if it does not parse."""
        literal = _literal_insert(text)
        if literal is not None:
            return Prepared(text, [], 0, kind="insert", literal=literal)
        known = self.runtime.statements.get(text)
        if known is not None and len(known) == 1:
            return _fresh(known[0])
        prepared = self._parse(text)
        _keep_queries(self.runtime.statements, text, [prepared])
        return prepared

    def _parse(self, text: str) -> Prepared:
        if not parse.split_statements(text):
            return Prepared(text, [], 0, kind="empty")
        words = parse.words(text)
        if _is_command(words) or job_statements.statement_family(words):
            return Prepared(text, words, _command_parameter_count(words))
        tree = parse.parse_one(text)
        kind = "command"
        if isinstance(tree, exp.Query):
            kind = "query"
        elif isinstance(tree, exp.Insert):
            kind = "insert"
        return Prepared(text, words, _parameter_count(tree), tree, kind)

    def parameter_types(self, prepared: Prepared) -> list[str | None]:
        """Return the DuckDB type of each parameter, inferred from its context; None where unknown."""
        if prepared.tree is None or prepared.parameter_count == 0:
            return [None] * prepared.parameter_count
        self._streams.detach_all()
        insert_types: dict[str, str] | None = None

        def insert_column_type(name: str) -> str | None:
            # The measurement is resolved and listed once for all parameters of the INSERT.
            nonlocal insert_types
            if insert_types is None:
                insert_types = self._insert_column_types(prepared.tree)
            return insert_types.get(name.lower())

        try:
            return infer_parameter_types(prepared.tree, prepared.parameter_count, self._expression_type,
                                         insert_column_type)
        except GatewayError:
            return [None] * prepared.parameter_count

    def _expression_type(self, select: exp.Select | None, expression: exp.Expression) -> str | None:
        probe = exp.select(exp.alias_(expression.copy(), "probe"))
        if select is not None:
            source = select.args.get("from") or select.args.get("from_")
            if source is not None:
                probe.set("from_" if "from_" in select.args else "from", source.copy())
            for join in select.args.get("joins") or []:
                probe = probe.join(join.copy())
        try:
            sql, _ = self._rewrite(probe, [])
            row = self.cursor.execute(f"DESCRIBE {sql}").fetchone()
        except (duckdb.Error, GatewayError):
            return None
        return None if row is None else str(row[1])

    def _insert_column_types(self, tree: exp.Expression | None) -> dict[str, str]:
        """Return the stored type of each column of an INSERT's measurement, by lowercase name."""
        if not isinstance(tree, exp.Insert) or not isinstance(tree.this, exp.Schema):
            return {}
        target = tree.this.this
        try:
            stored = self.measurements.resolve(target.db or self.database, target.name)
            columns = self.measurements.columns(target.db or self.database, stored)
        except GatewayError:
            return {}
        types: dict[str, str] = {}
        for column in columns:
            types.setdefault(column.name.lower(), column.type)
        return types

    def describe(self, prepared: Prepared) -> pa.Schema | None:
        """Return the result schema of a statement without running it, or None if it returns no rows."""
        self._streams.detach_all()
        try:
            return self._describe(prepared)
        except duckdb.Error as error:
            raise translate(error) from error

    def _describe(self, prepared: Prepared) -> pa.Schema | None:
        if prepared.kind == "query" and prepared.tree is not None:
            tree = typed_parameters(name_result_columns(prepared.tree.copy()), prepared.parameter_types)
            sql, _ = self._rewrite(tree, [None] * prepared.parameter_count)
            return self._describe_sql(sql, prepared.parameter_count)
        if prepared.kind == "command" and prepared.words and prepared.words[0].upper in ("SHOW", "EXPLAIN"):
            return self.run(prepared, [None] * prepared.parameter_count).schema
        return None

    def run(self, prepared: Prepared, params: list[object]) -> Result:
        """Run a prepared statement with bound parameters and return its result."""
        self._streams.detach_all()
        self.cancelled.clear()
        timer = self._start_timeout()
        try:
            result = self._dispatch(prepared, params)
        except duckdb.InterruptException as error:
            self.mark_failed()
            if timer is not None and timer.fired:
                raise QueryCanceled("canceling statement due to statement timeout") from error
            raise QueryCanceled("canceling statement due to user request") from error
        except GatewayError:
            self.mark_failed()
            raise
        except duckdb.Error as error:
            self.mark_failed()
            raise translate(error) from error
        except RecursionError as error:
            # A deeply nested tree exceeds the recursion depth of a sqlglot rewrite or generator.
            self.mark_failed()
            raise parse.StatementTooComplex() from error
        except Exception as error:
            self.mark_failed()
            logger.exception("session %d: unexpected error in %r", self.id, prepared.text[:500])
            raise InternalError(f"internal error: {type(error).__name__}") from error
        finally:
            if timer is not None:
                timer.cancel()
        return result

    def _start_timeout(self) -> _Timeout | None:
        seconds = self.settings.statement_timeout_seconds()
        if seconds <= 0:
            return None
        timer = _Timeout(seconds, self.cursor, self.cancelled)
        timer.start()
        return timer

    def cancel(self) -> None:
        """Interrupt the statement running in this session, if any."""
        self.cancelled.set()
        self.cursor.interrupt()

    def close(self) -> None:
        try:
            self.cursors.close_all()
            self.cursor.close()
        finally:
            logger.info("session %d closed", self.id)

    # Dispatch

    def _dispatch(self, prepared: Prepared, params: list[object]) -> Result:
        if prepared.kind == "empty":
            return Result(tag="")
        if self.transaction.status == "failed" and not _ends_transaction(prepared.words):
            raise _InFailedTransaction()
        if prepared.kind == "query" and prepared.tree is not None:
            return self._query(prepared.tree, params, prepared.parameter_types, text=prepared.text)
        if prepared.literal is not None:
            result = insert_command.insert_literal_rows(prepared.literal, self._insert_columns, self.database,
                                                        self._write, max_rows=self.runtime.settings.insert_max_rows)
            if result is not None:
                self.catalog.invalidate()
                return result
            prepared = self._parse(prepared.text)  # not convertible here: DuckDB evaluates it
        if prepared.kind == "insert" and isinstance(prepared.tree, exp.Insert):
            result = insert_command.insert(prepared.tree, self._insert_columns, self.database,
                                           _SessionQueries(self, params), self._write,
                                           cache=self._insert_sql, statement=prepared.text,
                                           max_rows=self.runtime.settings.insert_max_rows)
            self.catalog.invalidate()
            return result
        if prepared.tree is not None:
            result = self._tree_command(prepared.tree, params)
            self.catalog.invalidate()
            return result
        return self._word_command(prepared.text, prepared.words, params)

    def _tree_command(self, tree: exp.Expression, params: list[object]) -> Result:
        if isinstance(tree, exp.Create) and str(tree.args.get("kind")).upper() in ("DATABASE", "SCHEMA"):
            return database_command.create_database(self.measurements, tree)
        if isinstance(tree, exp.Delete):
            return delete_command.delete(tree, self._removal_context(params))
        if isinstance(tree, exp.TruncateTable):
            return drop_command.truncate(tree, self._removal_context(params))
        if isinstance(tree, exp.Drop):
            return drop_command.drop(tree, self._removal_context(params))
        name = _command_name(tree) if isinstance(tree, exp.Command) else tree.key.upper()
        raise FeatureNotSupported(f"{name} statements are not supported",
                                  hint="Lakegate runs SELECT, INSERT, DELETE, TRUNCATE, SHOW, CREATE and DROP")

    def _removal_context(self, params: list[object]) -> RemovalContext:
        return RemovalContext(self.measurements, self.runtime.writer, self.runtime.engine, self.cursor,
                              self.database, self._evaluator(params), params,
                              self.runtime.settings.delete_max_rows, self.send_notice,
                              self.runtime.settings.superseded_grace)

    def _word_command(self, text: str, words: list[parse.Word], params: list[object]) -> Result:
        first = words[0].upper
        if first in ("BEGIN", "START"):
            self.transaction.status = "open"
            return Result(tag="BEGIN")
        if first in ("COMMIT", "END"):
            self.cursors.end_transaction()
            failed = self.transaction.status == "failed"
            self.transaction.status = "idle"
            return Result(tag="ROLLBACK" if failed else "COMMIT")
        if first in ("ROLLBACK", "ABORT"):
            if any(word.upper == "TO" for word in words[1:3]):
                return self._rollback_to_savepoint()
            self.cursors.end_transaction()
            self.transaction.status = "idle"
            return Result(tag="ROLLBACK")
        if first in ("SAVEPOINT", "RELEASE"):
            return self._savepoint(first)
        if first == "DEALLOCATE":
            return _deallocate(words)
        if first == "DECLARE":
            return self.cursors.declare(text, words, self._open_cursor,
                                        in_transaction=self.transaction.status != "idle")
        if first == "FETCH":
            return self.cursors.fetch(words)
        if first == "CLOSE":
            return self.cursors.close(words)
        if first == "DISCARD" and (len(words) == 1 or words[1].upper == "ALL"):
            return Result(tag="DISCARD ALL", parameter_status=self.settings.reset_all())
        if first in _CHATTER_TAGS:
            return Result(tag=_CHATTER_TAGS[first](words))
        family = job_statements.statement_family(words)
        if family is not None:
            return job_statements.run(family, text, words, job_statements.JobContext(
                self.runtime, self.database, self.send_notice, self.cancelled.is_set))
        if first == "SHOW":
            if show_command.is_store_show(words):
                return show_command.show(self.measurements, self.database, words)
            return self.settings.show(words)
        if first in ("SET", "RESET"):
            return self.settings.set(words)
        if first == "EXPLAIN":
            return self._explain(text, words, params)
        if first == "CHECKPOINT" and len(words) == 1:
            # As in PostgreSQL, CHECKPOINT makes everything written durable in
            # the main store: here, buffered rows are flushed to Parquet.
            self.runtime.writer.flush_all()
            return Result(tag="CHECKPOINT")
        if first in _PRIVILEGED_WORDS:
            raise InsufficientPrivilege(f"{first} is not allowed", hint="Lakegate reads only its own store")
        if first == "COPY":
            if not any(word.upper in ("STDIN", "STDOUT") for word in words):
                raise InsufficientPrivilege("COPY to or from a server file is not allowed",
                                            hint="use COPY ... FROM STDIN or TO STDOUT")
            return self._copy_out(text, params)
        raise FeatureNotSupported(f"{first} statements are not supported")

    # Queries

    def _query(self, tree: exp.Expression, params: list[object],
               parameter_types: list[str | None] | None = None, text: str | None = None) -> Result:
        """Run a query; with its ``text``, a rewrite kept from an earlier run may be reused (plan_cache.py)."""
        key = None if text is None else self._plan_key(text, parameter_types)

        def rewrite() -> tuple[str, ScanPlan]:
            typed = typed_parameters(name_result_columns(tree.copy()), parameter_types or [])
            return self._rewrite(typed, params, private=True, plan_key=key)

        cached = None if key is None else self._cached_plan(key)
        if cached is None:
            sql, plan = rewrite()
        else:
            sql, plan = cached
        self.last_plan = plan
        logger.debug("session %d runs %s", self.id, sql)
        attempt = 1
        while True:
            try:
                schema, reader, first = self._start_query(sql, params)
                break
            except duckdb.IOException as error:
                if not names_missing_file(error) or attempt == MISSING_FILE_ATTEMPTS:
                    raise
            # A file listed for this query was removed before DuckDB opened it: a DELETE, retention
            # run or another gateway removed it just now. List afresh and run the query again.
            logger.info("session %d: a listed file was removed before the query read it; listing again",
                        self.id)
            attempt += 1
            self.measurements.forget_listings()
            if key is not None:
                self.runtime.plans.discard(key)
            sql, plan = rewrite()
            self.last_plan = plan
        return Result(tag="SELECT", schema=schema, batches=self._streams.track(reader, first))

    def _start_query(self, sql: str, params: list[object]) -> tuple[pa.Schema, pa.RecordBatchReader,
                                                                    pa.RecordBatch | None]:
        """Run ``sql`` and read its first batch (None if it has no rows): the schema, the reader and that batch.

        DuckDB opens most files of a query before its first batch, so a file
        removed since the listing fails here, where the query can still run again.
        NOTE: a file removed after the first batch still fails the query with 58030.
        """
        self.cursor.execute(sql, params or None)
        types = _duckdb_type_names(self.cursor)
        reader = self.cursor.to_arrow_reader(BATCH_ROWS)
        schema = _with_type_names(reader.schema, types)
        try:
            first = reader.read_next_batch()
        except StopIteration:
            first = None
        except (pa.ArrowException, OSError) as error:
            raise from_reader_error(error) from error
        return schema, reader, first

    def _rewrite(self, tree: exp.Expression, params: list[object], *,
                 private: bool = False, plan_key: Hashable | None = None) -> tuple[str, ScanPlan]:
        """Return the DuckDB SQL of ``tree`` and its scans; ``private`` lets it change ``tree`` in place.

        With a ``plan_key``, the result is kept for reuse when it depends on
        nothing but the statement and the files it reads.
        """
        tree, reads_catalog = rewrite_catalog(tree if private else tree.copy(), self._session_values(), params)
        if reads_catalog:
            self.catalog.refresh()
        evaluate = self._evaluator(params)
        rewriter = QueryRewriter(self.measurements, self.database, evaluate)
        rewritten, plan = rewriter.rewrite(tree, copy=False)
        self._register_buffers(self.cursor, plan)
        sql = parse.to_duckdb(rewritten, copy=False)
        if plan_key is not None and not reads_catalog and not evaluate.queried and not plan.buffers:
            self.runtime.plans.put(plan_key, CachedPlan(sql, tuple(plan.sources)))
        return sql, plan

    def _plan_key(self, text: str, parameter_types: list[str | None] | None) -> Hashable:
        return (text, self.database, tuple(parameter_types or ()), tuple(sorted(self.settings.values.items())))

    def _cached_plan(self, key: Hashable) -> tuple[str, ScanPlan] | None:
        """Return a kept rewrite whose files are unchanged, or None (and forget the plan if they changed)."""
        cached = self.runtime.plans.get(key)
        if cached is None:
            return None
        scans = current_scans(cached, self.measurements)
        if scans is None:
            self.runtime.plans.discard(key)
            return None
        plan = ScanPlan(scans=scans, sources=list(cached.sources))
        self._register_buffers(self.cursor, plan)
        return cached.sql, plan

    def _insert_columns(self, database: str, measurement: str) -> list[Column]:
        """Return the columns an INSERT must match, without listing storage while the writer buffers them.

        The writer's kinds merge the stored files (reread every 30 seconds)
        with the buffered rows, and a live buffer means the name's spelling
        is settled, so a loader's stream of INSERTs lists nothing.
        """
        kinds = self.runtime.writer.buffered_kinds(database, measurement)
        if kinds is None:
            return insert_command.existing_columns(self.measurements, database, measurement)
        return [Column("time", "TIMESTAMP WITH TIME ZONE"),
                *(Column(name, KIND_TYPE_NAMES.get(kind, "OTHER")) for name, kind in sorted(kinds.items()))]

    def _write(self, database: str, measurement: str, table: pa.Table) -> int:
        """Buffer rows with the WAL fsync deferred to :meth:`make_durable`, which runs before any reply is sent."""
        self._unsynced = True
        return self.runtime.writer.write_table(database, measurement, table, defer_sync=True)

    def make_durable(self) -> None:
        """Fsync the WAL appends of this session's writes; the wire layer calls this before sending replies.

        Replies are buffered until the client waits for them (Sync, or a
        full buffer), so the writes of one pipeline or batch share an fsync.
        """
        if self._unsynced:
            self.runtime.writer.sync_log()
            self._unsynced = False

    def _register_buffers(self, connection: duckdb.DuckDBPyConnection, plan: ScanPlan) -> None:
        """Make the buffered rows a rewritten query reads visible to ``connection`` under their names.

        The previous statement's tables are dropped first: its result has
        been sent by the time the next statement is rewritten.
        """
        if connection is self.cursor:
            for name in self._registered:
                self.cursor.unregister(name)
            self._registered = list(plan.buffers)
        for name, table in plan.buffers.items():
            connection.register(name, table)

    def _describe_sql(self, sql: str, parameter_count: int) -> pa.Schema:
        nulls = [None] * parameter_count
        self.cursor.execute(f"SELECT * FROM ({sql}) LIMIT 0", nulls or None)
        types = _duckdb_type_names(self.cursor)
        return _with_type_names(self.cursor.to_arrow_reader(1).schema, types)

    def _session_values(self) -> SessionValues:
        return SessionValues(
            database=self.database,
            user=self.user,
            version=f"PostgreSQL {self.settings.values['server_version']} on x86_64-pc-linux-gnu, 64-bit",
            process_id=self.process_id,
            settings=self.settings.values,
        )

    def _evaluator(self, params: list[object]) -> ConstantEvaluator:
        return constant_evaluator(self.cursor, params)

    def _open_cursor(self, text: str) -> tuple[duckdb.DuckDBPyConnection, pa.Schema, Iterator[pa.RecordBatch]]:
        tree = parse.parse_one(text)
        if not isinstance(tree, exp.Query):
            raise FeatureNotSupported("cursors are supported for SELECT queries only")
        sql, plan = self._rewrite(name_result_columns(tree.copy()), [])
        connection = self.runtime.engine.cursor()
        try:
            self._register_buffers(connection, plan)
            connection.execute(sql)
            types = _duckdb_type_names(connection)
            reader = connection.to_arrow_reader(BATCH_ROWS)
        except duckdb.Error:
            connection.close()
            raise
        return connection, _with_type_names(reader.schema, types), _batches(reader)

    def _copy_out(self, text: str, params: list[object]) -> Result:
        tree = parse.parse_one(text)
        if not isinstance(tree, exp.Copy):
            raise SqlSyntaxError("syntax error in COPY statement", hint="COPY (SELECT ...) TO STDOUT")
        if tree.args.get("kind"):
            return self._copy_in(tree)
        query, options = copy_source(tree)
        result = self._query(query, params)
        result.tag = "COPY"
        result.copy = options
        return result

    def _copy_in(self, tree: exp.Copy) -> Result:
        """Start a COPY FROM STDIN: the wire layer collects the data and calls finish_copy_in."""
        target = copy_target(tree, self.database)
        names = target.columns or [column.name for column in self._stored_columns(target)]
        if not names:
            raise SqlSyntaxError(f'COPY into new measurement "{target.measurement}" needs a column list',
                                 hint=f"COPY {target.measurement} (time, ...) FROM STDIN")
        return Result(tag="COPY", copy_in=target, copy_columns=names)

    def finish_copy_in(self, target: CopyIn, names: list[str], data: bytes) -> Result:
        """Parse and store the data of a COPY FROM STDIN; nothing is stored if any row is bad."""
        try:
            existing = self._stored_columns(target)
            table = copy_table(data, target, names, {column.name: column.type for column in existing})
            stored = insert_command.storage_table(table, existing, target.measurement)
            self._write(target.database, target.measurement, stored)
        except GatewayError:
            self.mark_failed()
            raise
        self.catalog.invalidate()
        return Result(tag=f"COPY {stored.num_rows}")

    def _stored_columns(self, target: CopyIn) -> list[Column]:
        try:
            stored = self.measurements.resolve(target.database, target.measurement)
        except (UndefinedTable, InvalidCatalogName):
            return []
        return self.measurements.columns(target.database, stored)

    def _savepoint(self, first: str) -> Result:
        if self.transaction.status == "idle":
            raise _NoActiveTransaction(f"{first} can only be used in transaction blocks")
        return Result(tag=first)

    def _rollback_to_savepoint(self) -> Result:
        """Leave the failed state: statements are not transactional, so nothing is undone."""
        if self.transaction.status == "idle":
            raise _NoActiveTransaction("ROLLBACK TO SAVEPOINT can only be used in transaction blocks")
        self.transaction.status = "open"
        return Result(tag="ROLLBACK")

    def _explain(self, text: str, words: list[parse.Word], params: list[object]) -> Result:
        if len(words) < 2:
            raise SqlSyntaxError("syntax error at end of input", hint="EXPLAIN SELECT ...")
        analyze = words[1].upper == "ANALYZE"
        tree = parse.parse_one(text[words[1 if analyze else 0].end:])
        if isinstance(tree, exp.Delete) and not analyze:
            return delete_command.explain(tree, self._removal_context(params))
        if not isinstance(tree, exp.Query):
            raise FeatureNotSupported("EXPLAIN supports SELECT statements, and DELETE without ANALYZE")
        sql, plan = self._rewrite(tree, params)
        prefix = "EXPLAIN ANALYZE" if analyze else "EXPLAIN"
        rows = self.cursor.execute(f"{prefix} {sql}", params or None).fetchall()
        lines = explain_lines(plan, [str(row[1]) for row in rows])
        return table_result("EXPLAIN", text_table(["QUERY PLAN"], [[line] for line in lines]))

    def mark_failed(self) -> None:
        """Put an open transaction block into the failed state after an error."""
        if self.transaction.status == "open":
            self.transaction.status = "failed"


class _SessionQueries:
    """The session's store rewrite and DuckDB cursor, bound to one statement's parameters, for INSERT."""

    def __init__(self, session: Session, params: list[object]) -> None:
        self.session = session
        self.params = params

    def render(self, tree: exp.Expression) -> str:
        return self.session._rewrite(tree, self.params)[0]

    def run(self, sql: str) -> pa.Table:
        return fetch_table(self.session.cursor.execute(sql, self.params or None))


class _Timeout(threading.Timer):
    """Interrupts the session's DuckDB statement when statement_timeout passes."""

    def __init__(self, seconds: float, cursor: duckdb.DuckDBPyConnection, cancelled: threading.Event) -> None:
        super().__init__(seconds, self._interrupt)
        self.daemon = True
        self.fired = False
        self._cursor = cursor
        self._cancelled = cancelled

    def _interrupt(self) -> None:
        self.fired = True
        self._cancelled.set()
        self._cursor.interrupt()


class _NoActiveTransaction(GatewayError):
    sqlstate = "25P01"


class _InFailedTransaction(GatewayError):
    sqlstate = "25P02"

    def __init__(self) -> None:
        super().__init__("current transaction is aborted, commands ignored until end of transaction block")


def _batches(reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
    """Yield the reader's batches, translating DuckDB errors raised while streaming."""
    try:
        yield from reader
    except (duckdb.Error, pa.ArrowException, OSError) as error:
        raise translate(from_reader_error(error)) from error


DUCKDB_TYPE_KEY = b"lakegate.duckdb_type"


def _duckdb_type_names(cursor: duckdb.DuckDBPyConnection) -> list[str]:
    return [str(column[1]) for column in cursor.description or []]


def _with_type_names(schema: pa.Schema, types: list[str]) -> pa.Schema:
    """Attach each column's DuckDB type, which Arrow does not keep for UUID and JSON."""
    if len(types) != len(schema):
        return schema
    return pa.schema([field.with_metadata({DUCKDB_TYPE_KEY: name.encode()})
                      for field, name in zip(schema, types, strict=True)])


# Session statements that clients and pools send and that have nothing to do
# here (no cursors, prepared SQL statements or notifications): tag only.
_CHATTER_TAGS = {
    "DISCARD": lambda words: "DISCARD " + (words[1].upper if len(words) > 1 else "ALL"),
    "UNLISTEN": lambda words: "UNLISTEN",
    "LISTEN": lambda words: "LISTEN",
}

_COMMAND_WORDS = {"BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "SHOW", "SET", "RESET", "EXPLAIN",
                  "CHECKPOINT", "SAVEPOINT", "RELEASE", "DISCARD", "DEALLOCATE", "DECLARE", "FETCH", "UNLISTEN", "LISTEN", "CLOSE",
                  "ATTACH", "DETACH", "INSTALL", "LOAD", "FORCE", "COPY", "PRAGMA", "EXPORT", "IMPORT", "CALL"}

# Statements that would reach files, extensions or settings outside the sandbox.
_PRIVILEGED_WORDS = {"ATTACH", "DETACH", "INSTALL", "LOAD", "FORCE", "PRAGMA", "EXPORT", "IMPORT", "CALL"}


def _is_command(words: list[parse.Word]) -> bool:
    return bool(words) and not words[0].quoted and words[0].upper in _COMMAND_WORDS


def _deallocate(words: list[parse.Word]) -> Result:
    """DEALLOCATE [PREPARE] name | ALL: the wire layer drops the protocol-level statement."""
    names = [word for word in words[1:] if word.upper != "PREPARE"]
    if len(names) != 1:
        raise SqlSyntaxError("syntax error in DEALLOCATE statement", hint="DEALLOCATE name or DEALLOCATE ALL")
    if names[0].upper == "ALL" and not names[0].quoted:
        return Result(tag="DEALLOCATE ALL", deallocate="")
    return Result(tag="DEALLOCATE", deallocate=names[0].text)


def _literal_insert(text: str) -> LiteralInsert | None:
    # A cheap test first: most statements are not INSERTs.
    if text.lstrip()[:6].upper() != "INSERT":
        return None
    return match_literal_insert(text)


def _ends_transaction(words: list[parse.Word]) -> bool:
    return bool(words) and words[0].upper in ("COMMIT", "END", "ROLLBACK", "ABORT", "RELEASE")


_OBJECT_MODIFIERS = {"OR", "REPLACE", "PERSISTENT", "TEMPORARY", "TEMP", "IF", "NOT", "EXISTS"}


def _command_name(tree: exp.Command) -> str:
    """Name a statement sqlglot has no grammar for, such as ``CREATE SECRET`` or ``VACUUM``, for an error.

    sqlglot keeps the first word as ``this`` and the rest as text. After
    CREATE, DROP and ALTER, the name adds the kind of object.
    """
    verb = str(tree.this).upper()
    if verb not in ("CREATE", "DROP", "ALTER"):
        return verb
    rest = [word.upper() for word in str(tree.expression or "").split()]
    kind = next((word for word in rest if word not in _OBJECT_MODIFIERS), "")
    return f"{verb} {kind}" if kind.isalpha() else verb


def _command_parameter_count(words: list[parse.Word]) -> int:
    """Return the highest ``$n`` of a statement the session reads word by word, so Bind may supply n values."""
    indexes = [int(following.text) for word, following in pairwise(words)
               if word.text == "$" and not word.quoted and following.text.isdigit() and not following.quoted
               and following.end - len(following.text) == word.end]
    return max(indexes, default=0)


def _fresh(prepared: Prepared) -> Prepared:
    """Return a copy of a kept statement for one use; the copies share its syntax tree, which nothing changes."""
    return replace(prepared, parameter_types=[])


def _keep_queries(kept: LruCache[tuple[Prepared, ...]], text: str, statements: list[Prepared]) -> None:
    """Keep the parsed statements of ``text`` if all are queries, whose trees are only read, never changed."""
    if statements and all(prepared.kind == "query" for prepared in statements):
        kept.put(text, tuple(statements))


def _parameter_count(tree: exp.Expression) -> int:
    indexes = [int(node.name) for node in tree.find_all(exp.Parameter) if node.name.isdigit()]
    return max(indexes, default=0)


def _setting_ms(milliseconds: int) -> str:
    """Spell a timeout default as SHOW reports it, as PostgreSQL does (``0``, ``5s``, ``1500ms``)."""
    return format_duration_ms(milliseconds)


def _server_version() -> str:
    return f"15.0 (Lakegate {__version__})"
