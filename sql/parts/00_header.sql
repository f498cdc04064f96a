-- stratum install script: assembled by the Makefile from sql/parts/*.sql in
-- name order into sql/stratum--<version>.sql. Edit the parts, not the output.

\echo Use "CREATE EXTENSION stratum" to load this file. \quit
