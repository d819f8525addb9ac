// Package store delivers finished Parquet files to where they belong: a local
// folder laid out like a Security Lake bucket, or the Amazon Security Lake S3
// bucket itself, reached through the role Security Lake created for the custom
// source (STS AssumeRole with an External ID). It also owns the integration
// file (what to deliver where), Test Connection, and the integration status
// (Pending → Success / Failed) kept in a state folder.
//
// It is the only package that imports the AWS SDK.
//
// # Delivery contract
//
// The lake writer finishes files in a staging folder under the exact keys the
// bucket uses (<prefix>region=<r>/accountId=<a>/eventDay=<YYYYMMDD>/<uuid>.parquet),
// writing under a temporary name (a leading "." or a ".tmp" suffix) and
// renaming when complete. A [Deliverer] uploads complete files, one key per
// file, and removes the staged copy only once the destination confirms the
// object has the file's size. A crash between upload and removal leaves the
// file staged; the next run uploads it again to the same key, which overwrites
// rather than duplicates.
//
// # Diagnostic codes for integration files
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
//	C120 a rule without name or scope, or a rule name used twice
//	C121 warning: every rule is disabled, so nothing will be exported
package store
