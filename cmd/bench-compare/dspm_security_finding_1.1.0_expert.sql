-- mappings/zscaler-dspm/security_finding_1.1.0.yaml as a DuckDB expert writes
-- it, for make bench-compare: the records `ocsfmap run` writes, checked equal
-- to its lake partition by partition, file by file, row by row and value by
-- value (duckdb_equal.cjs). dspm_security_finding_1.1.0.sql is the first,
-- plainer version, kept to show what the care below is worth.
--
-- What makes it fast, and exact:
-- - every derived value is computed once, in its own step: DuckDB inlines a
--   macro's argument wherever the body names it, so tr(x) passed to a macro
--   that names it three times is three trims;
-- - the filter on time sits above a window function: a filter is pushed down
--   through projections by copying the expressions it names, so below the
--   window it would parse every timestamp twice;
-- - the narrow source columns are sorted by partition, time and input line,
--   and the nested output is built after the sort: sorting flat strings is
--   cheap, sorting the nested structs and lists is not;
-- - with that order and partitioned_write_flush_threshold = 1, rows reach the
--   partitioned writer partition by partition and leave it in order: one file
--   per partition, one row group, rows by time with ties in input order, as
--   ocsfmap writes them (a bare ORDER BY "time" does not: the writer holds back
--   pieces of under 64 rows per chunk and lets them out of order);
-- - zstd level 1 and no bloom filters, the same work as ocsfmap's writer.
-- Left out, as cmd/alertgen never sends them: epoch_ms()'s ISO-8601 basic
-- format (20131102T010628Z) and exact decimals beyond float64 in numeric
-- strings, and tags_kv()'s tags given as JSON text inside a string.
-- duckdb_copy.cjs replaces ${INPUT} and ${OUT}.

SET TimeZone = 'UTC';
SET partitioned_write_flush_threshold = 1;
-- At most 16 files open at once, as memory allows: rows come partition by
-- partition, so a closed file is never reopened.
SET partitioned_write_max_open_files = 16;

-- Go's strings.TrimSpace (Unicode white space), with a shortcut for the
-- common value that starts and ends with printable ASCII: trim() with a
-- character set rebuilds that set for every row.
CREATE MACRO tr(s) AS CASE WHEN ascii(s) BETWEEN 33 AND 126 AND ascii(s[-1]) BETWEEN 33 AND 126 THEN s
  ELSE trim(s, ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(133) || chr(160) || chr(5760) ||
    chr(8192) || chr(8193) || chr(8194) || chr(8195) || chr(8196) || chr(8197) || chr(8198) || chr(8199) || chr(8200) ||
    chr(8201) || chr(8202) || chr(8232) || chr(8233) || chr(8239) || chr(8287) || chr(12288)) END;
-- epoch_ms() of a trimmed value n = try_cast(s AS DOUBLE) (engine/exprenv/func_epoch_ms.go):
-- epoch seconds, ms, µs or ns by magnitude; ISO-8601 text when n is NULL.
CREATE MACRO epoch_raw(s, n) AS CASE
  WHEN n IS NULL THEN CASE WHEN s[5] = '-' THEN epoch_ms(try_cast(s AS TIMESTAMPTZ)) END
  WHEN n < 1e11 THEN floor(round(n * 1e6) / 1e3)::BIGINT
  WHEN n < 1e14 THEN floor(n)::BIGINT
  WHEN n < 1e17 THEN floor(n / 1e3)::BIGINT
  ELSE floor(n / 1e6)::BIGINT END;
-- A usable time is after 1970-01-01 and not after 9999; anything else is NULL.
CREATE MACRO epoch_ok(ms) AS CASE WHEN ms BETWEEN 1 AND 253402300799999 THEN ms END;
CREATE MACRO to_json_str(s) AS CASE WHEN s IS NOT NULL THEN to_json(s) END;

COPY (
  WITH src AS (
    SELECT * FROM read_json('${INPUT}', format = 'newline_delimited', columns = {
      csp_event_timestamp: 'VARCHAR', alert_status: 'VARCHAR', alert_status_description: 'VARCHAR',
      alert_description: 'VARCHAR', risk: 'VARCHAR', alert_id: 'VARCHAR', policy_name: 'VARCHAR',
      alert_created_dt: 'VARCHAR', alert_updated_dt: 'VARCHAR', policy_type: 'VARCHAR',
      policy_threat_category: 'VARCHAR', policy_theme: 'VARCHAR', age: 'JSON', account_name: 'VARCHAR',
      organisation_name: 'VARCHAR', csp: 'VARCHAR', resource_id: 'VARCHAR', account_id: 'VARCHAR',
      organisation_id: 'VARCHAR', resource_name: 'VARCHAR', resource_type: 'VARCHAR', tags: 'JSON',
      cluster_name: 'VARCHAR', cluster_type: 'VARCHAR', namespace: 'VARCHAR', associated_cloud: 'VARCHAR',
      identity_id: 'VARCHAR', identity_type: 'VARCHAR', identity_source: 'VARCHAR', identity_name: 'VARCHAR',
      identity_power_category: 'VARCHAR', compliance_benchmark: 'VARCHAR', compliance_control_number: 'VARCHAR',
      region: 'VARCHAR'})
  ), trimmed AS (
    SELECT *, tr(csp_event_timestamp) AS ev_s, tr(alert_updated_dt) AS up_s, tr(alert_created_dt) AS cr_s,
      tr(alert_status) AS status_t, tr(risk) AS risk_t, lower(tr(csp)) = 'aws' AS in_aws, tr(identity_name) AS identity_t
    FROM src
  ), numbers AS (
    SELECT *, try_cast(ev_s AS DOUBLE) AS ev_n, try_cast(up_s AS DOUBLE) AS up_n, try_cast(cr_s AS DOUBLE) AS cr_n,
      lower(status_t) AS status_n, coalesce(lower(risk_t), '') AS risk_n
    FROM trimmed
  ), raw_times AS (
    SELECT *, epoch_raw(ev_s, ev_n) AS ev_raw, epoch_raw(up_s, up_n) AS up_raw, epoch_raw(cr_s, cr_n) AS cr_raw
    FROM numbers
  ), times AS (
    SELECT *, epoch_ok(up_raw) AS modified_ms, epoch_ok(cr_raw) AS created_ms, epoch_ok(ev_raw) AS event_ms
    FROM raw_times
  ), lined AS (
    -- The window numbers the input lines and keeps the filter below from
    -- being pushed into the steps above.
    SELECT *, coalesce(event_ms, modified_ms, created_ms) AS t, row_number() OVER () AS line
    FROM times
  ), placed AS (
    SELECT *,
      CASE WHEN account_id IS NULL THEN NULL WHEN in_aws THEN account_id ELSE 'external_' || account_id END AS "accountId",
      make_timestamptz(t * 1000) AS time_dt
    FROM lined
    WHERE t IS NOT NULL
  ), sorted AS (
    -- eventDay is the day of time: ordering by time orders by eventDay.
    SELECT * EXCLUDE (ev_s, up_s, cr_s, ev_n, up_n, cr_n, ev_raw, up_raw, cr_raw, event_ms)
    FROM placed
    ORDER BY region, "accountId", t, line
  ), looked_up AS (
    SELECT *,
      CASE status_n WHEN 'open' THEN 1 WHEN 'reopened' THEN 2 WHEN 'in progress' THEN 2 WHEN 'snoozed' THEN 2
        WHEN 'ignored' THEN 2 WHEN 'resolved' THEN 3 WHEN 'closed' THEN 3 ELSE 99 END AS act,
      CASE status_n WHEN 'open' THEN 1 WHEN 'reopened' THEN 1 WHEN 'in progress' THEN 2 WHEN 'snoozed' THEN 3
        WHEN 'ignored' THEN 3 WHEN 'resolved' THEN 4 WHEN 'closed' THEN 4 ELSE 99 END AS st,
      CASE risk_n WHEN 'critical' THEN 5 WHEN 'high' THEN 4 WHEN 'medium' THEN 3 WHEN 'low' THEN 2
        WHEN 'info' THEN 1 WHEN 'informational' THEN 1 WHEN '' THEN 0 ELSE 99 END AS sev,
      -- The caption of 99 Other is the trimmed source value, as the plan writes it.
      CASE WHEN coalesce(status_t, '') = '' THEN 'Other' ELSE status_t END AS status_other,
      json_type(tags) AS tags_type,
      CASE WHEN identity_t LIKE '%@%' THEN regexp_full_match(identity_t, '[a-zA-Z0-9_.+-]+@[a-zA-Z0-9-]+\.[a-zA-Z0-9-.]+')
        ELSE false END AS identity_is_email,
      -- templates/finding_desc.txt, the whole rendered text trimmed.
      tr(coalesce(policy_name, 'DSPM alert') || ' (' || CASE WHEN risk_n = '' THEN 'no risk rating' ELSE risk_t || ' risk' END ||
        ') on ' || concat_ws(' ', nullif(coalesce(resource_type, 'resource'), ''), nullif(coalesce(resource_name, resource_id), '')) ||
        ' in ' || coalesce(csp, 'cloud') || ' account ' || coalesce(account_name, account_id, 'unknown') || E'.\n' ||
        coalesce(alert_description, '')) AS finding_desc,
      -- templates/resource_details.txt (it starts and ends with printable text: nothing to trim).
      'Resource ' || coalesce(resource_name, resource_id, 'unknown') || ' (' || coalesce(resource_type, 'unknown type') ||
        coalesce(', id ' || resource_id, '') || ') in ' || coalesce(csp, '') || ' account ' || coalesce(account_id, 'unknown') ||
        coalesce(', region ' || region, '') ||
        coalesce('; cluster ' || cluster_name || coalesce(' (' || cluster_type || ')', ''), '') ||
        coalesce('; namespace ' || namespace, '') || '. Owner: ' || coalesce(identity_name, identity_id, 'unknown') ||
        ' (' || coalesce(identity_type, 'unknown type') || ', via ' || coalesce(identity_source, 'unknown source') || ').' AS details
    FROM sorted
  ), derived AS (
    SELECT *,
      CASE act WHEN 1 THEN 'Create' WHEN 2 THEN 'Update' WHEN 3 THEN 'Close' ELSE 'Other' END AS act_caption,
      -- tags_kv(): a list of "k:v" from a list, an object (sorted by key) or
      -- one "k:v,k:v" string; blanks trimmed, empty tags dropped (an empty
      -- list is written as no list: OCSF has no empty arrays).
      CASE tags_type
        WHEN 'ARRAY' THEN list_filter(list_transform(from_json(tags, '["VARCHAR"]'), x -> tr(x)), x -> x <> '')
        WHEN 'OBJECT' THEN list_transform(list_filter(list_sort(map_entries(from_json(tags, '"MAP(VARCHAR, VARCHAR)"'))),
          e -> tr(e.key) <> ''), e -> tr(e.key) || ':' || coalesce(tr(e.value), ''))
        WHEN 'VARCHAR' THEN list_filter(list_transform(string_split(tags ->> '$', ','), x -> tr(x)), x -> x <> '')
        ELSE [] END AS labels
    FROM looked_up
  )
  SELECT
    act AS activity_id,
    CASE WHEN act = 99 THEN status_other ELSE act_caption END AS activity_name,
    'Findings' AS category_name, 2 AS category_uid, 'Security Finding' AS class_name, 2001 AS class_uid,
    {account: CASE WHEN account_name IS NOT NULL OR account_id IS NOT NULL THEN {name: account_name, uid: account_id} END,
     org: CASE WHEN organisation_name IS NOT NULL OR organisation_id IS NOT NULL THEN {name: organisation_name, uid: organisation_id} END,
     provider: coalesce(csp, 'unknown'), region: region} AS cloud,
    CASE WHEN compliance_benchmark IS NOT NULL OR compliance_control_number IS NOT NULL THEN
      {requirements: list_filter([compliance_benchmark, compliance_control_number], x -> x IS NOT NULL),
       standards: [coalesce(compliance_benchmark, 'unspecified')]} END AS compliance,
    {created_time: created_ms, created_time_dt: make_timestamptz(created_ms * 1000), "desc": finding_desc,
     modified_time: modified_ms, modified_time_dt: make_timestamptz(modified_ms * 1000),
     title: coalesce(policy_name, 'DSPM alert'), types: CASE WHEN policy_type IS NOT NULL THEN [policy_type] END,
     uid: alert_id} AS finding,
    alert_description AS message,
    {product: {name: 'dspm', vendor_name: 'zscaler', version: '2.2'}, profiles: ['cloud', 'datetime'], version: '1.1.0'} AS metadata,
    [{"data": '{' || concat_ws(',', '"account_uid":' || to_json_str(account_id), '"associatedCloud":' || to_json_str(associated_cloud),
        '"clusterName":' || to_json_str(cluster_name), '"clusterType":' || to_json_str(cluster_type),
        '"details":' || to_json(details)) || '}',
      labels: CASE WHEN len(labels) > 0 THEN labels END, name: coalesce(resource_name, ''), namespace: namespace,
      owner: {domain: identity_source,
              email_addr: CASE WHEN identity_is_email THEN identity_t END,
              groups: CASE WHEN identity_power_category IS NOT NULL THEN [{name: identity_power_category}] END,
              name: CASE WHEN identity_is_email THEN '' ELSE coalesce(identity_name, '') END,
              type: identity_type, type_id: 0, uid: identity_id},
      type: resource_type, uid: resource_id}] AS resources,
    CASE sev WHEN 0 THEN 'Unknown' WHEN 1 THEN 'Informational' WHEN 2 THEN 'Low' WHEN 3 THEN 'Medium'
      WHEN 4 THEN 'High' WHEN 5 THEN 'Critical' ELSE risk_t END AS severity,
    sev AS severity_id,
    CASE st WHEN 1 THEN 'New' WHEN 2 THEN 'In Progress' WHEN 3 THEN 'Suppressed' WHEN 4 THEN 'Resolved'
      ELSE status_other END AS state,
    st AS state_id,
    nullif(status_t, '') AS status,
    alert_status_description AS status_detail,
    t AS "time", time_dt,
    'Security Finding: ' || act_caption AS type_name,
    (200100 + act)::BIGINT AS type_uid,
    '{' || concat_ws(',', '"age":' || age::VARCHAR, '"theme":' || to_json_str(policy_theme),
      '"threat_category":' || to_json_str(policy_threat_category)) || '}' AS unmapped,
    region,
    "accountId",
    strftime(make_timestamp(t * 1000), '%Y%m%d') AS "eventDay"
  FROM derived
) TO '${OUT}' (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1, WRITE_BLOOM_FILTER false,
  PARTITION_BY (region, "accountId", "eventDay"));
