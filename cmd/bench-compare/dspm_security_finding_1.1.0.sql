-- mappings/zscaler-dspm/security_finding_1.1.0.yaml written as plain DuckDB
-- SQL: the first version of make bench-compare's opponent (configs duckdbold1,
-- duckdbold2), kept to show what dspm_security_finding_1.1.0_expert.sql's care
-- is worth. It is not quite ocsfmap's job (duckdb_equal.cjs says where): the
-- *_dt columns are local microsecond timestamps, type_uid is INT32, an absent
-- organisation is a struct of NULLs, and ORDER BY "time" alone leaves rows of
-- a partition out of order in DuckDB's partitioned writer.
-- bench/duckdb_copy.cjs replaces ${INPUT} and ${OUT}, and ${ORDER_BY} with
-- ORDER BY "time" (ocsfmap's files are sorted by time; DUCKDB_SORT=0 leaves
-- the order to DuckDB, which then does less than ocsfmap does).

-- epoch_ms(): ISO-8601 text, or epoch seconds / ms / µs as a number or
-- numeric string, told apart by magnitude (engine/exprenv/func_epoch_ms.go).
CREATE MACRO ems_num(n) AS CASE
  WHEN n IS NULL OR n <= 0 THEN NULL
  WHEN n < 1e11 THEN floor(round(n * 1e6) / 1e3)::BIGINT
  WHEN n < 1e14 THEN floor(n)::BIGINT
  WHEN n < 1e17 THEN floor(n / 1e3)::BIGINT
  ELSE floor(n / 1e6)::BIGINT END;
CREATE MACRO ems(s) AS CASE
  WHEN s IS NULL THEN NULL
  WHEN length(tr(s)) >= 10 AND substr(tr(s), 5, 1) = '-' THEN epoch_ms(try_cast(tr(s) AS TIMESTAMPTZ))
  ELSE ems_num(try_cast(tr(s) AS DOUBLE)) END;
-- Go's strings.TrimSpace: DuckDB's trim() takes only spaces.
CREATE MACRO tr(s) AS trim(s, ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13));
CREATE MACRO norm(s) AS lower(tr(coalesce(s, '')));
CREATE MACRO is_email(s) AS coalesce(regexp_full_match(s, '[a-zA-Z0-9_.+-]+@[a-zA-Z0-9-]+\.[a-zA-Z0-9-.]+'), false);
-- tags_kv(): a list of "k:v" strings from a list, an object (sorted by key)
-- or one "k:v,k:v" string.
CREATE MACRO tags_kv(t) AS CASE json_type(t)
  WHEN 'ARRAY' THEN list_filter(list_transform(json_extract_string(t, '$[*]'), x -> tr(x)), x -> x <> '')
  WHEN 'OBJECT' THEN list_transform(list_sort(map_entries(json_transform(t, '"MAP(VARCHAR, VARCHAR)"'))), e -> e.key || ':' || e.value)
  WHEN 'VARCHAR' THEN list_filter(list_transform(string_split(json_extract_string(t, '$'), ','), x -> tr(x)), x -> x <> '')
  ELSE [] END;
CREATE MACRO activity_id(s) AS CASE norm(s) WHEN 'open' THEN 1 WHEN 'reopened' THEN 2 WHEN 'in progress' THEN 2
  WHEN 'snoozed' THEN 2 WHEN 'ignored' THEN 2 WHEN 'resolved' THEN 3 WHEN 'closed' THEN 3 ELSE 99 END;
CREATE MACRO state_id(s) AS CASE norm(s) WHEN 'open' THEN 1 WHEN 'reopened' THEN 1 WHEN 'in progress' THEN 2
  WHEN 'snoozed' THEN 3 WHEN 'ignored' THEN 3 WHEN 'resolved' THEN 4 WHEN 'closed' THEN 4 ELSE 99 END;
CREATE MACRO severity_id(s) AS CASE norm(s) WHEN 'critical' THEN 5 WHEN 'high' THEN 4 WHEN 'medium' THEN 3
  WHEN 'low' THEN 2 WHEN 'info' THEN 1 WHEN 'informational' THEN 1 WHEN '' THEN 0 ELSE 99 END;
-- The caption of 99 Other is the source value, as the plan writes it.
CREATE MACRO other(s) AS CASE WHEN tr(coalesce(s, '')) = '' THEN 'Other' ELSE tr(s) END;

SET TimeZone = 'UTC';

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
  ), m AS (
    SELECT *, coalesce(ems(csp_event_timestamp), ems(alert_updated_dt), ems(alert_created_dt)) AS t,
      activity_id(alert_status) AS act, state_id(alert_status) AS st, severity_id(risk) AS sev
    FROM src
  )
  SELECT
    act AS activity_id,
    CASE act WHEN 1 THEN 'Create' WHEN 2 THEN 'Update' WHEN 3 THEN 'Close' ELSE other(alert_status) END AS activity_name,
    'Findings' AS category_name, 2 AS category_uid, 'Security Finding' AS class_name, 2001 AS class_uid,
    {account: {name: account_name, uid: account_id}, org: {name: organisation_name, uid: organisation_id},
     provider: coalesce(csp, 'unknown'), region: region} AS cloud,
    CASE WHEN compliance_benchmark IS NULL AND compliance_control_number IS NULL THEN NULL ELSE
      {requirements: list_filter([compliance_benchmark, compliance_control_number], x -> x IS NOT NULL),
       standards: [coalesce(compliance_benchmark, 'unspecified')]} END AS compliance,
    {created_time: ems(alert_created_dt), created_time_dt: make_timestamp(ems(alert_created_dt) * 1000),
     "desc": coalesce(policy_name, 'DSPM alert') || ' (' ||
        CASE WHEN norm(risk) = '' THEN 'no risk rating' ELSE tr(risk) || ' risk' END || ') on ' ||
        concat_ws(' ', nullif(coalesce(resource_type, 'resource'), ''), nullif(coalesce(resource_name, resource_id), '')) ||
        ' in ' || coalesce(csp, 'cloud') || ' account ' || coalesce(account_name, account_id, 'unknown') || E'.\n' ||
        coalesce(alert_description, ''),
     modified_time: ems(alert_updated_dt), modified_time_dt: make_timestamp(ems(alert_updated_dt) * 1000),
     title: coalesce(policy_name, 'DSPM alert'), types: [policy_type], uid: alert_id} AS finding,
    alert_description AS message,
    {product: {name: 'dspm', vendor_name: 'zscaler', version: '2.2'}, profiles: ['cloud', 'datetime'], version: '1.1.0'} AS metadata,
    [{"data": '{' || concat_ws(',', '"account_uid":' || to_json(account_id), '"associatedCloud":' || to_json(associated_cloud),
        '"clusterName":' || to_json(cluster_name), '"clusterType":' || to_json(cluster_type), '"details":' || to_json(
        'Resource ' || coalesce(resource_name, resource_id, 'unknown') || ' (' || coalesce(resource_type, 'unknown type') ||
        coalesce(', id ' || resource_id, '') || ') in ' || coalesce(csp, '') || ' account ' || coalesce(account_id, 'unknown') ||
        coalesce(', region ' || region, '') ||
        coalesce('; cluster ' || cluster_name || coalesce(' (' || cluster_type || ')', ''), '') ||
        coalesce('; namespace ' || namespace, '') || '. Owner: ' || coalesce(identity_name, identity_id, 'unknown') ||
        ' (' || coalesce(identity_type, 'unknown type') || ', via ' || coalesce(identity_source, 'unknown source') || ').')) || '}',
      labels: tags_kv(tags), name: resource_name, namespace: namespace,
      owner: {domain: identity_source,
              email_addr: CASE WHEN is_email(identity_name) THEN tr(identity_name) END,
              groups: CASE WHEN identity_power_category IS NOT NULL THEN [{name: identity_power_category}] END,
              name: CASE WHEN is_email(identity_name) THEN '' ELSE coalesce(identity_name, '') END,
              type: identity_type, type_id: 0, uid: identity_id},
      type: resource_type, uid: resource_id}] AS resources,
    CASE sev WHEN 0 THEN 'Unknown' WHEN 1 THEN 'Informational' WHEN 2 THEN 'Low' WHEN 3 THEN 'Medium'
      WHEN 4 THEN 'High' WHEN 5 THEN 'Critical' ELSE other(risk) END AS severity,
    sev AS severity_id,
    CASE st WHEN 1 THEN 'New' WHEN 2 THEN 'In Progress' WHEN 3 THEN 'Suppressed' WHEN 4 THEN 'Resolved'
      ELSE other(alert_status) END AS state,
    st AS state_id,
    nullif(tr(coalesce(alert_status, '')), '') AS status,
    alert_status_description AS status_detail,
    t AS "time", make_timestamp(t * 1000) AS time_dt,
    'Security Finding: ' || CASE act WHEN 1 THEN 'Create' WHEN 2 THEN 'Update' WHEN 3 THEN 'Close' ELSE 'Other' END AS type_name,
    200100 + act AS type_uid,
    '{' || concat_ws(',', '"age":' || age::VARCHAR, '"theme":' || to_json(policy_theme),
      '"threat_category":' || to_json(policy_threat_category)) || '}' AS unmapped,
    region,
    CASE WHEN account_id IS NULL THEN NULL WHEN norm(csp) = 'aws' THEN account_id ELSE 'external_' || account_id END AS "accountId",
    strftime(make_timestamp(t * 1000), '%Y%m%d') AS "eventDay"
  FROM m
  WHERE t IS NOT NULL
  ${ORDER_BY}
) TO '${OUT}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (region, "accountId", "eventDay"));
