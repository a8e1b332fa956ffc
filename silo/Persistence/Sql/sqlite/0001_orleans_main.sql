-- 0001 · Orleans query registry (SQLite)
--
-- Orleans' ADO.NET providers read their statements from this table at start-up
-- (SELECT QueryKey, QueryText FROM OrleansQuery) and look them up by key. Later migrations fill it.
-- Orleans reaches SQLite through the invariant "System.Data.SQLite", which it maps to Microsoft.Data.Sqlite.

CREATE TABLE IF NOT EXISTS OrleansQuery
(
    QueryKey  TEXT NOT NULL PRIMARY KEY,
    QueryText TEXT NOT NULL
);
