-- 0001 · Orleans query registry (PostgreSQL)
--
-- Orleans' ADO.NET providers do not embed SQL. At start-up each provider runs
--   SELECT QueryKey, QueryText FROM OrleansQuery
-- and looks its statements up by key (clustering, grain storage and reminders each need their own set).
-- Later migrations fill this table; a key can be re-pointed at new SQL by a later migration, which is how
-- we change a query without touching the providers.
--
-- Unquoted identifiers fold to lower case in PostgreSQL; the providers read columns by name through
-- case-insensitive lookups, so OrleansQuery / orleansquery are the same table to them.

CREATE TABLE IF NOT EXISTS OrleansQuery
(
    QueryKey  varchar(64) NOT NULL,
    QueryText text        NOT NULL,
    CONSTRAINT pk_orleansquery PRIMARY KEY (QueryKey)
);
