"""SQLite's functions that PostgreSQL lacks, defined on the server so one statement runs on both.

Each definition reproduces what crmkit's statements rely on, not every corner of SQLite: times
are ISO-8601 text in UTC, JSON is stored as text. The planner inlines a ``LANGUAGE sql`` function
whose body is no more volatile than its declaration, so it costs about what the native expression
would: a function reading a time from text is therefore STABLE (the cast is), never IMMUTABLE,
which would turn it into a call per row (tests/core/test_engine_functions.py counts those calls).
The set is versioned: a server whose schema holds an older version gets the new definitions.
"""

from __future__ import annotations

VERSION = 9

# One statement per item; executed in order inside one transaction at first open.
DEFINITIONS: tuple[str, ...] = (
    # --- times: ISO-8601 text <-> numbers --------------------------------------------------------
    """CREATE OR REPLACE FUNCTION julianday(t text) RETURNS double precision
       LANGUAGE sql STABLE PARALLEL SAFE AS
       $$ SELECT extract(epoch FROM (t::timestamp AT TIME ZONE 'UTC')) / 86400.0 + 2440587.5 $$""",
    """CREATE OR REPLACE FUNCTION unixepoch(t text) RETURNS bigint
       LANGUAGE sql STABLE PARALLEL SAFE AS
       $$ SELECT floor(extract(epoch FROM (t::timestamp AT TIME ZONE 'UTC')))::bigint $$""",
    # strftime with the formats and modifiers crmkit writes: a format, a time (ISO text, or
    # seconds with the 'unixepoch' modifier) and optional '+N days' / 'start of ...' modifiers.
    """CREATE OR REPLACE FUNCTION crmkit_time_of(t text, modifiers text[]) RETURNS timestamp
       LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
       DECLARE
         result timestamp;
         m text;
       BEGIN
         IF t IS NULL THEN RETURN NULL; END IF;
         IF 'unixepoch' = ANY(modifiers) THEN
           result := to_timestamp(t::double precision) AT TIME ZONE 'UTC';
         ELSIF t = 'now' THEN
           result := now() AT TIME ZONE 'UTC';
         ELSE
           result := t::timestamp;
         END IF;
         FOREACH m IN ARRAY modifiers LOOP
           m := lower(trim(m));
           IF m = 'unixepoch' THEN CONTINUE;
           ELSIF m = 'start of day' THEN result := date_trunc('day', result);
           ELSIF m = 'start of month' THEN result := date_trunc('month', result);
           ELSIF m = 'start of year' THEN result := date_trunc('year', result);
           ELSIF m ~ '^[+-]?[0-9.]+ (day|days|hour|hours|minute|minutes|second|seconds|month|months|year|years)$' THEN
             result := result + m::interval;
           ELSE
             RAISE EXCEPTION 'strftime modifier % is not supported on PostgreSQL', m;
           END IF;
         END LOOP;
         RETURN result;
       END $$""",
    # The common cases, a stored time without modifiers, seconds since the epoch (the core's
    # "N days before :as_of") and a stored time moved by whole days (engine.sql.shift_days: a
    # points batch's expiry, a deadline), are plain expressions the planner inlines, its tests on
    # the constant modifier folded away; only 'now' and other modifiers take the PL/pgSQL
    # function above, called once per row (four times the cost over a million purchases).
    """CREATE OR REPLACE FUNCTION crmkit_time(t text, modifiers text[]) RETURNS timestamp
       LANGUAGE sql STABLE PARALLEL SAFE AS $$
       SELECT CASE WHEN t IS NULL THEN NULL
                   WHEN cardinality(modifiers) = 0 AND t <> 'now' THEN t::timestamp
                   WHEN modifiers = ARRAY['unixepoch'] THEN to_timestamp(t::double precision) AT TIME ZONE 'UTC'
                   WHEN cardinality(modifiers) = 1 AND modifiers[1] ~ '^[+-]?[0-9]{1,7} days?$' AND t <> 'now'
                        THEN t::timestamp + modifiers[1]::interval
                   ELSE crmkit_time_of(t, modifiers) END $$""",
    """CREATE OR REPLACE FUNCTION strftime(fmt text, t text, VARIADIC modifiers text[] DEFAULT '{}') RETURNS text
       LANGUAGE sql STABLE PARALLEL SAFE AS $$
       SELECT CASE fmt
         WHEN '%s' THEN floor(extract(epoch FROM (crmkit_time(t, modifiers) AT TIME ZONE 'UTC')))::bigint::text
         ELSE to_char(crmkit_time(t, modifiers),
              replace(replace(replace(replace(replace(replace(replace(replace(replace(fmt,
                '%Y', 'YYYY'), '%m', 'MM'), '%d', 'DD'), '%H', 'HH24'), '%M', 'MI'), '%S', 'SS'),
                '%j', 'DDD'), 'T', '"T"'), 'Z', '"Z"'))
       END $$""",
    """CREATE OR REPLACE FUNCTION strftime(fmt text, t double precision, VARIADIC modifiers text[] DEFAULT '{}') RETURNS text
       LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT strftime(fmt, t::text, VARIADIC modifiers) $$""",
    """CREATE OR REPLACE FUNCTION strftime(fmt text, t bigint, VARIADIC modifiers text[] DEFAULT '{}') RETURNS text
       LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT strftime(fmt, t::text, VARIADIC modifiers) $$""",
    """CREATE OR REPLACE FUNCTION date(t text, VARIADIC modifiers text[] DEFAULT '{}') RETURNS text
       LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT to_char(crmkit_time(t, modifiers), 'YYYY-MM-DD') $$""",
    """CREATE OR REPLACE FUNCTION datetime(t text, VARIADIC modifiers text[] DEFAULT '{}') RETURNS text
       LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT to_char(crmkit_time(t, modifiers), 'YYYY-MM-DD HH24:MI:SS') $$""",
    # Wall-clock time and UTC offset of a storage time in a named zone (the CRM's home zone).
    """CREATE OR REPLACE FUNCTION crmkit_local_time(t text, zone text) RETURNS text
       LANGUAGE sql STABLE PARALLEL SAFE AS
       $$ SELECT to_char((CAST(t AS timestamp) AT TIME ZONE 'UTC') AT TIME ZONE zone, 'YYYY-MM-DD"T"HH24:MI:SS') $$""",
    """CREATE OR REPLACE FUNCTION crmkit_utc_offset(t text, zone text) RETURNS bigint
       LANGUAGE sql STABLE PARALLEL SAFE AS
       $$ SELECT CAST(extract(epoch FROM ((CAST(t AS timestamp) AT TIME ZONE 'UTC') AT TIME ZONE zone) - CAST(t AS timestamp)) AS bigint) $$""",
    # --- JSON stored as text -------------------------------------------------------------------
    """CREATE OR REPLACE FUNCTION json_extract(doc text, path text) RETURNS text
       LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
       SELECT CASE WHEN path = '$' THEN doc
                   ELSE doc::jsonb #>> string_to_array(
                        regexp_replace(regexp_replace(substr(path, 3), '\\[([0-9]+)\\]', '.\\1', 'g'), '^\\.', ''), '.')
              END $$""",
    """CREATE OR REPLACE FUNCTION json_type(doc text, path text DEFAULT '$') RETURNS text
       LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
       SELECT CASE jsonb_typeof(CASE WHEN path = '$' THEN doc::jsonb ELSE doc::jsonb #> string_to_array(substr(path, 3), '.') END)
                WHEN 'object' THEN 'object' WHEN 'array' THEN 'array' WHEN 'string' THEN 'text'
                WHEN 'boolean' THEN (CASE WHEN (CASE WHEN path = '$' THEN doc::jsonb ELSE doc::jsonb #> string_to_array(substr(path, 3), '.') END)::text = 'true' THEN 'true' ELSE 'false' END)
                WHEN 'null' THEN 'null'
                WHEN 'number' THEN (CASE WHEN (CASE WHEN path = '$' THEN doc::jsonb ELSE doc::jsonb #> string_to_array(substr(path, 3), '.') END)::text ~ '^-?[0-9]+$' THEN 'integer' ELSE 'real' END)
              END $$""",
    # SQLite's doc -> path: the value's JSON text as the document spells it (json, not jsonb,
    # which would respell numbers: 1e+20 as 100000000000000000000).
    """CREATE OR REPLACE FUNCTION crmkit_json_arrow(doc text, path text) RETURNS text
       LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
       SELECT CASE WHEN path = '$' THEN doc
                   ELSE (doc::json #> string_to_array(
                        regexp_replace(regexp_replace(substr(path, 3), '\\[([0-9]+)\\]', '.\\1', 'g'), '^\\.', ''), '.'))::text
              END $$""",
    """DROP OPERATOR IF EXISTS -> (text, text)""",
    """CREATE OPERATOR -> (LEFTARG = text, RIGHTARG = text, FUNCTION = crmkit_json_arrow)""",
    """CREATE OR REPLACE FUNCTION json_array_length(doc text) RETURNS bigint
       LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT jsonb_array_length(doc::jsonb)::bigint $$""",
    """CREATE OR REPLACE FUNCTION json_valid(doc text) RETURNS integer
       LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
       BEGIN PERFORM doc::jsonb; RETURN 1; EXCEPTION WHEN others THEN RETURN 0; END $$""",
    # json(x) is a JSON value, as in SQLite: inside json_object / json_array it nests as an
    # array or object, not as a string; stored in a text column it is its minified text.
    """DROP FUNCTION IF EXISTS json(text)""",
    """CREATE FUNCTION json(doc text) RETURNS jsonb
       LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT doc::jsonb $$""",
    # json_each over an array or object held as text: key, value (as text, as SQLite's value
    # column reads in a text context) and SQLite's type name.
    """CREATE OR REPLACE FUNCTION json_each(doc text)
       RETURNS TABLE(key text, value text, type text)
       LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
       SELECT (e.ordinality - 1)::text, e.item #>> '{}',
              CASE jsonb_typeof(e.item) WHEN 'string' THEN 'text' WHEN 'boolean' THEN e.item::text
                   WHEN 'number' THEN CASE WHEN e.item::text ~ '^-?[0-9]+$' THEN 'integer' ELSE 'real' END
                   ELSE jsonb_typeof(e.item) END
       FROM jsonb_array_elements(CASE WHEN jsonb_typeof(doc::jsonb) = 'array' THEN doc::jsonb ELSE '[]'::jsonb END)
            WITH ORDINALITY AS e(item, ordinality)
       UNION ALL
       SELECT o.key, o.value #>> '{}',
              CASE jsonb_typeof(o.value) WHEN 'string' THEN 'text' WHEN 'boolean' THEN o.value::text
                   WHEN 'number' THEN CASE WHEN o.value::text ~ '^-?[0-9]+$' THEN 'integer' ELSE 'real' END
                   ELSE jsonb_typeof(o.value) END
       FROM jsonb_each(CASE WHEN jsonb_typeof(doc::jsonb) = 'object' THEN doc::jsonb ELSE '{}'::jsonb END) AS o $$""",
    """CREATE OR REPLACE FUNCTION crmkit_json_array_final(items jsonb) RETURNS text
       LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT coalesce(items, '[]'::jsonb)::text $$""",
    """CREATE OR REPLACE FUNCTION crmkit_json_array_add(items jsonb, item anyelement) RETURNS jsonb
       LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT items || jsonb_build_array(item) $$""",
    """DROP AGGREGATE IF EXISTS json_group_array(anyelement)""",
    """CREATE AGGREGATE json_group_array(anyelement) (
       SFUNC = crmkit_json_array_add, STYPE = jsonb, INITCOND = '[]', FINALFUNC = crmkit_json_array_final)""",
    """CREATE OR REPLACE FUNCTION crmkit_json_object_add(items jsonb, k text, v anyelement) RETURNS jsonb
       LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT items || jsonb_build_object(k, v) $$""",
    """DROP AGGREGATE IF EXISTS json_group_object(text, anyelement)""",
    """CREATE AGGREGATE json_group_object(text, anyelement) (
       SFUNC = crmkit_json_object_add, STYPE = jsonb, INITCOND = '{}', FINALFUNC = crmkit_json_array_final)""",
    # --- scalars SQLite has ------------------------------------------------------------------
    # CAST(x AS INTEGER) is written crmkit_integer(x) on PostgreSQL (see translate): SQLite's
    # cast truncates toward zero, PostgreSQL's rounds.
    """CREATE OR REPLACE FUNCTION crmkit_integer(x double precision) RETURNS bigint
       LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT trunc(x)::bigint $$""",
    """CREATE OR REPLACE FUNCTION crmkit_integer(x numeric) RETURNS bigint
       LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT trunc(x)::bigint $$""",
    """CREATE OR REPLACE FUNCTION crmkit_integer(x bigint) RETURNS bigint
       LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT x $$""",
    """CREATE OR REPLACE FUNCTION crmkit_integer(x integer) RETURNS bigint
       LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT x::bigint $$""",
    """CREATE OR REPLACE FUNCTION crmkit_integer(x text) RETURNS bigint
       LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT trunc(x::numeric)::bigint $$""",
    """CREATE OR REPLACE FUNCTION crmkit_integer(x boolean) RETURNS bigint
       LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT CASE WHEN x THEN 1 WHEN NOT x THEN 0 END::bigint $$""",
    """CREATE OR REPLACE FUNCTION max(a anycompatible, b anycompatible) RETURNS anycompatible
       LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT CASE WHEN a IS NULL OR b IS NULL THEN NULL ELSE GREATEST(a, b) END $$""",
    """CREATE OR REPLACE FUNCTION min(a anycompatible, b anycompatible) RETURNS anycompatible
       LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT CASE WHEN a IS NULL OR b IS NULL THEN NULL ELSE LEAST(a, b) END $$""",
    """CREATE OR REPLACE FUNCTION max(a anycompatible, b anycompatible, c anycompatible) RETURNS anycompatible
       LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT CASE WHEN a IS NULL OR b IS NULL OR c IS NULL THEN NULL ELSE GREATEST(a, b, c) END $$""",
    """CREATE OR REPLACE FUNCTION min(a anycompatible, b anycompatible, c anycompatible) RETURNS anycompatible
       LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT CASE WHEN a IS NULL OR b IS NULL OR c IS NULL THEN NULL ELSE LEAST(a, b, c) END $$""",
    """CREATE OR REPLACE FUNCTION ifnull(a anycompatible, b anycompatible) RETURNS anycompatible
       LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT coalesce(a, b) $$""",
    """CREATE OR REPLACE FUNCTION iif(c boolean, a anycompatible, b anycompatible) RETURNS anycompatible
       LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT CASE WHEN c THEN a ELSE b END $$""",
    """CREATE OR REPLACE FUNCTION instr(haystack text, needle text) RETURNS bigint
       LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT strpos(haystack, needle)::bigint $$""",
    """CREATE OR REPLACE FUNCTION round(x double precision, digits integer) RETURNS double precision
       LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT round(x::numeric, digits)::double precision $$""",
    """CREATE OR REPLACE FUNCTION round(x double precision, digits bigint) RETURNS double precision
       LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT round(x::numeric, digits::integer)::double precision $$""",
    """CREATE OR REPLACE FUNCTION printf(fmt text, VARIADIC args text[]) RETURNS text
       LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT format(replace(replace(fmt, '%d', '%s'), '%f', '%s'), VARIADIC args) $$""",
    # SQLite's unary + (an index hint) needs nothing here: translate.py drops it before sending.
    """CREATE OR REPLACE FUNCTION crmkit_sum_bool(acc bigint, item boolean) RETURNS bigint
       LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
       SELECT CASE WHEN item IS NULL THEN acc ELSE coalesce(acc, 0) + CASE WHEN item THEN 1 ELSE 0 END END $$""",
    """DROP AGGREGATE IF EXISTS sum(boolean)""",
    """CREATE AGGREGATE sum(boolean) (SFUNC = crmkit_sum_bool, STYPE = bigint)""",
    """CREATE OR REPLACE FUNCTION crmkit_group_concat_add(acc text, item anyelement, sep text) RETURNS text
       LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
       SELECT CASE WHEN item IS NULL THEN acc WHEN acc IS NULL THEN item::text ELSE acc || sep || item::text END $$""",
    """CREATE OR REPLACE FUNCTION crmkit_group_concat_add(acc text, item anyelement) RETURNS text
       LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT crmkit_group_concat_add(acc, item, ',') $$""",
    """DROP AGGREGATE IF EXISTS group_concat(anyelement)""",
    """CREATE AGGREGATE group_concat(anyelement) (SFUNC = crmkit_group_concat_add, STYPE = text)""",
    """DROP AGGREGATE IF EXISTS group_concat(anyelement, text)""",
    """CREATE AGGREGATE group_concat(anyelement, text) (SFUNC = crmkit_group_concat_add, STYPE = text)""",
)
