-- Apply staged entries to the projections (DESIGN §9).
--
-- Input: the temp table raw(seq, id, byte_offset, line) holding the entries from
-- seq getvariable('apply_start') on, each line already decoded strictly by
-- ledger.codec and its id computed by ledger.entry.event_id. A full rebuild is
-- the same steps with apply_start = 0 on empty tables, so catching up after any
-- prefix gives exactly the rows of a rebuild.
--
-- Each history table folds its subject's new events with window functions,
-- seeded with the current version: "pointer" columns (which event last set each
-- field: the blame) are running maxima, and each group of fields set together
-- is carried forward as a struct (last_value IGNORE NULLS), so a field set to
-- NULL (a redacted body) stays NULL rather than falling back to an older value.
-- Steps are separated by "-- step: <table>, <what>" lines and run in order in
-- one transaction; the projector skips the steps of a table that no new entry's
-- kind touches (see projector.STEP_KINDS).

-- step: events
INSERT INTO events
SELECT seq, id, j.kind, j.subject, j.parent, j."at", j.author, j.body, j.body_hash,
       j.body IS NULL, NULL, NULL, byte_offset, strlen(line)
FROM (
    SELECT seq, id, byte_offset, line,
           json_transform(line, '{"at": "VARCHAR", "author": "VARCHAR", "body": "JSON",
               "body_hash": "VARCHAR", "kind": "VARCHAR", "parent": "VARCHAR",
               "subject": "VARCHAR"}') AS j
    FROM raw
)
ORDER BY seq;

-- step: redactions (the reason of the first entry.redacted naming a redacted line)
UPDATE events SET redaction_reason = r.reason, redacted_by = r.seq
FROM (
    SELECT body ->> '$.target' AS target, arg_min(body ->> '$.reason', seq) AS reason,
           min(seq) AS seq
    FROM events
    WHERE kind = 'entry.redacted' AND body IS NOT NULL
    GROUP BY ALL
) AS r
WHERE events.id = r.target AND events.redacted AND events.redacted_by IS NULL;

-- step: scale
INSERT INTO scale
SELECT t.ordinality - 1, t.step.name, t.step.value
FROM events,
     unnest(from_json(body -> '$.scale', '[{"name": "VARCHAR", "value": "BIGINT"}]'))
         WITH ORDINALITY AS t(step, ordinality)
WHERE seq = 0 AND seq >= getvariable('apply_start') AND kind = 'ledger.created'
  AND body IS NOT NULL;

-- step: claims, versions
CREATE OR REPLACE TEMP TABLE claim_steps AS
WITH changes AS (
    SELECT subject AS claim_id, seq, kind AS event_kind,
           CASE WHEN kind = 'claim.asserted' THEN seq END AS asserted_seq,
           CASE WHEN kind IN ('claim.asserted', 'claim.corrected') THEN seq END AS text_seq,
           CASE WHEN kind = 'claim.status' THEN seq END AS status_seq,
           CASE WHEN kind IN ('verdict.issued', 'verdict.voided') THEN seq END AS verdict_seq,
           CASE WHEN kind = 'claim.asserted' THEN {
               'kind': body ->> '$.kind', 'claimant': body ->> '$.claimant',
               'source': body ->> '$.appearance.source',
               'quote': body ->> '$.appearance.quote',
               'locator': body ->> '$.appearance.locator',
               'topics': from_json(body -> '$.topics', '["VARCHAR"]')} END AS asserted,
           CASE WHEN kind IN ('claim.asserted', 'claim.corrected')
                THEN {'text': body ->> '$.text'} END AS texted,
           CASE WHEN kind = 'claim.status'
                THEN {'status': body ->> '$.status', 'reason': body ->> '$.reason'} END AS statused,
           CASE WHEN kind = 'verdict.issued'
                THEN {'rating': body ->> '$.rating', 'rationale': body ->> '$.rationale',
                      'redacted': body IS NULL}
                WHEN kind = 'verdict.voided'
                THEN {'rating': NULL::VARCHAR, 'rationale': NULL::VARCHAR, 'redacted': FALSE}
                END AS verdicted
    FROM events
    WHERE seq >= getvariable('apply_start')
      AND kind IN ('claim.asserted', 'claim.corrected', 'claim.status',
                   'verdict.issued', 'verdict.voided')
), seeded AS (
    SELECT claim_id, -1 AS seq, event_kind, asserted_seq, text_seq, status_seq, verdict_seq,
           CASE WHEN asserted_seq IS NOT NULL THEN {
               'kind': kind, 'claimant': claimant, 'source': appearance_source,
               'quote': appearance_quote, 'locator': appearance_locator,
               'topics': topics} END AS asserted,
           CASE WHEN text_seq IS NOT NULL THEN {'text': text} END AS texted,
           CASE WHEN status_seq IS NOT NULL
                THEN {'status': status, 'reason': status_reason} END AS statused,
           CASE WHEN verdict_seq IS NOT NULL
                THEN {'rating': verdict, 'rationale': rationale, 'redacted': verdict_redacted}
                END AS verdicted,
           TRUE AS seed
    FROM claims
    WHERE seq_to IS NULL AND claim_id IN (SELECT claim_id FROM changes)
    UNION ALL
    SELECT *, FALSE FROM changes
)
SELECT claim_id, seq, seed, event_kind,
       lead(seq) OVER (PARTITION BY claim_id ORDER BY seq) AS seq_to,
       max(asserted_seq) OVER w AS asserted_seq,
       max(text_seq) OVER w AS text_seq,
       max(status_seq) OVER w AS status_seq,
       max(verdict_seq) OVER w AS verdict_seq,
       last_value(asserted IGNORE NULLS) OVER w AS asserted,
       last_value(texted IGNORE NULLS) OVER w AS texted,
       last_value(statused IGNORE NULLS) OVER w AS statused,
       last_value(verdicted IGNORE NULLS) OVER w AS verdicted
FROM seeded
WINDOW w AS (PARTITION BY claim_id ORDER BY seq ROWS UNBOUNDED PRECEDING);

-- step: claims, close
UPDATE claims SET seq_to = f.first_seq
FROM (SELECT claim_id, min(seq) AS first_seq FROM claim_steps WHERE NOT seed GROUP BY ALL) AS f
WHERE claims.claim_id = f.claim_id AND claims.seq_to IS NULL;

-- step: claims, insert
INSERT INTO claims
SELECT claim_id, seq, seq_to, event_kind,
       texted.text, asserted.kind, asserted.claimant,
       asserted.source, asserted.quote, asserted.locator, asserted.topics,
       CASE WHEN status_seq IS NULL THEN 'open' ELSE statused.status END,
       statused.reason, verdicted.rating, verdicted.rationale,
       asserted_seq, text_seq, status_seq, verdict_seq, coalesce(verdicted.redacted, FALSE)
FROM claim_steps
WHERE NOT seed
ORDER BY seq;

-- step: claims, order (a new claim_order line where a claim's asserted_seq changes)
CREATE OR REPLACE TEMP TABLE claim_order_steps AS
SELECT claim_id, asserted_seq, seq,
       lead(seq) OVER (PARTITION BY claim_id ORDER BY seq) AS seq_to
FROM (
    SELECT claim_id, seq, seed, asserted_seq,
           lag(asserted_seq, 1, -1) OVER (PARTITION BY claim_id ORDER BY seq) AS before
    FROM claim_steps
)
WHERE NOT seed AND asserted_seq IS DISTINCT FROM before;

-- step: claims, order close
UPDATE claim_order SET seq_to = f.first_seq
FROM (SELECT claim_id, min(seq) AS first_seq FROM claim_order_steps GROUP BY ALL) AS f
WHERE claim_order.claim_id = f.claim_id AND claim_order.seq_to IS NULL;

-- step: claims, order insert (a new asserted_seq is the log's latest: ranks go on)
INSERT INTO claim_order
SELECT claim_id, asserted_seq, seq, seq_to,
       CASE WHEN asserted_seq IS NOT NULL
            THEN (SELECT coalesce(max(rank), 0) FROM claim_order)
                 + row_number() OVER (PARTITION BY asserted_seq IS NULL ORDER BY seq) END
FROM claim_order_steps
ORDER BY seq;

-- step: attributions, versions
CREATE OR REPLACE TEMP TABLE attribution_steps AS
WITH changes AS (
    SELECT subject AS claim_id,
           CASE WHEN body IS NULL THEN '#' || seq ELSE body ->> '$.source' END AS attr_key,
           seq,
           CASE WHEN kind = 'source.attributed' THEN seq END AS attributed_seq,
           CASE WHEN kind = 'attribution.withdrawn' THEN seq END AS withdrawn_seq,
           CASE WHEN kind = 'source.attributed' THEN {
               'stance': body ->> '$.stance', 'quote': body ->> '$.quote',
               'locator': body ->> '$.locator', 'retrieved': body ->> '$.retrieved',
               'credibility': TRY_CAST(body ->> '$.credibility' AS INTEGER),
               'redacted': redacted} END AS attributed,
           CASE WHEN kind = 'attribution.withdrawn'
                THEN {'reason': body ->> '$.reason'} END AS withdrawal
    FROM events
    WHERE seq >= getvariable('apply_start')
      AND (kind = 'source.attributed' OR (kind = 'attribution.withdrawn' AND body IS NOT NULL))
), seeded AS (
    SELECT claim_id, attr_key, -1 AS seq, attributed_seq, withdrawn_seq,
           CASE WHEN attributed_seq IS NOT NULL THEN {
               'stance': stance, 'quote': quote, 'locator': locator, 'retrieved': retrieved,
               'credibility': credibility, 'redacted': redacted} END AS attributed,
           CASE WHEN withdrawn_seq IS NOT NULL THEN {'reason': withdraw_reason} END AS withdrawal,
           TRUE AS seed
    FROM attributions
    WHERE seq_to IS NULL
      AND EXISTS (SELECT 1 FROM changes AS c
                  WHERE c.claim_id = attributions.claim_id AND c.attr_key = attributions.attr_key)
    UNION ALL
    SELECT *, FALSE FROM changes
)
SELECT claim_id, attr_key, seq, seed,
       lead(seq) OVER (PARTITION BY claim_id, attr_key ORDER BY seq) AS seq_to,
       max(attributed_seq) OVER w AS attributed_seq,
       max(withdrawn_seq) OVER w AS withdrawn_seq,
       last_value(attributed IGNORE NULLS) OVER w AS attributed,
       last_value(withdrawal IGNORE NULLS) OVER w AS withdrawal
FROM seeded
WINDOW w AS (PARTITION BY claim_id, attr_key ORDER BY seq ROWS UNBOUNDED PRECEDING);

-- step: attributions, close
UPDATE attributions SET seq_to = f.first_seq
FROM (SELECT claim_id, attr_key, min(seq) AS first_seq FROM attribution_steps
      WHERE NOT seed GROUP BY ALL) AS f
WHERE attributions.claim_id = f.claim_id AND attributions.attr_key = f.attr_key
  AND attributions.seq_to IS NULL;

-- step: attributions, insert
INSERT INTO attributions
SELECT claim_id,
       CASE WHEN attr_key NOT LIKE '#%' THEN attr_key END,
       attr_key, seq, seq_to,
       attributed.stance, attributed.quote, attributed.locator, attributed.retrieved,
       attributed.credibility,
       coalesce(withdrawn_seq > coalesce(attributed_seq, -1), FALSE),
       CASE WHEN withdrawn_seq > coalesce(attributed_seq, -1) THEN withdrawal.reason END,
       attributed_seq, withdrawn_seq,
       coalesce(attributed.redacted, FALSE)
FROM attribution_steps
WHERE NOT seed
ORDER BY seq;

-- step: sources, versions
CREATE OR REPLACE TEMP TABLE source_steps AS
WITH changes AS (
    SELECT subject AS source_id, seq,
           CASE WHEN kind = 'source.registered' THEN seq END AS registered_seq,
           seq AS grade_seq,
           CASE WHEN kind = 'source.registered' THEN {
               'title': body ->> '$.title', 'kind': body ->> '$.kind',
               'publisher': body ->> '$.publisher', 'url': body ->> '$.url',
               'published': body ->> '$.published', 'archive_url': body ->> '$.archive_url',
               'content_sha256': body ->> '$.content_sha256', 'redacted': redacted} END
               AS registered,
           {'grade': body ->> '$.reliability', 'reason': body ->> '$.reason'} AS graded
    FROM events
    WHERE seq >= getvariable('apply_start')
      AND kind IN ('source.registered', 'source.regraded')
), seeded AS (
    SELECT source_id, -1 AS seq, registered_seq, grade_seq,
           CASE WHEN registered_seq IS NOT NULL THEN {
               'title': title, 'kind': kind, 'publisher': publisher, 'url': url,
               'published': published, 'archive_url': archive_url,
               'content_sha256': content_sha256, 'redacted': redacted} END AS registered,
           {'grade': grade, 'reason': grade_reason} AS graded,
           TRUE AS seed
    FROM sources
    WHERE seq_to IS NULL AND source_id IN (SELECT source_id FROM changes)
    UNION ALL
    SELECT *, FALSE FROM changes
)
SELECT source_id, seq, seed,
       lead(seq) OVER (PARTITION BY source_id ORDER BY seq) AS seq_to,
       max(registered_seq) OVER w AS registered_seq,
       max(grade_seq) OVER w AS grade_seq,
       last_value(registered IGNORE NULLS) OVER w AS registered,
       last_value(graded IGNORE NULLS) OVER w AS graded
FROM seeded
WINDOW w AS (PARTITION BY source_id ORDER BY seq ROWS UNBOUNDED PRECEDING);

-- step: sources, close
UPDATE sources SET seq_to = f.first_seq
FROM (SELECT source_id, min(seq) AS first_seq FROM source_steps WHERE NOT seed GROUP BY ALL)
     AS f
WHERE sources.source_id = f.source_id AND sources.seq_to IS NULL;

-- step: sources, insert
INSERT INTO sources
SELECT source_id, seq, seq_to,
       registered.title, registered.kind, registered.publisher, registered.url,
       registered.published, registered.archive_url, registered.content_sha256,
       graded.grade, graded.reason,
       registered_seq, grade_seq,
       coalesce(registered.redacted, FALSE)
FROM source_steps
WHERE NOT seed
ORDER BY seq;

-- step: verdicts, pointers
CREATE OR REPLACE TEMP TABLE verdict_steps AS
SELECT subject AS claim_id, seq, kind, body, redacted,
       lead(seq) OVER (PARTITION BY subject ORDER BY seq) AS next_seq
FROM events
WHERE seq >= getvariable('apply_start') AND kind IN ('verdict.issued', 'verdict.voided');

-- step: verdicts, close
UPDATE verdicts SET seq_to = f.seq, voided = f.kind = 'verdict.voided',
       void_reason = CASE WHEN f.kind = 'verdict.voided' THEN f.body ->> '$.reason' END
FROM (SELECT claim_id, arg_min(seq, seq) AS seq, arg_min(kind, seq) AS kind,
             arg_min(body, seq) AS body
      FROM verdict_steps GROUP BY ALL) AS f
WHERE verdicts.claim_id = f.claim_id AND verdicts.seq_to IS NULL;

-- step: verdicts, insert
INSERT INTO verdicts
SELECT s.claim_id, s.seq, s.next_seq,
       s.body ->> '$.rating',
       s.body ->> '$.rationale',
       s.body ->> '$.revision',
       TRY_CAST(s.body ->> '$.changes_rating' AS BOOLEAN),
       coalesce(n.kind = 'verdict.voided', FALSE),
       CASE WHEN n.kind = 'verdict.voided' THEN n.body ->> '$.reason' END,
       s.redacted
FROM verdict_steps AS s
LEFT JOIN verdict_steps AS n ON n.seq = s.next_seq
WHERE s.kind = 'verdict.issued'
ORDER BY s.seq;

-- step: keys, versions
CREATE OR REPLACE TEMP TABLE key_steps AS
WITH changes AS (
    SELECT CASE WHEN kind = 'ledger.created' THEN author ELSE subject END AS fingerprint, seq,
           CASE WHEN kind IN ('ledger.created', 'key.granted') THEN seq END AS granted_seq,
           CASE WHEN kind = 'key.revoked' THEN seq END AS revoked_seq,
           CASE WHEN kind = 'ledger.created'
                THEN {'name': body ->> '$.owner_name', 'role': 'admin',
                      'key': body ->> '$.owner'}
                WHEN kind = 'key.granted'
                THEN {'name': body ->> '$.name', 'role': body ->> '$.role',
                      'key': body ->> '$.key'} END AS granted,
           CASE WHEN kind = 'key.revoked'
                THEN {'reason': body ->> '$.reason', 'void_after': body ->> '$.void_after',
                      'note': body ->> '$.note'} END AS revocation
    FROM events
    WHERE seq >= getvariable('apply_start')
      AND (kind IN ('key.granted', 'key.revoked') OR (kind = 'ledger.created' AND seq = 0))
), seeded AS (
    SELECT fingerprint, -1 AS seq, granted_seq, revoked_seq,
           CASE WHEN granted_seq IS NOT NULL
                THEN {'name': name, 'role': role, 'key': public_key} END AS granted,
           CASE WHEN revoked_seq IS NOT NULL
                THEN {'reason': revoked, 'void_after': void_after, 'note': revoke_note} END
                AS revocation,
           TRUE AS seed
    FROM keys
    WHERE seq_to IS NULL AND fingerprint IN (SELECT fingerprint FROM changes)
    UNION ALL
    SELECT *, FALSE FROM changes
)
SELECT fingerprint, seq, seed,
       lead(seq) OVER (PARTITION BY fingerprint ORDER BY seq) AS seq_to,
       max(granted_seq) OVER w AS granted_seq,
       max(revoked_seq) OVER w AS revoked_seq,
       last_value(granted IGNORE NULLS) OVER w AS granted,
       last_value(revocation IGNORE NULLS) OVER w AS revocation
FROM seeded
WINDOW w AS (PARTITION BY fingerprint ORDER BY seq ROWS UNBOUNDED PRECEDING);

-- step: keys, close
UPDATE keys SET seq_to = f.first_seq
FROM (SELECT fingerprint, min(seq) AS first_seq FROM key_steps WHERE NOT seed GROUP BY ALL) AS f
WHERE keys.fingerprint = f.fingerprint AND keys.seq_to IS NULL;

-- step: keys, insert
INSERT INTO keys
SELECT fingerprint, seq, seq_to, granted.name, granted.role, granted.key,
       CASE WHEN revoked_seq > coalesce(granted_seq, -1) THEN revocation.reason END,
       CASE WHEN revoked_seq > coalesce(granted_seq, -1) THEN revocation.void_after END,
       CASE WHEN revoked_seq > coalesce(granted_seq, -1) THEN revocation.note END,
       granted_seq, revoked_seq
FROM key_steps
WHERE NOT seed
ORDER BY seq;

-- step: claim_list, links (a claim's attributions at each change of them)
CREATE OR REPLACE TEMP TABLE claim_touched AS
SELECT DISTINCT subject AS claim_id FROM events WHERE seq >= getvariable('apply_start');

CREATE OR REPLACE TEMP TABLE claim_links AS
WITH lines AS (
    SELECT a.claim_id, a.seq_from, a.seq_to, a.withdrawn, a.attributed_seq, a.attr_key,
           to_json({'source_id': a.source_id, 'attr_key': a.attr_key, 'stance': a.stance,
                    'quote': a.quote, 'locator': a.locator, 'retrieved': a.retrieved,
                    'credibility': a.credibility, 'withdrawn': a.withdrawn,
                    'withdraw_reason': a.withdraw_reason, 'redacted': a.redacted,
                    'attributed_seq': a.attributed_seq, 'withdrawn_seq': a.withdrawn_seq})::VARCHAR
               AS line
    FROM attributions AS a
    WHERE a.claim_id IN (SELECT claim_id FROM claim_touched)
), points AS (
    SELECT DISTINCT claim_id, seq_from AS seq FROM lines
)
SELECT p.claim_id, p.seq, count(*) FILTER (WHERE NOT a.withdrawn) AS sources,
       '[' || string_agg(a.line, ',' ORDER BY a.attributed_seq NULLS LAST, a.attr_key) || ']'
           AS links
FROM points AS p
JOIN lines AS a
  ON a.claim_id = p.claim_id AND a.seq_from <= p.seq AND (a.seq_to IS NULL OR a.seq_to > p.seq)
GROUP BY ALL;

-- step: claim_list, versions (every event on an existing claim, whatever its kind)
CREATE OR REPLACE TEMP TABLE claim_list_steps AS
WITH touched AS (
    SELECT subject AS claim_id, seq, "at" FROM events WHERE seq >= getvariable('apply_start')
)
SELECT e.claim_id, e.seq, o.rank, c.asserted_seq, c.text, c.claimant, c.status, c.verdict,
       c.verdict_redacted, c.appearance_source, coalesce(l.sources, 0) AS sources,
       e."at" AS last_at
FROM touched AS e
ASOF JOIN (SELECT claim_id, seq_from, asserted_seq, text, claimant, status, verdict,
                  verdict_redacted, appearance_source
           FROM claims WHERE claim_id IN (SELECT claim_id FROM claim_touched)) AS c
    ON c.claim_id = e.claim_id AND c.seq_from <= e.seq
ASOF JOIN (SELECT claim_id, seq_from, rank FROM claim_order
           WHERE claim_id IN (SELECT claim_id FROM claim_touched)) AS o
    ON o.claim_id = e.claim_id AND o.seq_from <= e.seq
ASOF LEFT JOIN (SELECT claim_id, seq, sources FROM claim_links) AS l
    ON l.claim_id = e.claim_id AND l.seq <= e.seq;

-- step: claim_list, close
UPDATE claim_list SET seq_to = f.first_seq
FROM (SELECT claim_id, min(seq) AS first_seq FROM claim_list_steps GROUP BY ALL) AS f
WHERE claim_list.claim_id = f.claim_id AND claim_list.seq_to IS NULL;

-- step: claim_list, insert (in rank order: a page of the list reads a range of it)
INSERT INTO claim_list
SELECT claim_id, seq, lead(seq) OVER (PARTITION BY claim_id ORDER BY seq), rank, asserted_seq,
       text, claimant, status, verdict, verdict_redacted, appearance_source, sources, last_at
FROM claim_list_steps
ORDER BY rank NULLS LAST, seq;

-- step: claim_list, states (each new version, and each change of attributions)
INSERT INTO claim_states
SELECT c.claim_id, c.seq_from,
       to_json({
           'version_seq': c.seq_from, 'text': c.text, 'kind': c.kind, 'claimant': c.claimant,
           'topics': c.topics, 'status': c.status, 'status_reason': c.status_reason,
           'appearance_source': c.appearance_source, 'appearance_quote': c.appearance_quote,
           'appearance_locator': c.appearance_locator, 'asserted_seq': c.asserted_seq,
           'text_seq': c.text_seq, 'status_seq': c.status_seq, 'verdict_seq': c.verdict_seq,
           'verdict': CASE WHEN v.seq_from IS NOT NULL THEN {
               'seq_from': v.seq_from, 'rating': v.rating, 'rationale': v.rationale,
               'revision': v.revision, 'changes_rating': v.changes_rating,
               'redacted': v.redacted} END})::VARCHAR,
       NULL, e.id, e.kind, e.author, e."at", e.redacted
FROM claims AS c
-- the verdicts line current at a version is the one its last verdict event issued
LEFT JOIN verdicts AS v ON v.claim_id = c.claim_id AND v.seq_from = c.verdict_seq
JOIN events AS e ON e.seq = c.seq_from
WHERE c.seq_from >= getvariable('apply_start') AND e.seq >= getvariable('apply_start')
UNION ALL
SELECT l.claim_id, l.seq, NULL, l.links, e.id, e.kind, e.author, e."at", e.redacted
FROM claim_links AS l
JOIN events AS e ON e.seq = l.seq
WHERE l.seq >= getvariable('apply_start') AND e.seq >= getvariable('apply_start');

-- step: ids, states (a rebuild that let DuckDB read the file sets the ids last)
UPDATE claim_states SET id = e.id
FROM events AS e
WHERE claim_states.seq_from = e.seq AND claim_states.id = '';
