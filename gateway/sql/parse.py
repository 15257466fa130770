"""Parsing client SQL into sqlglot trees, with errors translated to SQLSTATE 42601.

Client SQL is read in the PostgreSQL dialect and generated for DuckDB, both
at ``ErrorLevel.RAISE`` so a rewrite never silently changes a query.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

import sqlglot
from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.errors import ErrorLevel, ParseError, TokenError, UnsupportedError
from sqlglot.tokens import Token, TokenType

from gateway.errors import FeatureNotSupported, ProgramLimitExceeded, SqlSyntaxError

READ_DIALECT = "postgres"
WRITE_DIALECT = "duckdb"

# sqlglot warns on every statement it keeps as a Command (SHOW, EXPLAIN ...);
# those are expected here and classified by the session.
logging.getLogger("sqlglot").setLevel(logging.ERROR)


def split_statements(sql: str) -> list[str]:
    """Split a query string into statement texts at top-level semicolons.

    Semicolons inside string literals, quoted identifiers and comments do not
    split. Empty statements (only whitespace, comments or ``;``) are dropped.
    """
    tokens = tokenize(sql)
    statements: list[str] = []
    start: int | None = None
    end = 0
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            if start is not None:
                statements.append(sql[start:end].strip())
            start = None
            continue
        if start is None:
            start = _token_start(token)
        end = token.end + 1
    if start is not None:
        statements.append(sql[start:end].strip())
    return statements


def _token_start(token: Token) -> int:
    # Token.start points at the text inside quotes; step back over an opening quote.
    return token.start - 1 if token.token_type in _QUOTED else token.start


_QUOTED = {TokenType.STRING, TokenType.NATIONAL_STRING, TokenType.BYTE_STRING,
           TokenType.HEX_STRING, TokenType.BIT_STRING, TokenType.RAW_STRING, TokenType.IDENTIFIER}


def tokenize(sql: str) -> list[Token]:
    """Tokenize SQL with the PostgreSQL dialect, raising SqlSyntaxError on bad input."""
    try:
        return sqlglot.tokenize(sql, read=READ_DIALECT)
    except TokenError as error:
        raise SqlSyntaxError(f"syntax error: {error}") from error


# PostgreSQL object-identifier types whose arrays sqlglot 30 cannot parse
# ("$1::oid[]"); the gateway reads them as UINTEGER, which it presents as oid.
_OID_TYPES = {"OID", "REGCLASS", "REGTYPE", "REGPROC", "REGNAMESPACE", "REGROLE"}


def _uinteger_oid_arrays(sql: str) -> str:
    """Rewrite ``::oid[]``-style casts to ``::uinteger[]``, found by tokens, not text patterns."""
    try:
        tokens = sqlglot.tokenize(sql, read=READ_DIALECT)
    except TokenError:
        return sql
    edits = []
    for previous, token, following in zip(tokens, tokens[1:], tokens[2:], strict=False):
        if (previous.token_type == TokenType.DCOLON and token.text.upper() in _OID_TYPES
                and following.token_type == TokenType.L_BRACKET):
            edits.append((token.start, token.end + 1))
    for start, end in reversed(edits):
        sql = sql[:start] + "uinteger" + sql[end:]
    return sql


class StatementTooComplex(ProgramLimitExceeded):
    """A statement nested too deeply for sqlglot to parse or generate within Python's recursion limit (54001)."""

    sqlstate = "54001"

    def __init__(self) -> None:
        super().__init__("statement is too complex: expressions or subqueries are nested too deeply",
                         hint="reduce the nesting of parentheses, subqueries or operators such as NOT")


def parse_one(sql: str) -> exp.Expression:
    """Parse one statement; raise SqlSyntaxError (42601) with the position on failure.

    Raises StatementTooComplex (54001) when the nesting exceeds the parser's recursion depth.
    """
    try:
        return _parse_one(sql)
    except RecursionError as error:
        raise StatementTooComplex() from error


def _parse_one(sql: str) -> exp.Expression:
    sql = _uinteger_oid_arrays(sql)
    try:
        trees = _sqlglot_parse(sql)
    except ParseError as error:
        quoted = _quoted_keyword_labels(sql)
        if quoted == sql:
            raise _syntax_error(error) from error
        try:
            trees = _sqlglot_parse(quoted)
        except (ParseError, TokenError):
            raise _syntax_error(error) from error
    except TokenError as error:
        raise SqlSyntaxError(f"syntax error: {error}") from error
    trees = [tree for tree in trees if tree is not None]
    if len(trees) != 1:
        raise SqlSyntaxError("syntax error: expected exactly one statement")
    return trees[0]


def _sqlglot_parse(sql: str) -> list[exp.Expression | None]:
    try:
        return sqlglot.parse(sql, read=READ_DIALECT, error_level=ErrorLevel.RAISE)
    except (ParseError, TokenError, RecursionError):
        raise
    except Exception as error:
        # sqlglot's parser fails with its own defects on some malformed input:
        # "?[NOT" raises AttributeError while typing the subscript. Input it
        # cannot read is a syntax error for the client, not an internal one.
        raise ParseError(f"the statement could not be parsed ({type(error).__name__})") from error


_LABEL_FOLLOWERS = {TokenType.COMMA, TokenType.FROM, TokenType.R_PAREN}


def _quoted_keyword_labels(sql: str) -> str:
    """Quote keywords used as column labels after AS (``... AS select, ...``).

    PostgreSQL accepts any keyword there, and Metabase relies on it; sqlglot
    30 does not, so the label is quoted. Found by tokens, not text patterns.
    """
    try:
        tokens = sqlglot.tokenize(sql, read=READ_DIALECT)
    except TokenError:
        return sql
    edits = []
    for previous, token, following in zip(tokens, tokens[1:], tokens[2:], strict=False):
        if (previous.token_type == TokenType.ALIAS and following.token_type in _LABEL_FOLLOWERS
                and token.token_type not in (TokenType.VAR, TokenType.IDENTIFIER, TokenType.STRING)
                and token.text.isidentifier()):
            edits.append((token.start, token.end + 1, token.text))
    for start, end, text in reversed(edits):
        sql = sql[:start] + '"' + text + '"' + sql[end:]
    return sql


def _syntax_error(error: ParseError) -> SqlSyntaxError:
    first = error.errors[0] if error.errors else {}
    description = str(first.get("description") or error).split("\n")[0]
    near = first.get("highlight")
    message = f"syntax error at or near \"{near}\"" if near else "syntax error"
    return SqlSyntaxError(message, detail=description)


def to_duckdb(tree: exp.Expression, *, copy: bool = True) -> str:
    """Generate DuckDB SQL for a tree, raising FeatureNotSupported if it cannot be done exactly.

    Generating may transform the tree; without ``copy`` it works on ``tree`` itself.
    """
    try:
        return tree.sql(dialect=WRITE_DIALECT, unsupported_level=ErrorLevel.RAISE, copy=copy)
    except UnsupportedError as error:
        raise FeatureNotSupported(f"unsupported SQL: {error}") from error


class Word(NamedTuple):
    """One token of a statement: its text, upper-cased text, and whether it was quoted."""

    text: str
    upper: str
    quoted: bool
    end: int  # offset just past the token in the statement text


def words(sql: str) -> list[Word]:
    """Return the statement's tokens, with SHOW and EXPLAIN not swallowing the rest."""
    try:
        tokens = _WordTokenizer().tokenize(sql)
    except TokenError as error:
        raise SqlSyntaxError(f"syntax error: {error}") from error
    return [
        Word(token.text, token.text.upper(), token.token_type in _QUOTED, token.end + 1 + (token.token_type in _QUOTED))
        for token in tokens
    ]


class _WordTokenizer(Postgres.Tokenizer):
    # Without command words, SHOW and EXPLAIN are followed by ordinary tokens
    # instead of one string holding the rest of the statement.
    COMMANDS: set[TokenType] = set()
