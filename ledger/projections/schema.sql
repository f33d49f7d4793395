-- factledger projections (DESIGN §9): DuckDB read models rebuilt from events.jsonl.
--
-- Nothing here is ever trusted for verification; everything can be dropped and
-- rebuilt from the log. The tables say what the log records, whether or not it
-- verifies: an entry with a bad signature, one that breaks a rule, or one a key
-- revoked as compromised made void, is projected like any other ('factledger
-- verify' says which). History tables keep validity intervals of log positions:
-- a version is current from seq_from (the event that made it) up to, not
-- including, seq_to. "Now" is seq_to IS NULL; "as of N" is
-- seq_from <= N AND (seq_to IS NULL OR seq_to > N). The *_now views and the
-- *_as_of(n) table macros spell those two filters once.
--
-- Note for hand-written queries: "at" is a reserved word in DuckDB; quote it.

-- What the tables have applied, written in the same transaction as the rows.
CREATE TABLE meta (
    schema_version INTEGER NOT NULL,
    tree_size BIGINT NOT NULL,          -- entries applied: the next seq
    root VARCHAR NOT NULL,              -- hex RFC 9162 root of those entries
    byte_offset BIGINT NOT NULL,        -- where the applied prefix ends in the file
    last_id VARCHAR,                    -- id of the last applied entry
    last_offset BIGINT,                 -- its byte offset
    prefix_digest VARCHAR NOT NULL,     -- hex BLAKE3 of the BLAKE3s of the file's first
                                        -- byte_offset bytes in 8 MiB pieces (the last shorter)
    pieces VARCHAR[] NOT NULL,          -- hex BLAKE3s of the complete pieces
    edge VARCHAR[] NOT NULL,            -- Merkle right edge (hex), extends the root in O(log n)
    file_stat BIGINT[] NOT NULL         -- (size, mtime_ns, inode, device) seen before reading
);

-- One row per entry. body is NULL on a redacted line (body_hash is set instead).
CREATE TABLE events (
    seq BIGINT NOT NULL,
    id VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    subject VARCHAR NOT NULL,
    parent VARCHAR,
    "at" VARCHAR NOT NULL,
    author VARCHAR NOT NULL,
    body JSON,
    body_hash VARCHAR,
    redacted BOOLEAN NOT NULL,
    redaction_reason VARCHAR,           -- from the entry.redacted that targets it
    redacted_by BIGINT,                 -- seq of that entry.redacted
    byte_offset BIGINT NOT NULL,
    byte_length BIGINT NOT NULL         -- without the newline
);

-- The rating scale of ledger.created, in its order.
CREATE TABLE scale (
    position INTEGER NOT NULL,
    name VARCHAR NOT NULL,
    value BIGINT                        -- NULL: off-scale (e.g. "unproven")
);

-- Claim versions. *_seq columns say which event set each field (blame).
CREATE TABLE claims (
    claim_id VARCHAR NOT NULL,
    seq_from BIGINT NOT NULL,
    seq_to BIGINT,
    event_kind VARCHAR NOT NULL,        -- kind of the event at seq_from
    text VARCHAR,                       -- NULL when the event that set it is redacted
    kind VARCHAR,
    claimant VARCHAR,
    appearance_source VARCHAR,
    appearance_quote VARCHAR,
    appearance_locator VARCHAR,
    topics VARCHAR[],
    status VARCHAR,                     -- 'open' until a claim.status says otherwise
    status_reason VARCHAR,
    verdict VARCHAR,                    -- current rating name, NULL when none (or voided)
    rationale VARCHAR,
    asserted_seq BIGINT,
    text_seq BIGINT,
    status_seq BIGINT,
    verdict_seq BIGINT,                 -- last verdict.issued or verdict.voided
    verdict_redacted BOOLEAN NOT NULL   -- that verdict.issued was redacted (verdict is NULL)
);

-- Claim-source links, one line per (claim, source); a redacted attribution,
-- whose source is unknown, is a line of its own (attr_key '#<seq>').
CREATE TABLE attributions (
    claim_id VARCHAR NOT NULL,
    source_id VARCHAR,
    attr_key VARCHAR NOT NULL,
    seq_from BIGINT NOT NULL,
    seq_to BIGINT,
    stance VARCHAR,
    quote VARCHAR,
    locator VARCHAR,
    retrieved VARCHAR,
    credibility INTEGER,
    withdrawn BOOLEAN NOT NULL,
    withdraw_reason VARCHAR,
    attributed_seq BIGINT,
    withdrawn_seq BIGINT,
    redacted BOOLEAN NOT NULL
);

-- Source versions: registration fields and the Admiralty reliability grade.
CREATE TABLE sources (
    source_id VARCHAR NOT NULL,
    seq_from BIGINT NOT NULL,
    seq_to BIGINT,
    title VARCHAR,
    kind VARCHAR,
    publisher VARCHAR,
    url VARCHAR,
    published VARCHAR,
    archive_url VARCHAR,
    content_sha256 VARCHAR,
    grade VARCHAR,
    grade_reason VARCHAR,
    registered_seq BIGINT,
    grade_seq BIGINT,
    redacted BOOLEAN NOT NULL           -- the registration's body was redacted
);

-- Verdicts: one row per verdict.issued, current until the next verdict event.
CREATE TABLE verdicts (
    claim_id VARCHAR NOT NULL,
    seq_from BIGINT NOT NULL,
    seq_to BIGINT,
    rating VARCHAR,
    rationale VARCHAR,
    revision VARCHAR,
    changes_rating BOOLEAN,
    voided BOOLEAN NOT NULL,            -- ended by verdict.voided (at seq_to)
    void_reason VARCHAR,
    redacted BOOLEAN NOT NULL
);

-- Keys: the genesis owner and every grant, with revocations, as the log records them.
-- A revocation as compromised voids the key's entries after void_after, and with them
-- the keys it granted there; those keys' own rows here are unchanged (verify judges them).
CREATE TABLE keys (
    fingerprint VARCHAR NOT NULL,
    seq_from BIGINT NOT NULL,
    seq_to BIGINT,
    name VARCHAR,
    role VARCHAR,
    public_key VARCHAR,
    revoked VARCHAR,                    -- 'retired' | 'compromised' | NULL
    void_after VARCHAR,
    revoke_note VARCHAR,
    granted_seq BIGINT,
    revoked_seq BIGINT
);

-- The claims list as of any position, sorted as the list is (asserted_seq NULLS
-- LAST, then claim_id). claim_order has a line per stretch of a claim's versions
-- with the same asserted_seq (one per claim unless it was asserted again, or
-- before its claim.asserted); rank numbers the stretches that have one in their
-- asserted_seq order (1, 2, ...), so a page of the list is a range of ranks.
CREATE TABLE claim_order (
    claim_id VARCHAR NOT NULL,
    asserted_seq BIGINT,
    seq_from BIGINT NOT NULL,
    seq_to BIGINT,
    rank BIGINT                         -- NULL when asserted_seq is NULL
);

-- A line of the claims list as of each event on a claim (its subject), from the
-- claim's first version on: the claim's fields, its live sources and that event.
CREATE TABLE claim_list (
    claim_id VARCHAR NOT NULL,
    seq_from BIGINT NOT NULL,           -- the event: the claim's last one up to seq_to
    seq_to BIGINT,
    rank BIGINT,                        -- of the claim_order line it belongs to
    asserted_seq BIGINT,
    text VARCHAR,
    claimant VARCHAR,
    status VARCHAR,
    verdict VARCHAR,
    verdict_redacted BOOLEAN NOT NULL,  -- the current verdict's body was redacted
    appearance_source VARCHAR,
    sources BIGINT NOT NULL,            -- attributions not withdrawn
    last_at VARCHAR NOT NULL            -- "at" of the event at seq_from
);

-- A claim's state, from each change of it on: a new version (version: the claims
-- fields, version_seq and the verdicts line current then, as JSON) or a change of
-- its attributions (links: the attributions lines then, in their order, as JSON
-- text), with the event that made the change (every event a state points to made
-- one). As of n: the latest version and the latest links at or before n. It is
-- what "factledger show" prints, but the key names and the sources' titles. The
-- JSON is stored uncompressed: a lookup by index then reads only its own rows.
CREATE TABLE claim_states (
    claim_id VARCHAR NOT NULL,
    seq_from BIGINT NOT NULL,
    version VARCHAR USING COMPRESSION uncompressed,  -- NULL on a change of attributions
    links VARCHAR USING COMPRESSION uncompressed,  -- NULL on a new version
    id VARCHAR NOT NULL,                -- the event at seq_from: its id, kind, author, time
    kind VARCHAR NOT NULL,
    author VARCHAR NOT NULL,
    "at" VARCHAR NOT NULL,
    redacted BOOLEAN NOT NULL
);

CREATE VIEW claims_now AS SELECT * FROM claims WHERE seq_to IS NULL;
CREATE VIEW attributions_now AS SELECT * FROM attributions WHERE seq_to IS NULL;
CREATE VIEW sources_now AS SELECT * FROM sources WHERE seq_to IS NULL;
CREATE VIEW verdicts_now AS SELECT * FROM verdicts WHERE seq_to IS NULL;
CREATE VIEW keys_now AS SELECT * FROM keys WHERE seq_to IS NULL;

CREATE MACRO claims_as_of(n) AS TABLE
    SELECT * FROM claims WHERE seq_from <= n AND (seq_to IS NULL OR seq_to > n);
CREATE MACRO attributions_as_of(n) AS TABLE
    SELECT * FROM attributions WHERE seq_from <= n AND (seq_to IS NULL OR seq_to > n);
CREATE MACRO sources_as_of(n) AS TABLE
    SELECT * FROM sources WHERE seq_from <= n AND (seq_to IS NULL OR seq_to > n);
CREATE MACRO verdicts_as_of(n) AS TABLE
    SELECT * FROM verdicts WHERE seq_from <= n AND (seq_to IS NULL OR seq_to > n);
CREATE MACRO keys_as_of(n) AS TABLE
    SELECT * FROM keys WHERE seq_from <= n AND (seq_to IS NULL OR seq_to > n);
