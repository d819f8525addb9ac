// Command locallake is a Security Lake stand-in on this machine, for trying
// ocsfmap end to end without an AWS account: versitygw (a real S3 server,
// installed by `make tools`) with the lake's bucket, and a stand-in STS
// that lets the writer assume the custom source's role with an External ID.
// It writes an integration file for the bucket and runs a command with the
// AWS environment pointing at both:
//
//	go run ./cmd/locallake -- bin/ocsfmap serve -c out/local-lake/integrations
//
// Without a command it prints the environment and waits for Ctrl-C. The
// bucket's objects are files under DIR/s3/BUCKET/.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/ocsfmap/ocsfmap/engine/store/s3test"
)

const (
	writerKey    = "AKIALOCALLAKEWRITER1"
	writerSecret = "locallake-writer-secret-not-for-aws"
	account      = "111122223333"
)

func main() {
	dir := flag.String("dir", "out/local-lake", "`folder` for the bucket's files and the integration file")
	region := flag.String("region", "us-east-2", "the lake's region")
	bucket := flag.String("bucket", "aws-security-data-lake-us-east-2-local", "the lake's bucket")
	source := flag.String("source", "dspmalerts", "the custom source name")
	mapping := flag.String("mapping", "mappings/zscaler-dspm/security_finding_1.1.0.yaml", "the integration's mapping")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: locallake [flags] [-- COMMAND ARGS…]\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := run(*dir, *region, *bucket, *source, *mapping, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "locallake:", err)
		os.Exit(1)
	}
}

func run(dir, region, bucket, source, mapping string, command []string) error {
	if os.Getenv("OCSFMAP_TOOLS") == "" {
		os.Setenv("OCSFMAP_TOOLS", ".tools")
	}
	role := fmt.Sprintf("arn:aws:iam::444455556666:role/AmazonSecurityLake-Provider-%s-%s", source, region)
	lake, err := s3test.StartLake(s3test.LakeConfig{Dir: filepath.Join(dir, "s3"), Region: region, Bucket: bucket,
		RoleARN: role, ExternalID: s3test.AnyExternalID, Account: account, WriterKey: writerKey, WriterSecret: writerSecret})
	if err != nil {
		return err
	}
	defer lake.Close()

	absMapping, err := filepath.Abs(mapping)
	if err != nil {
		return err
	}
	integDir := filepath.Join(dir, "integrations")
	if err := os.MkdirAll(integDir, 0o755); err != nil {
		return err
	}
	integ := filepath.Join(integDir, "dspm.yaml")
	if _, err := os.Stat(integ); os.IsNotExist(err) {
		body := fmt.Sprintf(`# Written by locallake: the local stand-in of a Security Lake custom source.
name: dspm
destination: amazon-security-lake
mapping: %s
role_arn: %s
external_id: local-external-id-0001
bucket: %s
region: %s
prefix: ext/%s/
path_style: true
`, absMapping, role, bucket, region, source)
		if err := os.WriteFile(integ, []byte(body), 0o600); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "locallake: S3 %s (bucket %s, files under %s), STS %s\n", lake.S3.Endpoint, bucket, filepath.Join(dir, "s3", bucket), lake.STS.URL)
	fmt.Fprintf(os.Stderr, "locallake: role %s trusts any External ID; writer account %s\n", role, account)
	fmt.Fprintf(os.Stderr, "locallake: integration file %s\n", integ)
	if len(command) == 0 {
		for k, v := range lake.Env {
			fmt.Printf("export %s=%q\n", k, v)
		}
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		return nil
	}
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = lake.Environ(os.Environ())
	// Signals go to the command, which decides when to stop.
	signal.Ignore(os.Interrupt, syscall.SIGTERM)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", command[0], err)
	}
	return nil
}
