// Package store delivers finished Parquet files to where they belong: a local
// folder laid out like a Security Lake bucket, or the Amazon Security Lake S3
// bucket itself, reached through the role Security Lake created for the custom
// source (STS AssumeRole with an External ID). It also owns Test Connection
// and the integration status (Pending → Success / Failed) kept in a state
// folder. The integration file (what to deliver where) is package
// engine/integration's, which builds on this one.
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
// object has the file's size. Keys are derived from what a file holds
// (engine.Deliver names files after their batch), so uploading a file again
// — after a crash, or when its batch is delivered again — overwrites rather
// than duplicates.
package store
