// Package integration is the integration file's language: what a mapping's
// output is delivered to (an Amazon Security Lake custom source, one per
// OCSF class the mapping emits), through which role, filtered by which alert
// rules. It parses and checks a file with positioned diagnostics, and
// renders one back (integration init, the console). Reaching the bucket is
// package store's: an Integration gives its S3Options and a Deliverer.
//
// # Diagnostic codes
//
//	C100 the file is not YAML, or not a mapping of keys
//	C101 unknown key                       (fix: the key names listed in the message)
//	C102 required key missing
//	C103 wrong value type (string, boolean, list or mapping expected)
//	C104 key given twice
//	C110 destination is not amazon-security-lake
//	C111 role_arn is not an IAM role ARN
//	C112 external_id empty or holding characters STS rejects
//	C113 bucket breaks the S3 bucket naming rules
//	C114 region is not an AWS region name
//	C115 prefix is not ext/<source>/ with a source name of at most 20 characters
//	     (warning when it was only normalized: leading "/" or missing trailing "/")
//	C116 source_version holds characters other than letters, digits, . _ -
//	C117 mapping file not found
//	C118 name empty or not usable as a folder name
//	C119 custom_sources: missing for a mapping that emits several classes, a
//	     class the mapping emits without a source, a class it never emits, a
//	     prefix used twice, or given together with prefix
//	C120 a rule without name or scope, or a rule name used twice
//	C121 warning: every rule is disabled, so nothing will be exported
//	C122 on_scope_error is not dead_letter, skip or export
//	C123 warning: a scope calls lower, upper or trim on a field an alert may
//	     lack (the scope then fails for such an alert)
package integration
