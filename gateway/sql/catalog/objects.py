"""The ``pgcompat`` schema: pg_catalog relations and functions that DuckDB lacks or shapes differently.

Columns of PostgreSQL type oid are UINTEGER here, which the wire layer
sends as oid (26) and oid[] (1028), the types clients such as asyncpg
expect in catalog results. Databases of the store are DuckDB schemas, and measurements typed empty
views in them (see sync.py); these objects present them as PostgreSQL 15
would: schemas in pg_namespace, tables (relkind 'r') in pg_class, columns
with PostgreSQL type OIDs in pg_attribute. Client queries reach them through
the catalog rewrite (rewrite.py), which also supplies session values
(database, user) as literals.
"""

from __future__ import annotations

from gateway.sql.catalog.pg_types import DUCKDB_TYPE_OIDS, PG_CATALOG_NAMESPACE, type_rows

SCHEMA = "pgcompat"
OWNER_OID = 10
PUBLIC_NAMESPACE = 2200
INFORMATION_SCHEMA_NAMESPACE = 13183

# Schemas of DuckDB's own that are never databases of the store.
SYSTEM_SCHEMAS = ("main", "pg_catalog", "information_schema", SCHEMA)


def _values(rows: list[tuple[object, ...]]) -> str:
    def literal(value: object) -> str:
        if value is None:
            return "NULL"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        return "'" + str(value).replace("'", "''") + "'"

    return ",\n".join("(" + ", ".join(literal(value) for value in row) + ")" for row in rows)


def _type_oid_case(expression: str) -> str:
    cases = " ".join(f"WHEN '{name}' THEN {oid}" for name, oid in DUCKDB_TYPE_OIDS.items())
    return (
        f"CASE WHEN {expression} LIKE 'DECIMAL%' THEN 1700 "
        f"WHEN {expression} LIKE '%[]' THEN coalesce((SELECT typarray FROM {SCHEMA}.pg_type "
        f"WHERE oid = {SCHEMA}.type_oid_scalar(left({expression}, -2))), 1009) "
        f"ELSE coalesce(CASE {expression} {cases} END, 25) END"
    )


def _scalar_type_case(expression: str) -> str:
    cases = " ".join(f"WHEN '{name}' THEN {oid}" for name, oid in DUCKDB_TYPE_OIDS.items())
    return (f"CASE WHEN {expression} LIKE 'DECIMAL%' THEN 1700 "
            f"ELSE coalesce(CASE {expression} {cases} END, 25) END")


_DATABASE_SCHEMAS = (
    f"SELECT oid, schema_name FROM duckdb_schemas() WHERE database_name = 'memory' "
    f"AND NOT internal AND schema_name NOT IN {SYSTEM_SCHEMAS!r}"
)

_EMPTY_RELATIONS = {
    "pg_inherits": "inhrelid UINTEGER, inhparent UINTEGER, inhseqno INTEGER, inhdetachpending BOOLEAN",
    "pg_trigger": "oid UINTEGER, tgrelid UINTEGER, tgparentid UINTEGER, tgname VARCHAR, tgfoid UINTEGER, tgtype SMALLINT, "
                  "tgenabled VARCHAR, tgisinternal BOOLEAN, tgconstrrelid UINTEGER, tgconstrindid UINTEGER, "
                  "tgconstraint UINTEGER, tgdeferrable BOOLEAN, tginitdeferred BOOLEAN, tgnargs SMALLINT",
    "pg_policy": "oid UINTEGER, polname VARCHAR, polrelid UINTEGER, polcmd VARCHAR, polpermissive BOOLEAN, "
                 "polroles UINTEGER[], polqual VARCHAR, polwithcheck VARCHAR",
    "pg_statistic_ext": "oid UINTEGER, stxrelid UINTEGER, stxname VARCHAR, stxnamespace UINTEGER, stxowner UINTEGER, "
                        "stxstattarget INTEGER, stxkeys SMALLINT[], stxkind VARCHAR[], stxexprs VARCHAR",
    "pg_publication": "oid UINTEGER, pubname VARCHAR, pubowner UINTEGER, puballtables BOOLEAN, pubinsert BOOLEAN, "
                      "pubupdate BOOLEAN, pubdelete BOOLEAN, pubtruncate BOOLEAN, pubviaroot BOOLEAN",
    "pg_publication_namespace": "oid UINTEGER, pnpubid UINTEGER, pnnspid UINTEGER",
    "pg_publication_rel": "oid UINTEGER, prpubid UINTEGER, prrelid UINTEGER, prqual VARCHAR, prattrs SMALLINT[]",
    "pg_rewrite": "oid UINTEGER, rulename VARCHAR, ev_class UINTEGER, ev_type VARCHAR, ev_enabled VARCHAR, "
                  "is_instead BOOLEAN, ev_qual VARCHAR, ev_action VARCHAR",
    "pg_index": "indexrelid UINTEGER, indrelid UINTEGER, indnatts SMALLINT, indnkeyatts SMALLINT, "
                "indisunique BOOLEAN, indnullsnotdistinct BOOLEAN, indisprimary BOOLEAN, indisexclusion BOOLEAN, "
                "indimmediate BOOLEAN, indisclustered BOOLEAN, indisvalid BOOLEAN, indcheckxmin BOOLEAN, "
                "indisready BOOLEAN, indislive BOOLEAN, indisreplident BOOLEAN, indkey SMALLINT[], "
                "indcollation UINTEGER[], indclass UINTEGER[], indoption SMALLINT[], indexprs VARCHAR, indpred VARCHAR",
    "pg_constraint": "oid UINTEGER, conname VARCHAR, connamespace UINTEGER, contype VARCHAR, condeferrable BOOLEAN, "
                     "condeferred BOOLEAN, convalidated BOOLEAN, conrelid UINTEGER, contypid UINTEGER, "
                     "conindid UINTEGER, conparentid UINTEGER, confrelid UINTEGER, confupdtype VARCHAR, "
                     "confdeltype VARCHAR, confmatchtype VARCHAR, conislocal BOOLEAN, coninhcount INTEGER, "
                     "connoinherit BOOLEAN, conkey SMALLINT[], confkey SMALLINT[], conbin VARCHAR",
    "pg_attrdef": "oid UINTEGER, adrelid UINTEGER, adnum SMALLINT, adbin VARCHAR",
    "pg_description": "objoid UINTEGER, classoid UINTEGER, objsubid INTEGER, description VARCHAR",
    "pg_shdescription": "objoid UINTEGER, classoid UINTEGER, description VARCHAR",
    "pg_range": "rngtypid UINTEGER, rngsubtype UINTEGER, rngmultitypid UINTEGER, rngcollation UINTEGER, "
                "rngsubopc UINTEGER, rngcanonical VARCHAR, rngsubdiff VARCHAR",
    "pg_enum": "oid UINTEGER, enumtypid UINTEGER, enumsortorder REAL, enumlabel VARCHAR",
    "pg_collation": "oid UINTEGER, collname VARCHAR, collnamespace UINTEGER, collowner UINTEGER, collprovider VARCHAR, "
                    "collisdeterministic BOOLEAN, collencoding INTEGER, collcollate VARCHAR, collctype VARCHAR",
    "pg_extension": "oid UINTEGER, extname VARCHAR, extowner UINTEGER, extnamespace UINTEGER, extrelocatable BOOLEAN, "
                    "extversion VARCHAR",
    "pg_foreign_table": "ftrelid UINTEGER, ftserver UINTEGER, ftoptions VARCHAR[]",
    "pg_partitioned_table": "partrelid UINTEGER, partstrat VARCHAR, partnatts SMALLINT, partdefid UINTEGER",
    "pg_depend": "classid UINTEGER, objid UINTEGER, objsubid INTEGER, refclassid UINTEGER, refobjid UINTEGER, "
                 "refobjsubid INTEGER, deptype VARCHAR",
    "pg_sequence": "seqrelid UINTEGER, seqtypid UINTEGER, seqstart UINTEGER, seqincrement UINTEGER, seqmax UINTEGER, "
                   "seqmin UINTEGER, seqcache UINTEGER, seqcycle BOOLEAN",
    "pg_matviews": "schemaname VARCHAR, matviewname VARCHAR, matviewowner VARCHAR, tablespace VARCHAR, "
                   "hasindexes BOOLEAN, ispopulated BOOLEAN, definition VARCHAR",
    "pg_views": "schemaname VARCHAR, viewname VARCHAR, viewowner VARCHAR, definition VARCHAR",
    "pg_indexes": "schemaname VARCHAR, tablename VARCHAR, indexname VARCHAR, tablespace VARCHAR, indexdef VARCHAR",
    "pg_opclass": "oid UINTEGER, opcmethod UINTEGER, opcname VARCHAR, opcnamespace UINTEGER, opcowner UINTEGER, "
                  "opcfamily UINTEGER, opcintype UINTEGER, opcdefault BOOLEAN, opckeytype UINTEGER",
    "pg_auth_members": "roleid UINTEGER, member UINTEGER, grantor UINTEGER, admin_option BOOLEAN",
    "pg_event_trigger": "oid UINTEGER, evtname VARCHAR, evtevent VARCHAR, evtowner UINTEGER, evtfoid UINTEGER, "
                        "evtenabled VARCHAR, evttags VARCHAR[]",
    "pg_cast": "oid UINTEGER, castsource UINTEGER, casttarget UINTEGER, castfunc UINTEGER, castcontext VARCHAR, "
               "castmethod VARCHAR",
    "pg_stat_activity": "datid UINTEGER, datname VARCHAR, pid INTEGER, usename VARCHAR, application_name VARCHAR, "
                        "state VARCHAR, query VARCHAR",
}


def _empty(name: str, columns: str) -> str:
    casts = ", ".join(
        f"CAST(NULL AS {definition.split(' ', 1)[1]}) AS {definition.split(' ', 1)[0]}"
        for definition in columns.split(", ")
    )
    return f"CREATE OR REPLACE VIEW {SCHEMA}.{name} AS SELECT {casts} WHERE false"


def statements(user: str = "lakegate") -> list[str]:
    """Return the statements that create the ``pgcompat`` schema, in order."""
    s = SCHEMA
    result = [
        f"CREATE SCHEMA IF NOT EXISTS {s}",
        f"CREATE OR REPLACE TABLE {s}.pg_type_rows AS SELECT * FROM (VALUES {_values(type_rows())}) "
        "AS t(oid, typname, typlen, typbyval, typtype, typcategory, typelem, typarray, typinput, typoutput, "
        "typreceive, typsend, typalign, typstorage, display)",
        f"""CREATE OR REPLACE VIEW {s}.pg_type AS SELECT CAST(oid AS UINTEGER) AS oid, typname,
            CAST({PG_CATALOG_NAMESPACE} AS UINTEGER) AS typnamespace, CAST({OWNER_OID} AS UINTEGER) AS typowner,
            CAST(typlen AS SMALLINT) AS typlen, typbyval, typtype, typcategory, false AS typispreferred,
            true AS typisdefined, ',' AS typdelim, CAST(0 AS UINTEGER) AS typrelid, CAST(typelem AS UINTEGER) AS typelem,
            CAST(typarray AS UINTEGER) AS typarray, typinput, typoutput, typreceive, typsend, '-' AS typmodin,
            '-' AS typmodout, '-' AS typanalyze, typalign, typstorage, false AS typnotnull,
            CAST(0 AS UINTEGER) AS typbasetype, -1 AS typtypmod, 0 AS typndims, CAST(0 AS UINTEGER) AS typcollation,
            CAST(NULL AS VARCHAR) AS typdefaultbin, CAST(NULL AS VARCHAR) AS typdefault,
            CAST(NULL AS VARCHAR[]) AS typacl, '-' AS typsubscript
            FROM {s}.pg_type_rows""",
        f"CREATE OR REPLACE MACRO {s}.type_oid_scalar(t) AS {_scalar_type_case('t')}",
        f"CREATE OR REPLACE MACRO {s}.type_oid(t) AS {_type_oid_case('t')}",
        f"""CREATE OR REPLACE VIEW {s}.pg_namespace AS
            SELECT CAST(oid AS UINTEGER) AS oid, nspname, CAST({OWNER_OID} AS UINTEGER) AS nspowner,
                   CAST(NULL AS VARCHAR[]) AS nspacl
            FROM (SELECT {PG_CATALOG_NAMESPACE} AS oid, 'pg_catalog' AS nspname
                  UNION ALL SELECT {INFORMATION_SCHEMA_NAMESPACE}, 'information_schema'
                  UNION ALL SELECT oid, schema_name FROM ({_DATABASE_SCHEMAS}))""",
        f"""CREATE OR REPLACE VIEW {s}.pg_class AS
            SELECT CAST(v.view_oid AS UINTEGER) AS oid, v.view_name AS relname,
                   CAST(v.schema_oid AS UINTEGER) AS relnamespace, CAST(0 AS UINTEGER) AS reltype,
                   CAST(0 AS UINTEGER) AS reloftype, CAST({OWNER_OID} AS UINTEGER) AS relowner,
                   CAST(2 AS UINTEGER) AS relam, CAST(v.view_oid AS UINTEGER) AS relfilenode,
                   CAST(0 AS UINTEGER) AS reltablespace, 0 AS relpages, CAST(-1 AS REAL) AS reltuples,
                   0 AS relallvisible, CAST(0 AS UINTEGER) AS reltoastrelid, false AS relhasindex,
                   false AS relisshared, 'p' AS relpersistence, 'r' AS relkind,
                   CAST(v.column_count AS SMALLINT) AS relnatts, CAST(0 AS SMALLINT) AS relchecks,
                   false AS relhasrules, false AS relhastriggers, false AS relhassubclass,
                   false AS relrowsecurity, false AS relforcerowsecurity, true AS relispopulated,
                   'd' AS relreplident, false AS relispartition, CAST(0 AS UINTEGER) AS relrewrite,
                   CAST(0 AS UINTEGER) AS relfrozenxid, CAST(0 AS UINTEGER) AS relminmxid,
                   CAST(NULL AS VARCHAR[]) AS relacl, CAST(NULL AS VARCHAR[]) AS reloptions,
                   CAST(NULL AS VARCHAR) AS relpartbound
            FROM duckdb_views() v
            WHERE v.database_name = 'memory' AND NOT v.internal AND v.schema_name NOT IN {SYSTEM_SCHEMAS!r}""",
        f"""CREATE OR REPLACE VIEW {s}.pg_attribute AS
            SELECT CAST(c.table_oid AS UINTEGER) AS attrelid, c.column_name AS attname,
                   CAST({s}.type_oid(c.data_type) AS UINTEGER) AS atttypid, CAST(-1 AS INTEGER) AS attstattarget,
                   CAST(coalesce(t.typlen, -1) AS SMALLINT) AS attlen, CAST(c.column_index AS SMALLINT) AS attnum,
                   0 AS attndims, -1 AS attcacheoff, -1 AS atttypmod, coalesce(t.typbyval, false) AS attbyval,
                   coalesce(t.typalign, 'i') AS attalign, coalesce(t.typstorage, 'p') AS attstorage,
                   '' AS attcompression, c.column_name = 'time' AS attnotnull, false AS atthasdef, false AS atthasmissing,
                   '' AS attidentity, '' AS attgenerated, false AS attisdropped, true AS attislocal,
                   0 AS attinhcount, CAST(0 AS UINTEGER) AS attcollation, CAST(NULL AS VARCHAR[]) AS attacl,
                   CAST(NULL AS VARCHAR[]) AS attoptions, CAST(NULL AS VARCHAR[]) AS attfdwoptions
            FROM duckdb_columns() c
            JOIN {s}.pg_class r ON r.oid = c.table_oid
            LEFT JOIN {s}.pg_type t ON t.oid = {s}.type_oid(c.data_type)""",
        f"""CREATE OR REPLACE VIEW {s}.pg_database AS
            SELECT CAST(oid AS UINTEGER) AS oid, schema_name AS datname, CAST({OWNER_OID} AS UINTEGER) AS datdba,
                   6 AS encoding, 'c' AS datlocprovider, false AS datistemplate, true AS datallowconn,
                   -1 AS datconnlimit, CAST(0 AS UINTEGER) AS datfrozenxid, CAST(0 AS UINTEGER) AS datminmxid,
                   CAST(1663 AS UINTEGER) AS dattablespace, 'C' AS datcollate, 'C' AS datctype,
                   CAST(NULL AS VARCHAR) AS daticulocale, CAST(NULL AS VARCHAR) AS datcollversion,
                   CAST(NULL AS VARCHAR[]) AS datacl
            FROM ({_DATABASE_SCHEMAS})""",
        f"""CREATE OR REPLACE VIEW {s}.pg_roles AS
            SELECT '{user}' AS rolname, true AS rolsuper, true AS rolinherit, true AS rolcreaterole,
                   true AS rolcreatedb, true AS rolcanlogin, false AS rolreplication, -1 AS rolconnlimit,
                   '********' AS rolpassword, CAST(NULL AS TIMESTAMPTZ) AS rolvaliduntil, false AS rolbypassrls,
                   CAST(NULL AS VARCHAR[]) AS rolconfig, CAST({OWNER_OID} AS UINTEGER) AS oid""",
        f"""CREATE OR REPLACE VIEW {s}.pg_user AS
            SELECT rolname AS usename, oid AS usesysid, rolcreatedb AS usecreatedb, rolsuper AS usesuper,
                   rolreplication AS userepl, rolbypassrls AS usebypassrls, rolpassword AS passwd,
                   rolvaliduntil AS valuntil, rolconfig AS useconfig FROM {s}.pg_roles""",
        f"CREATE OR REPLACE VIEW {s}.pg_authid AS SELECT * FROM {s}.pg_roles",
        f"""CREATE OR REPLACE VIEW {s}.pg_am AS SELECT * FROM (VALUES (CAST(2 AS UINTEGER), 'heap', 't'),
            (CAST(403 AS UINTEGER), 'btree', 'i')) AS t(oid, amname, amtype)""",
        f"""CREATE OR REPLACE VIEW {s}.pg_tablespace AS SELECT CAST(1663 AS UINTEGER) AS oid,
            'pg_default' AS spcname, CAST({OWNER_OID} AS UINTEGER) AS spcowner""",
        f"""CREATE OR REPLACE VIEW {s}.pg_proc AS SELECT CAST(NULL AS UINTEGER) AS oid, CAST(NULL AS VARCHAR) AS proname,
            CAST(NULL AS UINTEGER) AS pronamespace, CAST(NULL AS UINTEGER) AS proowner, CAST(NULL AS UINTEGER) AS prolang,
            CAST(NULL AS VARCHAR) AS prokind, CAST(NULL AS UINTEGER) AS prorettype, CAST(NULL AS UINTEGER[]) AS proargtypes,
            CAST(NULL AS VARCHAR) AS prosrc WHERE false""",
        f"""CREATE OR REPLACE VIEW {s}.pg_tables AS
            SELECT n.nspname AS schemaname, c.relname AS tablename, '{user}' AS tableowner,
                   CAST(NULL AS VARCHAR) AS tablespace, false AS hasindexes, false AS hasrules,
                   false AS hastriggers, false AS rowsecurity
            FROM {s}.pg_class c JOIN {s}.pg_namespace n ON n.oid = c.relnamespace""",
        f"""CREATE OR REPLACE VIEW {s}.pg_stat_user_tables AS
            SELECT c.oid AS relid, n.nspname AS schemaname, c.relname, CAST(0 AS UINTEGER) AS n_live_tup
            FROM {s}.pg_class c JOIN {s}.pg_namespace n ON n.oid = c.relnamespace""",
    ]
    result.extend(_information_schema())
    result.extend(_empty(name, columns) for name, columns in _EMPTY_RELATIONS.items())
    result.extend(_macros())
    return result


CATALOG_NAME = "lakegate"


def _information_schema() -> list[str]:
    """Return views standing in for information_schema.schemata, tables and columns."""
    s = SCHEMA
    return [
        f"""CREATE OR REPLACE VIEW {s}.information_schema_schemata AS
            SELECT '{CATALOG_NAME}' AS catalog_name, nspname AS schema_name, 'lakegate' AS schema_owner,
                   CAST(NULL AS VARCHAR) AS default_character_set_catalog,
                   CAST(NULL AS VARCHAR) AS default_character_set_schema,
                   CAST(NULL AS VARCHAR) AS default_character_set_name, CAST(NULL AS VARCHAR) AS sql_path
            FROM {s}.pg_namespace""",
        f"""CREATE OR REPLACE VIEW {s}.information_schema_tables AS
            SELECT '{CATALOG_NAME}' AS table_catalog, n.nspname AS table_schema, c.relname AS table_name,
                   'BASE TABLE' AS table_type, CAST(NULL AS VARCHAR) AS self_referencing_column_name,
                   CAST(NULL AS VARCHAR) AS reference_generation, CAST(NULL AS VARCHAR) AS user_defined_type_catalog,
                   CAST(NULL AS VARCHAR) AS user_defined_type_schema, CAST(NULL AS VARCHAR) AS user_defined_type_name,
                   'NO' AS is_insertable_into, 'NO' AS is_typed, CAST(NULL AS VARCHAR) AS commit_action
            FROM {s}.pg_class c JOIN {s}.pg_namespace n ON n.oid = c.relnamespace""",
        f"""CREATE OR REPLACE VIEW {s}.information_schema_columns AS
            SELECT '{CATALOG_NAME}' AS table_catalog, n.nspname AS table_schema, c.relname AS table_name,
                   a.attname AS column_name, CAST(a.attnum AS INTEGER) AS ordinal_position,
                   CAST(NULL AS VARCHAR) AS column_default,
                   CASE WHEN a.attnotnull THEN 'NO' ELSE 'YES' END AS is_nullable,
                   CASE WHEN t.typcategory = 'A' THEN 'ARRAY' ELSE t.display END AS data_type,
                   CAST(NULL AS INTEGER) AS character_maximum_length,
                   CAST(NULL AS INTEGER) AS character_octet_length,
                   CASE t.typname WHEN 'int2' THEN 16 WHEN 'int4' THEN 32 WHEN 'int8' THEN 64
                        WHEN 'float4' THEN 24 WHEN 'float8' THEN 53 END AS numeric_precision,
                   CASE WHEN t.typname IN ('int2', 'int4', 'int8', 'float4', 'float8') THEN 2 END
                        AS numeric_precision_radix,
                   CASE WHEN t.typname IN ('int2', 'int4', 'int8') THEN 0 END AS numeric_scale,
                   CASE WHEN t.typcategory = 'D' THEN 6 END AS datetime_precision,
                   CAST(NULL AS VARCHAR) AS interval_type, CAST(NULL AS INTEGER) AS interval_precision,
                   '{CATALOG_NAME}' AS udt_catalog, 'pg_catalog' AS udt_schema, t.typname AS udt_name,
                   CAST(NULL AS VARCHAR) AS collation_catalog, CAST(NULL AS VARCHAR) AS collation_schema,
                   CAST(NULL AS VARCHAR) AS collation_name, CAST(NULL AS VARCHAR) AS domain_catalog,
                   CAST(NULL AS VARCHAR) AS domain_schema, CAST(NULL AS VARCHAR) AS domain_name,
                   'NO' AS is_identity, 'NEVER' AS is_generated, 'NO' AS is_updatable
            FROM {s}.pg_attribute a
            JOIN {s}.pg_class c ON c.oid = a.attrelid
            JOIN {s}.pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN {s}.pg_type_rows t ON t.oid = a.atttypid""",
    ]


def _macros() -> list[str]:
    s = SCHEMA
    return [
        f"CREATE OR REPLACE MACRO {s}.pg_get_userbyid(role_oid) AS (SELECT rolname FROM {s}.pg_roles LIMIT 1)",
        f"CREATE OR REPLACE MACRO {s}.pg_encoding_to_char(encoding) AS 'UTF8'",
        f"CREATE OR REPLACE MACRO {s}.pg_table_is_visible(relation_oid, search_schema) AS "
        f"relation_oid IN (SELECT c.oid FROM {s}.pg_class c JOIN {s}.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = search_schema)",
        f"CREATE OR REPLACE MACRO {s}.pg_type_is_visible(type_oid) AS true",
        f"CREATE OR REPLACE MACRO {s}.pg_function_is_visible(function_oid) AS true",
        f"""CREATE OR REPLACE MACRO {s}.format_type(type_oid, type_modifier) AS
            (SELECT display FROM {s}.pg_type_rows WHERE oid = type_oid)""",
        f"CREATE OR REPLACE MACRO {s}.pg_get_expr(expression, relation) AS CAST(NULL AS VARCHAR), "
        "(expression, relation, pretty) AS CAST(NULL AS VARCHAR)",
        f"CREATE OR REPLACE MACRO {s}.pg_get_indexdef(index_oid) AS CAST(NULL AS VARCHAR), "
        "(index_oid, column_number, pretty) AS CAST(NULL AS VARCHAR)",
        f"CREATE OR REPLACE MACRO {s}.pg_get_constraintdef(constraint_oid) AS CAST(NULL AS VARCHAR), "
        "(constraint_oid, pretty) AS CAST(NULL AS VARCHAR)",
        f"CREATE OR REPLACE MACRO {s}.pg_get_triggerdef(trigger_oid) AS CAST(NULL AS VARCHAR), "
        "(trigger_oid, pretty) AS CAST(NULL AS VARCHAR)",
        f"CREATE OR REPLACE MACRO {s}.pg_get_viewdef(view_oid) AS CAST(NULL AS VARCHAR), "
        "(view_oid, pretty) AS CAST(NULL AS VARCHAR)",
        f"CREATE OR REPLACE MACRO {s}.pg_get_function_result(function_oid) AS CAST(NULL AS VARCHAR)",
        f"CREATE OR REPLACE MACRO {s}.pg_get_function_arguments(function_oid) AS CAST(NULL AS VARCHAR)",
        f"CREATE OR REPLACE MACRO {s}.pg_get_serial_sequence(table_name, column_name) AS CAST(NULL AS VARCHAR)",
        f"CREATE OR REPLACE MACRO {s}.pg_get_partkeydef(table_oid) AS CAST(NULL AS VARCHAR)",
        f"CREATE OR REPLACE MACRO {s}.pg_get_statisticsobjdef_columns(statistics_oid) AS CAST(NULL AS VARCHAR)",
        f"CREATE OR REPLACE MACRO {s}.pg_relation_is_publishable(relation_oid) AS false",
        f"CREATE OR REPLACE MACRO {s}.pg_is_in_recovery() AS false",
        f"CREATE OR REPLACE MACRO {s}.obj_description(object_oid) AS CAST(NULL AS VARCHAR), "
        "(object_oid, catalog) AS CAST(NULL AS VARCHAR)",
        f"CREATE OR REPLACE MACRO {s}.col_description(table_oid, column_number) AS CAST(NULL AS VARCHAR)",
        f"CREATE OR REPLACE MACRO {s}.shobj_description(object_oid, catalog) AS CAST(NULL AS VARCHAR)",
        f"CREATE OR REPLACE MACRO {s}.array_upper(list, dimension) AS "
        "CASE WHEN dimension = 1 AND len(list) > 0 THEN len(list) END",
        f"CREATE OR REPLACE MACRO {s}.array_lower(list, dimension) AS "
        "CASE WHEN dimension = 1 AND len(list) > 0 THEN 1 END",
        f"CREATE OR REPLACE MACRO {s}.quote_ident(name) AS CASE WHEN regexp_full_match(name, '[a-z_][a-z0-9_$]*') "
        "THEN name ELSE '\"' || replace(name, '\"', '\"\"') || '\"' END",
        f"CREATE OR REPLACE MACRO {s}.regclass_name(relation_oid) AS "
        f"coalesce((SELECT relname FROM {s}.pg_class WHERE oid = relation_oid), CAST(relation_oid AS VARCHAR))",
        f"CREATE OR REPLACE MACRO {s}.regclass_oid(relation_name) AS "
        f"(SELECT oid FROM {s}.pg_class WHERE relname = relation_name "
        f"OR relname = split_part(relation_name, '.', 2) LIMIT 1)",
        f"CREATE OR REPLACE MACRO {s}.regtype_name(type_oid) AS "
        f"coalesce((SELECT display FROM {s}.pg_type_rows WHERE oid = type_oid), CAST(type_oid AS VARCHAR))",
        f"CREATE OR REPLACE MACRO {s}.regtype_oid(type_name) AS "
        f"(SELECT oid FROM {s}.pg_type_rows WHERE typname = lower(type_name) OR display = lower(type_name) LIMIT 1)",
        f"CREATE OR REPLACE MACRO {s}.to_regtype(type_name) AS {s}.regtype_oid(type_name)",
        f"CREATE OR REPLACE MACRO {s}.to_regclass(relation_name) AS {s}.regclass_oid(relation_name)",
        f"CREATE OR REPLACE MACRO {s}.set_config(name, value, is_local) AS value",
        f"CREATE OR REPLACE MACRO {s}.pg_advisory_unlock_all() AS CAST(NULL AS VARCHAR)",
        # PostgreSQL's version returns one (x, n) row per element. pgjdbc calls
        # it only on pg_index keys, and pg_index is empty here, so one struct
        # of the first element suffices for its queries to bind.
        f"CREATE OR REPLACE MACRO {s}._pg_expandarray(list) AS {{'x': list[1], 'n': 1}}",
        f"""CREATE OR REPLACE MACRO {s}.pg_get_keywords() AS TABLE
            SELECT keyword_name AS word,
                   CASE keyword_category WHEN 'reserved' THEN 'R' WHEN 'unreserved' THEN 'U'
                        WHEN 'type_function' THEN 'T' ELSE 'C' END AS catcode,
                   true AS barelabel, keyword_category AS catdesc, 'can be bare label' AS baredesc
            FROM duckdb_keywords()""",
        f"CREATE OR REPLACE MACRO {s}.pg_cancel_backend(process_id) AS false",
        f"CREATE OR REPLACE MACRO {s}.pg_terminate_backend(process_id) AS false",
        f"CREATE OR REPLACE MACRO {s}.pg_total_relation_size(relation_oid) AS CAST(0 AS UINTEGER)",
        f"CREATE OR REPLACE MACRO {s}.pg_relation_size(relation_oid) AS CAST(0 AS UINTEGER)",
        f"CREATE OR REPLACE MACRO {s}.pg_database_size(database) AS CAST(0 AS UINTEGER)",
    ]
