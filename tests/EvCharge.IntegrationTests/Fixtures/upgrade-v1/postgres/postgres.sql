--
-- PostgreSQL database dump
--

\restrict h0Sf7Uh1A2s6CueVniEPS6RUfUnILKwHtbB0gkuGc3sX4fA8PzRed6MMsOKgqH3

-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)
-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: ledger_refuse_change(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ledger_refuse_change() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME;
END
$$;


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: ledger_journals; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.ledger_journals (
    journal_key text NOT NULL,
    session_id text NOT NULL,
    kind text NOT NULL,
    reference text,
    posted_at timestamp with time zone NOT NULL
);


--
-- Name: ledger_lines; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.ledger_lines (
    journal_key text NOT NULL,
    line_no integer NOT NULL,
    session_id text NOT NULL,
    account text NOT NULL,
    amount bigint NOT NULL,
    posted_at timestamp with time zone NOT NULL,
    CONSTRAINT ledger_lines_account_check CHECK ((account <> ''::text))
);


--
-- Name: orleansmembershiptable; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.orleansmembershiptable (
    deploymentid character varying(150) NOT NULL,
    address character varying(45) NOT NULL,
    port integer NOT NULL,
    generation integer NOT NULL,
    siloname character varying(150) NOT NULL,
    hostname character varying(150) NOT NULL,
    status integer NOT NULL,
    proxyport integer,
    suspecttimes character varying(8000),
    starttime timestamp(3) with time zone NOT NULL,
    iamalivetime timestamp(3) with time zone NOT NULL
);


--
-- Name: orleansmembershipversiontable; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.orleansmembershipversiontable (
    deploymentid character varying(150) NOT NULL,
    "timestamp" timestamp(3) with time zone DEFAULT now() NOT NULL,
    version integer DEFAULT 0 NOT NULL
);


--
-- Name: orleansquery; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.orleansquery (
    querykey character varying(64) NOT NULL,
    querytext text NOT NULL
);


--
-- Name: orleansreminderstable; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.orleansreminderstable (
    serviceid character varying(150) NOT NULL,
    grainid character varying(767) NOT NULL,
    remindername character varying(150) NOT NULL,
    starttime timestamp(3) with time zone NOT NULL,
    period bigint NOT NULL,
    grainhash integer NOT NULL,
    version integer NOT NULL
);


--
-- Name: orleansstorage; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.orleansstorage (
    grainidhash integer NOT NULL,
    grainidn0 bigint NOT NULL,
    grainidn1 bigint NOT NULL,
    graintypehash integer NOT NULL,
    graintypestring character varying(512) NOT NULL,
    grainidextensionstring character varying(512),
    serviceid character varying(150) NOT NULL,
    payloadbinary bytea,
    modifiedon timestamp with time zone DEFAULT now() NOT NULL,
    version integer
);


--
-- Name: schema_migrations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.schema_migrations (
    version integer NOT NULL,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: session_index; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.session_index (
    session_id text NOT NULL,
    state text NOT NULL,
    charger_id text,
    connector_id integer NOT NULL,
    cpo_id text,
    wallet_key text,
    hold_amount bigint NOT NULL,
    energy_wh bigint NOT NULL,
    fee bigint,
    captured bigint NOT NULL,
    refunded bigint NOT NULL,
    debt bigint NOT NULL,
    seamless boolean NOT NULL,
    fee_mismatch boolean NOT NULL,
    reason text,
    created_at timestamp with time zone NOT NULL,
    started_at timestamp with time zone,
    stopped_at timestamp with time zone,
    updated_at timestamp with time zone NOT NULL
);


--
-- Data for Name: ledger_journals; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.ledger_journals (journal_key, session_id, kind, reference, posted_at) FROM stdin;
EV1C56B251C2E1C9B721:hold	EV1C56B251C2E1C9B721	Hold	az_sz15d3id6cwnphdh	2026-11-29 00:23:04.868095+00
EV1C56B251C2E1C9B721:capture	EV1C56B251C2E1C9B721	Capture	pay_26qj64b3se5q991e	2026-11-29 00:23:05.028688+00
EV1C56B251C2E1C9B721:release	EV1C56B251C2E1C9B721	Release	\N	2026-11-29 00:23:05.030815+00
EV1C56B251C2E1C9B721:remit:cpo-upgrade-settlement	EV1C56B251C2E1C9B721	Remit	pay_26qj64b3se5q991e	2026-11-29 00:23:05.031335+00
EV1C56B251C2E1C9B721:remit:platform-operator	EV1C56B251C2E1C9B721	Remit	pay_26qj64b3se5q991e	2026-11-29 00:23:05.031677+00
EVAF9CABE5480D0B609D:hold	EVAF9CABE5480D0B609D	Hold	az_0144itzzepbsartp	2026-11-29 00:23:05.339521+00
EVFE716C33258B5E4198:hold	EVFE716C33258B5E4198	Hold	az_sqni77r1djqe36of	2026-11-29 00:23:05.360234+00
\.


--
-- Data for Name: ledger_lines; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.ledger_lines (journal_key, line_no, session_id, account, amount, posted_at) FROM stdin;
EV1C56B251C2E1C9B721:hold	1	EV1C56B251C2E1C9B721	hold:EV1C56B251C2E1C9B721	30000	2026-11-29 00:23:04.868095+00
EV1C56B251C2E1C9B721:hold	2	EV1C56B251C2E1C9B721	wallet:kakaopay:w_2af74b5c12b53fa3	-30000	2026-11-29 00:23:04.868095+00
EV1C56B251C2E1C9B721:capture	1	EV1C56B251C2E1C9B721	clearing:EV1C56B251C2E1C9B721	3704	2026-11-29 00:23:05.028688+00
EV1C56B251C2E1C9B721:capture	2	EV1C56B251C2E1C9B721	hold:EV1C56B251C2E1C9B721	-3704	2026-11-29 00:23:05.028688+00
EV1C56B251C2E1C9B721:release	1	EV1C56B251C2E1C9B721	wallet:kakaopay:w_2af74b5c12b53fa3	26296	2026-11-29 00:23:05.030815+00
EV1C56B251C2E1C9B721:release	2	EV1C56B251C2E1C9B721	hold:EV1C56B251C2E1C9B721	-26296	2026-11-29 00:23:05.030815+00
EV1C56B251C2E1C9B721:remit:cpo-upgrade-settlement	1	EV1C56B251C2E1C9B721	payee:cpo-upgrade-settlement	3334	2026-11-29 00:23:05.031335+00
EV1C56B251C2E1C9B721:remit:cpo-upgrade-settlement	2	EV1C56B251C2E1C9B721	clearing:EV1C56B251C2E1C9B721	-3334	2026-11-29 00:23:05.031335+00
EV1C56B251C2E1C9B721:remit:platform-operator	1	EV1C56B251C2E1C9B721	payee:platform-operator	370	2026-11-29 00:23:05.031677+00
EV1C56B251C2E1C9B721:remit:platform-operator	2	EV1C56B251C2E1C9B721	clearing:EV1C56B251C2E1C9B721	-370	2026-11-29 00:23:05.031677+00
EVAF9CABE5480D0B609D:hold	1	EVAF9CABE5480D0B609D	hold:EVAF9CABE5480D0B609D	30000	2026-11-29 00:23:05.339521+00
EVAF9CABE5480D0B609D:hold	2	EVAF9CABE5480D0B609D	wallet:kakaopay:w_35d8051aa94fdff4	-30000	2026-11-29 00:23:05.339521+00
EVFE716C33258B5E4198:hold	1	EVFE716C33258B5E4198	hold:EVFE716C33258B5E4198	30000	2026-11-29 00:23:05.360234+00
EVFE716C33258B5E4198:hold	2	EVFE716C33258B5E4198	wallet:kakaopay:w_e0f0d620746bd747	-30000	2026-11-29 00:23:05.360234+00
\.


--
-- Data for Name: orleansmembershiptable; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.orleansmembershiptable (deploymentid, address, port, generation, siloname, hostname, status, proxyport, suspecttimes, starttime, iamalivetime) FROM stdin;
evcharge	127.0.0.1	42295	154916582	Silo_3ef05	vm	3	38859	\N	2026-11-29 00:23:02.795+00	2026-11-29 00:23:03.641+00
\.


--
-- Data for Name: orleansmembershipversiontable; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.orleansmembershipversiontable (deploymentid, "timestamp", version) FROM stdin;
evcharge	2026-11-29 00:23:03.645+00	2
\.


--
-- Data for Name: orleansquery; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.orleansquery (querykey, querytext) FROM stdin;
InsertMembershipVersionKey	\n    WITH created AS (\n        INSERT INTO OrleansMembershipVersionTable (DeploymentId) VALUES (@DeploymentId)\n        ON CONFLICT (DeploymentId) DO NOTHING\n        RETURNING 1\n    )\n    SELECT COUNT(*)::int FROM created;\n
InsertMembershipKey	\n    WITH bumped AS (\n        UPDATE OrleansMembershipVersionTable\n        SET Version = Version + 1, Timestamp = now()\n        WHERE DeploymentId = @DeploymentId AND Version = @Version\n          AND NOT EXISTS (SELECT 1 FROM OrleansMembershipTable m\n                          WHERE m.DeploymentId = @DeploymentId AND m.Address = @Address\n                            AND m.Port = @Port AND m.Generation = @Generation)\n        RETURNING DeploymentId\n    ),\n    added AS (\n        INSERT INTO OrleansMembershipTable\n            (DeploymentId, Address, Port, Generation, SiloName, HostName, Status, ProxyPort, StartTime, IAmAliveTime)\n        SELECT DeploymentId, @Address, @Port, @Generation, @SiloName, @HostName, @Status, @ProxyPort, @StartTime, @IAmAliveTime\n        FROM bumped\n        ON CONFLICT DO NOTHING\n        RETURNING 1\n    )\n    SELECT COUNT(*)::int FROM added;\n
UpdateMembershipKey	\n    WITH bumped AS (\n        UPDATE OrleansMembershipVersionTable\n        SET Version = Version + 1, Timestamp = now()\n        WHERE DeploymentId = @DeploymentId AND Version = @Version\n          AND EXISTS (SELECT 1 FROM OrleansMembershipTable m\n                      WHERE m.DeploymentId = @DeploymentId AND m.Address = @Address\n                        AND m.Port = @Port AND m.Generation = @Generation)\n        RETURNING DeploymentId\n    ),\n    changed AS (\n        UPDATE OrleansMembershipTable m\n        SET Status = @Status, SuspectTimes = @SuspectTimes, IAmAliveTime = @IAmAliveTime\n        FROM bumped\n        WHERE m.DeploymentId = bumped.DeploymentId AND m.Address = @Address\n          AND m.Port = @Port AND m.Generation = @Generation\n        RETURNING 1\n    )\n    SELECT COUNT(*)::int FROM changed;\n
UpdateIAmAlivetimeKey	\n    UPDATE OrleansMembershipTable\n    SET IAmAliveTime = @IAmAliveTime\n    WHERE DeploymentId = @DeploymentId AND Address = @Address AND Port = @Port AND Generation = @Generation;\n
MembershipReadRowKey	\n    SELECT v.DeploymentId, m.Address, m.Port, m.Generation, m.SiloName, m.HostName, m.Status, m.ProxyPort,\n           m.SuspectTimes, m.StartTime, m.IAmAliveTime, v.Version\n    FROM OrleansMembershipVersionTable v\n    LEFT JOIN OrleansMembershipTable m\n           ON m.DeploymentId = v.DeploymentId AND m.Address = @Address AND m.Port = @Port AND m.Generation = @Generation\n    WHERE v.DeploymentId = @DeploymentId;\n
MembershipReadAllKey	\n    SELECT v.DeploymentId, m.Address, m.Port, m.Generation, m.SiloName, m.HostName, m.Status, m.ProxyPort,\n           m.SuspectTimes, m.StartTime, m.IAmAliveTime, v.Version\n    FROM OrleansMembershipVersionTable v\n    LEFT JOIN OrleansMembershipTable m ON m.DeploymentId = v.DeploymentId\n    WHERE v.DeploymentId = @DeploymentId;\n
DeleteMembershipTableEntriesKey	\n    DELETE FROM OrleansMembershipTable WHERE DeploymentId = @DeploymentId;\n    DELETE FROM OrleansMembershipVersionTable WHERE DeploymentId = @DeploymentId;\n
GatewaysQueryKey	\n    SELECT Address, ProxyPort, Generation\n    FROM OrleansMembershipTable\n    WHERE DeploymentId = @DeploymentId AND Status = @Status AND ProxyPort > 0;\n
CleanupDefunctSiloEntriesKey	\n    DELETE FROM OrleansMembershipTable\n    WHERE DeploymentId = @DeploymentId AND IAmAliveTime < @IAmAliveTime AND Status <> 3;\n
CleanupDefunctSiloEntryKey	\n    DELETE FROM OrleansMembershipTable\n    WHERE DeploymentId = @DeploymentId AND Address = @Address AND Port = @Port AND Generation = @Generation\n      AND Status = 6 AND IAmAliveTime <= @IAmAliveTime;\n
ReadFromStorageKey	\n    SELECT PayloadBinary, Version\n    FROM OrleansStorage\n    WHERE GrainIdHash = @GrainIdHash AND GrainTypeHash = @GrainTypeHash AND ServiceId = @ServiceId\n      AND GrainIdN0 = @GrainIdN0 AND GrainIdN1 = @GrainIdN1 AND GrainTypeString = @GrainTypeString\n      AND GrainIdExtensionString IS NOT DISTINCT FROM @GrainIdExtensionString;\n
WriteToStorageKey	\n    WITH updated AS (\n        UPDATE OrleansStorage\n        SET PayloadBinary = @PayloadBinary, ModifiedOn = now(), Version = Version + 1\n        WHERE @GrainStateVersion IS NOT NULL AND Version = @GrainStateVersion\n          AND GrainIdHash = @GrainIdHash AND GrainTypeHash = @GrainTypeHash AND ServiceId = @ServiceId\n          AND GrainIdN0 = @GrainIdN0 AND GrainIdN1 = @GrainIdN1 AND GrainTypeString = @GrainTypeString\n          AND GrainIdExtensionString IS NOT DISTINCT FROM @GrainIdExtensionString\n        RETURNING Version\n    ),\n    inserted AS (\n        INSERT INTO OrleansStorage\n            (GrainIdHash, GrainIdN0, GrainIdN1, GrainTypeHash, GrainTypeString, GrainIdExtensionString, ServiceId, PayloadBinary, ModifiedOn, Version)\n        SELECT @GrainIdHash, @GrainIdN0, @GrainIdN1, @GrainTypeHash, @GrainTypeString, @GrainIdExtensionString, @ServiceId, @PayloadBinary, now(), 1\n        WHERE @GrainStateVersion IS NULL\n        ON CONFLICT DO NOTHING\n        RETURNING Version\n    )\n    SELECT Version AS NewGrainStateVersion FROM updated\n    UNION ALL\n    SELECT Version FROM inserted;\n
ClearStorageKey	\n    UPDATE OrleansStorage\n    SET PayloadBinary = NULL, ModifiedOn = now(), Version = Version + 1\n    WHERE Version = @GrainStateVersion\n      AND GrainIdHash = @GrainIdHash AND GrainTypeHash = @GrainTypeHash AND ServiceId = @ServiceId\n      AND GrainIdN0 = @GrainIdN0 AND GrainIdN1 = @GrainIdN1 AND GrainTypeString = @GrainTypeString\n      AND GrainIdExtensionString IS NOT DISTINCT FROM @GrainIdExtensionString\n    RETURNING Version AS NewGrainStateVersion;\n
DeleteStorageKey	\n    DELETE FROM OrleansStorage\n    WHERE Version = @GrainStateVersion\n      AND GrainIdHash = @GrainIdHash AND GrainTypeHash = @GrainTypeHash AND ServiceId = @ServiceId\n      AND GrainIdN0 = @GrainIdN0 AND GrainIdN1 = @GrainIdN1 AND GrainTypeString = @GrainTypeString\n      AND GrainIdExtensionString IS NOT DISTINCT FROM @GrainIdExtensionString\n    RETURNING Version + 1 AS NewGrainStateVersion;\n
UpsertReminderRowKey	\n    INSERT INTO OrleansRemindersTable (ServiceId, GrainId, ReminderName, StartTime, Period, GrainHash, Version)\n    VALUES (@ServiceId, @GrainId, @ReminderName, @StartTime, @Period, @GrainHash, 0)\n    ON CONFLICT (ServiceId, GrainId, ReminderName) DO UPDATE\n        SET StartTime = excluded.StartTime, Period = excluded.Period, GrainHash = excluded.GrainHash,\n            Version = OrleansRemindersTable.Version + 1\n    RETURNING Version;\n
ReadReminderRowsKey	\n    SELECT GrainId, ReminderName, StartTime, Period, Version\n    FROM OrleansRemindersTable\n    WHERE ServiceId = @ServiceId AND GrainId = @GrainId;\n
ReadReminderRowKey	\n    SELECT GrainId, ReminderName, StartTime, Period, Version\n    FROM OrleansRemindersTable\n    WHERE ServiceId = @ServiceId AND GrainId = @GrainId AND ReminderName = @ReminderName;\n
ReadRangeRows1Key	\n    SELECT GrainId, ReminderName, StartTime, Period, Version\n    FROM OrleansRemindersTable\n    WHERE ServiceId = @ServiceId AND GrainHash > @BeginHash AND GrainHash <= @EndHash;\n
ReadRangeRows2Key	\n    SELECT GrainId, ReminderName, StartTime, Period, Version\n    FROM OrleansRemindersTable\n    WHERE ServiceId = @ServiceId AND (GrainHash > @BeginHash OR GrainHash <= @EndHash);\n
DeleteReminderRowKey	\n    WITH removed AS (\n        DELETE FROM OrleansRemindersTable\n        WHERE ServiceId = @ServiceId AND GrainId = @GrainId AND ReminderName = @ReminderName AND Version = @Version\n        RETURNING 1\n    )\n    SELECT COUNT(*) > 0 FROM removed;\n
DeleteReminderRowsKey	\n    DELETE FROM OrleansRemindersTable WHERE ServiceId = @ServiceId;\n
\.


--
-- Data for Name: orleansreminderstable; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.orleansreminderstable (serviceid, grainid, remindername, starttime, period, grainhash, version) FROM stdin;
evcharge	chargingsession/EVAF9CABE5480D0B609D	watchdog	2026-11-29 00:24:05.335+00	60000	-50744611	0
evcharge	chargingsession/EVFE716C33258B5E4198	watchdog	2026-11-29 00:24:05.357+00	60000	-829901614	0
\.


--
-- Data for Name: orleansstorage; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.orleansstorage (grainidhash, grainidn0, grainidn1, graintypehash, graintypestring, grainidextensionstring, serviceid, payloadbinary, modifiedon, version) FROM stdin;
1583428735	0	0	-273148257	charger	UPG-SETTLED	evcharge	\\x20e820e8401763706f2d757067726164650105410773746401045307c101c101c101e0418145453146313435424232323945434341464645354246363933463931344444344335353439424433313730433133373539304634343745384334374545463733010921200103010520e80015c101c101c101e0e0c101e02120e0c101e021200103010540294556314335364232353143324531433942373231e0c101e02120e0e0410941434d45410b44433130304107312e30212001034149317c45563143353642323531433245314339423732317c313739353536383430303030300005e0c101e0e0	2026-11-29 00:23:05.00956+00	5
-534046535	0	0	-124145238	cpo	cpo-upgrade	evcharge	\\x20e820e8401763706f2d75706772616465412d63706f2d757067726164652d736574746c656d656e7421e800421f0101e031014835b946ad53797374656d2e436f6c6c656374696f6e732e47656e657269632e4c69737460315b5b45764368617267652e4368617267696e672e5461726966662c45764368617267652e477261696e496e74657266616365735d5d000321e840077374640162093101382f3dddbb53797374656d2e436f6c6c656374696f6e732e47656e657269632e4c69737460315b5b45764368617267652e4368617267696e672e54696d654f6655736542616e642c45764368617267652e477261696e496e74657266616365735d5de001010101010101010101e0e0e03101c3d96e3e4d526561644f6e6c794c697374496e74657266616365436f64656360315b5b737472696e675d5d000741175550472d534554544c454440195550472d4348415247494e47401d5550472d415554484f52495a4544e0e0	2026-11-29 00:23:04.682498+00	4
-1337687779	0	0	-1161454420	wallet	kakaopay:w_2af74b5c12b53fa3	evcharge	\\x20e8c0010101c101310159d1b7295753797374656d2e436f6c6c656374696f6e732e47656e657269632e4c69737460315b5b737472696e675d5d000341294556314335364232353143324531433942373231e001c273e0	2026-11-29 00:23:05.036043+00	3
-318678937	0	0	356260177	session	EV1C56B251C2E1C9B721	evcharge	\\x20e8001d21e840175550472d534554544c45440105411763706f2d7570677261646521e840077374640162093101382f3dddbb53797374656d2e436f6c6c656374696f6e732e47656e657269632e4c69737460315b5b45764368617267652e4368617267696e672e54696d654f6655736542616e642c45764368617267652e477261696e496e74657266616365735d5de001010101010101010101e00104530721e800421f0101e0412d63706f2d757067726164652d736574746c656d656e744123706c6174666f726d2d6f70657261746f7221e840116b616b616f70617941293434333332363536353233393337323538333531c101e041294556314335364232353143324531433942373231c101e041376b616b616f7061793a775f326166373462356331326235336661334127617a5f737a3135643369643663776e7068646801045307218020136f182f53df08810000000000000000e0010501421f218000683a6e8f4adf08810000000000000000e03101b1ef2d65b753797374656d2e436f6c6c656374696f6e732e47656e657269632e4c69737460315b5b45764368617267652e4368617267696e672e4d6574657253616d706c652c45764368617267652e477261696e496e74657266616365735d5d000321e820800024dbd3904adf08810000000000000000e001429ce0e00114420321800058bd04954adf08810000000000000000e0411d4556446973636f6e6e656374656401c273c10101c27341297061795f3236716a36346233736535713939316531019bef65f4b353797374656d2e436f6c6c656374696f6e732e47656e657269632e4c69737460315b5b45764368617267652e4368617267696e672e53706c6974506172742c45764368617267652e477261696e496e74657266616365735d5d000521e8c0290101013268e020e8c02b010501920be0e021e800c273013a69018a0ae0c10101012180946ca2efae4ddf08810000000000000000e03101932932335d45764368617267652e477261696e732e526566756e645265636f72645b5d2c45764368617267652e477261696e73e00101218074b680efae4ddf08810000000000000000e0010101c2732180e4c98cefae4ddf08810000000000000000e0c101c101c1010101e0	2026-11-29 00:23:05.037254+00	6
1868880347	0	0	356260177	session	EVAF9CABE5480D0B609D	evcharge	\\x20e8001121e840195550472d4348415247494e470105411763706f2d7570677261646521e840077374640162093101382f3dddbb53797374656d2e436f6c6c656374696f6e732e47656e657269632e4c69737460315b5b45764368617267652e4368617267696e672e54696d654f6655736542616e642c45764368617267652e477261696e496e74657266616365735d5de001010101010101010101e00104530721e800421f0101e0412d63706f2d757067726164652d736574746c656d656e744123706c6174666f726d2d6f70657261746f7221e840116b616b616f70617941293139353636343438363631313836333132333438c101e041294556414639434142453534383044304236303944c101e041376b616b616f7061793a775f333564383035316161393466646666344127617a5f3031343469747a7a6570627361727470010453072180f325bb182f53df08810000000000000000e0010501421f218000683a6e8f4adf08810000000000000000e03101b1ef2d65b753797374656d2e436f6c6c656374696f6e732e47656e657269632e4c69737460315b5b45764368617267652e4368617267696e672e4d6574657253616d706c652c45764368617267652e477261696e496e74657266616365735d5d000521e820800024dbd3904adf08810000000000000000e001429ce020e8208000e07b39924adf08810000000000000000e001843202e0e0c101c101c101c101c1010101c101310195b3324d6d45764368617267652e4368617267696e672e53706c6974506172745b5d2c45764368617267652e477261696e496e7465726661636573e0c101c101010121806cc8d8efae4ddf08810000000000000000e03101932932335d45764368617267652e477261696e732e526566756e645265636f72645b5d2c45764368617267652e477261696e73e0010121804171d6efae4ddf08810000000000000000e00101010121802203d7efae4ddf08810000000000000000e0c101c101c1010101e0	2026-11-29 00:23:05.351296+00	5
775929369	0	0	-1161454420	wallet	kakaopay:w_35d8051aa94fdff4	evcharge	\\x20e8402945564146394341424535343830443042363039440101c1012935e00101e0	2026-11-29 00:23:05.342299+00	1
1893026074	0	0	-1161454420	wallet	kakaopay:w_e0f0d620746bd747	evcharge	\\x20e8402945564645373136433333323538423545343139380101c1012935e00101e0	2026-11-29 00:23:05.36225+00	1
-1244274574	0	0	356260177	session	EVFE716C33258B5E4198	evcharge	\\x20e8000921e8401d5550472d415554484f52495a45440105411763706f2d7570677261646521e840077374640162093101382f3dddbb53797374656d2e436f6c6c656374696f6e732e47656e657269632e4c69737460315b5b45764368617267652e4368617267696e672e54696d654f6655736542616e642c45764368617267652e477261696e496e74657266616365735d5de001010101010101010101e00104530721e800421f0101e0412d63706f2d757067726164652d736574746c656d656e744123706c6174666f726d2d6f70657261746f7221e840116b616b616f70617941293534373338373530333632343033373335343934c101e041294556464537313643333332353842354534313938c101e041376b616b616f7061793a775f653066306436323037343662643734374127617a5f73716e6937377231646a716533366f660104530721804154be182f53df08810000000000000000e0c1010101c1013101030907de7145764368617267652e4368617267696e672e4d6574657253616d706c655b5d2c45764368617267652e477261696e496e7465726661636573e0c101c101c101c101c1010101c101310195b3324d6d45764368617267652e4368617267696e672e53706c6974506172745b5d2c45764368617267652e477261696e496e7465726661636573e0c101c101010121807bd6d9efae4ddf08810000000000000000e03101932932335d45764368617267652e477261696e732e526566756e645265636f72645b5d2c45764368617267652e477261696e73e00101218078d6d9efae4ddf08810000000000000000e00101010121800530daefae4ddf08810000000000000000e0c101c101c1010101e0	2026-11-29 00:23:05.362815+00	2
2020250614	0	0	-273148257	charger	UPG-CHARGING	evcharge	\\x20e820e8401763706f2d757067726164650105410773746401045307c101c101c101e0418136413438353944463535444132444143453042433030464439453434414145303539303741363241354446373435353342314541313130413134303731383937010921200103010520e80009412945564146394341424535343830443042363039440105c101e0e0c101e021200103c12520e8c02501054131433645363831433345323733424531323233424143444341218042a8d7efae4ddf08810000000000000000e0010501045307e0e0c101e0212001030105c025e0c101e02120e0e0410941434d45410b44433130304107312e30212001034149317c45564146394341424535343830443042363039447c313739353536383430303030300005e0c101e0e0	2026-11-29 00:23:05.346929+00	4
-2102499518	0	0	-273148257	charger	UPG-AUTHORIZED	evcharge	\\x20e820e8401763706f2d757067726164650105410773746401045307c101c101c101e0418132463344444335424346304346424137323641453830434142323343303833334346463046314634323330313345393245384636323345454534423330333831010521200103010520e8000141294556464537313643333332353842354534313938c101c101e0e0c101e021200103c12520e8c025010541313837443835334343353038313539464131433536354539412180e9b1daefae4ddf08810000000000000000e0c10101045307e0e0c101e02120e0c101e02120e0e0410941434d45410b44433130304107312e302120e0c101e0e0	2026-11-29 00:23:05.363791+00	3
\.


--
-- Data for Name: schema_migrations; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.schema_migrations (version, name, checksum, applied_at) FROM stdin;
1	orleans_main	4e6b92ff3e79c96393e4b20289b5aeb44b906c78e8df8a1e2637fc94830b060f	2026-11-29 00:23:03.41857+00
2	orleans_clustering	d9ad01ceeef6a5de90c4c9d342d4c240f15df672d5107b53406d232442d68784	2026-11-29 00:23:03.41857+00
3	orleans_persistence	0adcb0187e5b5268af410a88fb0fe60af5017ca4753e0c5789d5c63b2bfa29fb	2026-11-29 00:23:03.41857+00
4	orleans_reminders	2305375b3166053893160432396181e8506f2ca2c713539079f4b23d5695237d	2026-11-29 00:23:03.41857+00
5	ledger	a5f1ce8f12209cb4be76704df2d1e545d19af24f1bc464d8839f1ce254021b94	2026-11-29 00:23:03.41857+00
6	session_index	8052283afd8d23a1e3705b636fbb4518b2f9b555b7c7fc0811a82378acff1d6f	2026-11-29 00:23:03.41857+00
\.


--
-- Data for Name: session_index; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.session_index (session_id, state, charger_id, connector_id, cpo_id, wallet_key, hold_amount, energy_wh, fee, captured, refunded, debt, seamless, fee_mismatch, reason, created_at, started_at, stopped_at, updated_at) FROM stdin;
EV1C56B251C2E1C9B721	Settled	UPG-SETTLED	1	cpo-upgrade	kakaopay:w_2af74b5c12b53fa3	30000	12345	3704	3704	0	0	f	f	\N	2026-11-29 00:23:04.773797+00	2026-11-25 01:00:00+00	2026-11-25 01:40:00+00	2026-11-29 00:23:05.037456+00
EVAF9CABE5480D0B609D	Charging	UPG-CHARGING	1	cpo-upgrade	kakaopay:w_35d8051aa94fdff4	30000	0	\N	0	0	0	f	f	\N	2026-11-29 00:23:05.335635+00	2026-11-25 01:00:00+00	\N	2026-11-29 00:23:05.346016+00
EVFE716C33258B5E4198	Authorized	UPG-AUTHORIZED	1	cpo-upgrade	kakaopay:w_e0f0d620746bd747	30000	0	\N	0	0	0	f	f	\N	2026-11-29 00:23:05.357887+00	\N	\N	2026-11-29 00:23:05.36302+00
\.


--
-- Name: ledger_journals pk_ledger_journals; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.ledger_journals
    ADD CONSTRAINT pk_ledger_journals PRIMARY KEY (journal_key);


--
-- Name: ledger_lines pk_ledger_lines; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.ledger_lines
    ADD CONSTRAINT pk_ledger_lines PRIMARY KEY (journal_key, line_no);


--
-- Name: orleansmembershiptable pk_orleansmembershiptable; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.orleansmembershiptable
    ADD CONSTRAINT pk_orleansmembershiptable PRIMARY KEY (deploymentid, address, port, generation);


--
-- Name: orleansmembershipversiontable pk_orleansmembershipversiontable; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.orleansmembershipversiontable
    ADD CONSTRAINT pk_orleansmembershipversiontable PRIMARY KEY (deploymentid);


--
-- Name: orleansquery pk_orleansquery; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.orleansquery
    ADD CONSTRAINT pk_orleansquery PRIMARY KEY (querykey);


--
-- Name: orleansreminderstable pk_orleansreminderstable; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.orleansreminderstable
    ADD CONSTRAINT pk_orleansreminderstable PRIMARY KEY (serviceid, grainid, remindername);


--
-- Name: session_index pk_session_index; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.session_index
    ADD CONSTRAINT pk_session_index PRIMARY KEY (session_id);


--
-- Name: schema_migrations schema_migrations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.schema_migrations
    ADD CONSTRAINT schema_migrations_pkey PRIMARY KEY (version);


--
-- Name: ix_ledger_journals_session; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_ledger_journals_session ON public.ledger_journals USING btree (session_id, kind);


--
-- Name: ix_ledger_lines_account; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_ledger_lines_account ON public.ledger_lines USING btree (account, posted_at);


--
-- Name: ix_ledger_lines_session; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_ledger_lines_session ON public.ledger_lines USING btree (session_id);


--
-- Name: ix_orleansreminderstable_hash; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_orleansreminderstable_hash ON public.orleansreminderstable USING btree (serviceid, grainhash);


--
-- Name: ix_session_index_charger; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_session_index_charger ON public.session_index USING btree (charger_id, created_at DESC, session_id DESC);


--
-- Name: ix_session_index_cpo; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_session_index_cpo ON public.session_index USING btree (cpo_id, created_at DESC, session_id DESC);


--
-- Name: ix_session_index_created; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_session_index_created ON public.session_index USING btree (created_at DESC, session_id DESC);


--
-- Name: ix_session_index_state; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_session_index_state ON public.session_index USING btree (state, created_at DESC, session_id DESC);


--
-- Name: ux_orleansstorage_grain; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX ux_orleansstorage_grain ON public.orleansstorage USING btree (grainidhash, graintypehash, serviceid, grainidn0, grainidn1, graintypestring, COALESCE(grainidextensionstring, ''::character varying));


--
-- Name: ledger_journals ledger_journals_append_only; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER ledger_journals_append_only BEFORE DELETE OR UPDATE ON public.ledger_journals FOR EACH ROW EXECUTE FUNCTION public.ledger_refuse_change();


--
-- Name: ledger_lines ledger_lines_append_only; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER ledger_lines_append_only BEFORE DELETE OR UPDATE ON public.ledger_lines FOR EACH ROW EXECUTE FUNCTION public.ledger_refuse_change();


--
-- Name: ledger_lines ledger_lines_journal_key_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.ledger_lines
    ADD CONSTRAINT ledger_lines_journal_key_fkey FOREIGN KEY (journal_key) REFERENCES public.ledger_journals(journal_key);


--
-- Name: orleansmembershiptable orleansmembershiptable_deploymentid_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.orleansmembershiptable
    ADD CONSTRAINT orleansmembershiptable_deploymentid_fkey FOREIGN KEY (deploymentid) REFERENCES public.orleansmembershipversiontable(deploymentid);


--
-- PostgreSQL database dump complete
--

\unrestrict h0Sf7Uh1A2s6CueVniEPS6RUfUnILKwHtbB0gkuGc3sX4fA8PzRed6MMsOKgqH3

