-- 0002 · Orleans ADO.NET clustering (membership) on SQLite
--
-- The embedded profile uses localhost clustering (one silo, one file), so these tables normally stay empty.
-- They exist so that the query contract is complete and a single-host, multi-process setup can use ADO.NET
-- clustering on a shared file. SQLite has no stored procedures, so a membership change is two plain
-- statements on the caller's connection: insert/update the silo row only while the table version is still
-- @Version, then move the version only if that statement changed a row (changes()). SQLite takes the write
-- lock per statement, so on a single host this is a narrow window, not a gap; for a real cluster use the
-- PostgreSQL profile. Timestamps are stored as the ISO-8601 text Microsoft.Data.Sqlite writes, which sorts
-- and compares correctly as text.

CREATE TABLE IF NOT EXISTS OrleansMembershipVersionTable
(
    DeploymentId TEXT    NOT NULL PRIMARY KEY,
    Timestamp    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    Version      INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS OrleansMembershipTable
(
    DeploymentId TEXT    NOT NULL REFERENCES OrleansMembershipVersionTable (DeploymentId),
    Address      TEXT    NOT NULL,
    Port         INTEGER NOT NULL,
    Generation   INTEGER NOT NULL,
    SiloName     TEXT    NOT NULL,
    HostName     TEXT    NOT NULL,
    Status       INTEGER NOT NULL,
    ProxyPort    INTEGER NULL,
    SuspectTimes TEXT    NULL,
    StartTime    TEXT    NOT NULL,
    IAmAliveTime TEXT    NOT NULL,
    PRIMARY KEY (DeploymentId, Address, Port, Generation)
);

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES
('InsertMembershipVersionKey', '
    INSERT INTO OrleansMembershipVersionTable (DeploymentId) VALUES (@DeploymentId)
    ON CONFLICT (DeploymentId) DO NOTHING;
    SELECT changes();
'),
('InsertMembershipKey', '
    INSERT INTO OrleansMembershipTable
        (DeploymentId, Address, Port, Generation, SiloName, HostName, Status, ProxyPort, StartTime, IAmAliveTime)
    SELECT @DeploymentId, @Address, @Port, @Generation, @SiloName, @HostName, @Status, @ProxyPort, @StartTime, @IAmAliveTime
    WHERE EXISTS (SELECT 1 FROM OrleansMembershipVersionTable WHERE DeploymentId = @DeploymentId AND Version = @Version)
    ON CONFLICT DO NOTHING;
    UPDATE OrleansMembershipVersionTable
    SET Version = Version + 1, Timestamp = strftime(''%Y-%m-%d %H:%M:%f'', ''now'')
    WHERE DeploymentId = @DeploymentId AND Version = @Version AND changes() = 1;
    SELECT changes();
'),
('UpdateMembershipKey', '
    UPDATE OrleansMembershipTable
    SET Status = @Status, SuspectTimes = @SuspectTimes, IAmAliveTime = @IAmAliveTime
    WHERE DeploymentId = @DeploymentId AND Address = @Address AND Port = @Port AND Generation = @Generation
      AND EXISTS (SELECT 1 FROM OrleansMembershipVersionTable WHERE DeploymentId = @DeploymentId AND Version = @Version);
    UPDATE OrleansMembershipVersionTable
    SET Version = Version + 1, Timestamp = strftime(''%Y-%m-%d %H:%M:%f'', ''now'')
    WHERE DeploymentId = @DeploymentId AND Version = @Version AND changes() = 1;
    SELECT changes();
'),
('UpdateIAmAlivetimeKey', '
    UPDATE OrleansMembershipTable SET IAmAliveTime = @IAmAliveTime
    WHERE DeploymentId = @DeploymentId AND Address = @Address AND Port = @Port AND Generation = @Generation;
'),
('MembershipReadRowKey', '
    SELECT v.DeploymentId, m.Address, m.Port, m.Generation, m.SiloName, m.HostName, m.Status, m.ProxyPort,
           m.SuspectTimes, m.StartTime, m.IAmAliveTime, v.Version
    FROM OrleansMembershipVersionTable v
    LEFT JOIN OrleansMembershipTable m
           ON m.DeploymentId = v.DeploymentId AND m.Address = @Address AND m.Port = @Port AND m.Generation = @Generation
    WHERE v.DeploymentId = @DeploymentId;
'),
('MembershipReadAllKey', '
    SELECT v.DeploymentId, m.Address, m.Port, m.Generation, m.SiloName, m.HostName, m.Status, m.ProxyPort,
           m.SuspectTimes, m.StartTime, m.IAmAliveTime, v.Version
    FROM OrleansMembershipVersionTable v
    LEFT JOIN OrleansMembershipTable m ON m.DeploymentId = v.DeploymentId
    WHERE v.DeploymentId = @DeploymentId;
'),
('DeleteMembershipTableEntriesKey', '
    DELETE FROM OrleansMembershipTable WHERE DeploymentId = @DeploymentId;
    DELETE FROM OrleansMembershipVersionTable WHERE DeploymentId = @DeploymentId;
'),
('GatewaysQueryKey', '
    SELECT Address, ProxyPort, Generation FROM OrleansMembershipTable
    WHERE DeploymentId = @DeploymentId AND Status = @Status AND ProxyPort > 0;
'),
('CleanupDefunctSiloEntriesKey', '
    DELETE FROM OrleansMembershipTable
    WHERE DeploymentId = @DeploymentId AND IAmAliveTime < @IAmAliveTime AND Status <> 3;
'),
('CleanupDefunctSiloEntryKey', '
    DELETE FROM OrleansMembershipTable
    WHERE DeploymentId = @DeploymentId AND Address = @Address AND Port = @Port AND Generation = @Generation
      AND Status = 6 AND IAmAliveTime <= @IAmAliveTime;
')
ON CONFLICT (QueryKey) DO UPDATE SET QueryText = excluded.QueryText;
