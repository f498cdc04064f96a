// The catalog queries about INVALID indexes (what a failed or cancelled
// CREATE INDEX CONCURRENTLY / REINDEX CONCURRENTLY leaves behind), used by
// the non-transactional runner, `migrate verify` and the migrations health
// check. An index whose build is running right now (in
// pg_stat_progress_create_index) is not INVALID yet: it is being built.
#pragma once

#include <string_view>

namespace stratum::invalid_index_sql {

// relation text (a table, or an index standing for its table): the INVALID
// indexes of that table, not being built right now: oid, relname, the
// qualified name to drop.
inline constexpr std::string_view on_table =
    "SELECT i.indexrelid::oid::bigint, c.relname::text, i.indexrelid::regclass::text "
    "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
    "WHERE NOT i.indisvalid AND i.indrelid = coalesce("
    "(SELECT x.indrelid FROM pg_index x WHERE x.indexrelid = to_regclass($1)), to_regclass($1)) "
    "AND i.indexrelid NOT IN (SELECT p.index_relid FROM pg_stat_progress_create_index p "
    "WHERE p.index_relid IS NOT NULL AND p.pid <> pg_backend_pid()) "
    "ORDER BY 1";

// Every INVALID index of the database, not being built right now: schema,
// index, table.
inline constexpr std::string_view all =
    "SELECT n.nspname::text, c.relname::text, i.indrelid::regclass::text "
    "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE NOT i.indisvalid "
    "AND i.indexrelid NOT IN (SELECT p.index_relid FROM pg_stat_progress_create_index p "
    "WHERE p.index_relid IS NOT NULL) "
    "ORDER BY 1, 2";

// The same, one line of text per index ("public.t_id on t", for health checks).
inline constexpr std::string_view all_lines =
    "SELECT i.indexrelid::regclass::text || ' on ' || i.indrelid::regclass::text "
    "FROM pg_index i WHERE NOT i.indisvalid "
    "AND i.indexrelid NOT IN (SELECT p.index_relid FROM pg_stat_progress_create_index p "
    "WHERE p.index_relid IS NOT NULL) "
    "ORDER BY 1";

}  // namespace stratum::invalid_index_sql
