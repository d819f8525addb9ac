package store

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// S3Options says how to reach a Security Lake bucket. Credentials are not
// among them: the writer's own come from the standard AWS chain (environment,
// shared config and profiles, web identity, container and instance roles),
// and are exchanged for the custom source role's through STS AssumeRole with
// the External ID. Endpoints follow the SDK's standard overrides
// (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_STS, or
// endpoint_url in the shared config).
type S3Options struct {
	Bucket     string
	Region     string
	RoleARN    string // empty: use the writer's credentials directly (no AssumeRole)
	ExternalID string
	PathStyle  bool // path-style addressing, for S3-compatible servers

	SessionName string        // AssumeRole session name; default "ocsfmap"
	Duration    time.Duration // assumed-role session length; default 1h

	// MultipartThreshold is the size from which a file goes up as a
	// multipart upload (default 16 MiB); PartSize the part size (default
	// 8 MiB, at least 5 MiB as S3 requires); Concurrency the parts in flight
	// per file (default 4).
	MultipartThreshold int64
	PartSize           int64
	Concurrency        int

	// MaxAttempts is the SDK retryer's attempts per request (default 6).
	MaxAttempts int
}

const (
	defaultMultipartThreshold = 16 << 20
	defaultPartSize           = 8 << 20
	minPartSize               = 5 << 20
	// credentialsExpiryWindow refreshes assumed-role credentials this long
	// before they expire, so no request is signed with a key about to lapse.
	credentialsExpiryWindow = 5 * time.Minute
)

// S3 is the Security Lake bucket as a Destination. It is safe for concurrent use.
type S3 struct {
	opts     S3Options
	client   *s3.Client
	tm       *transfermanager.Client
	creds    aws.CredentialsProvider
	endpoint string
}

var _ Destination = (*S3)(nil)

// NewS3 loads the writer's AWS configuration and prepares the S3 client that
// signs with the assumed role. No request is made until the first upload or
// Connect.
func NewS3(ctx context.Context, o S3Options) (*S3, error) {
	if o.Bucket == "" || o.Region == "" {
		return nil, fmt.Errorf("s3 destination: bucket and region are required")
	}
	if o.SessionName == "" {
		o.SessionName = "ocsfmap"
	}
	if o.Duration == 0 {
		o.Duration = time.Hour
	}
	if o.MultipartThreshold <= 0 {
		o.MultipartThreshold = defaultMultipartThreshold
	}
	if o.PartSize <= 0 {
		o.PartSize = defaultPartSize
	}
	o.PartSize = max(o.PartSize, minPartSize)
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 6
	}
	cfg, err := loadConfig(ctx, o.Region, o.MaxAttempts)
	if err != nil {
		return nil, err
	}
	d := &S3{opts: o}
	if o.RoleARN != "" {
		stsClient := sts.NewFromConfig(cfg)
		provider := stscreds.NewAssumeRoleProvider(stsClient, o.RoleARN, func(ao *stscreds.AssumeRoleOptions) {
			ao.RoleSessionName = o.SessionName
			ao.Duration = o.Duration
			if o.ExternalID != "" {
				ao.ExternalID = aws.String(o.ExternalID)
			}
		})
		d.creds = aws.NewCredentialsCache(provider, func(co *aws.CredentialsCacheOptions) {
			co.ExpiryWindow = credentialsExpiryWindow
		})
		cfg.Credentials = d.creds
	} else {
		d.creds = cfg.Credentials
	}
	d.client = s3.NewFromConfig(cfg, func(so *s3.Options) {
		so.UsePathStyle = o.PathStyle
	})
	if ep := d.client.Options().BaseEndpoint; ep != nil {
		d.endpoint = *ep
	} else {
		d.endpoint = "s3." + o.Region + ".amazonaws.com"
	}
	d.tm = transfermanager.New(d.client, func(to *transfermanager.Options) {
		to.MultipartUploadThreshold = o.MultipartThreshold
		to.PartSizeBytes = o.PartSize
		to.Concurrency = o.Concurrency
		// Abort a failed multipart upload even when the caller's context is gone,
		// so no orphaned parts are left billing in the bucket.
		to.FailTimeout = 30 * time.Second
	})
	return d, nil
}

// loadConfig reads the standard chain with a retryer patient enough to ride
// out a restarting endpoint: more attempts, and no client-side retry quota
// (which would otherwise run dry while the endpoint is down).
func loadConfig(ctx context.Context, region string, attempts int) (aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx,
		config.WithRegion(region),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(so *retry.StandardOptions) {
				so.MaxAttempts = attempts
				so.MaxBackoff = 5 * time.Second
				so.RateLimiter = ratelimit.None
			})
		}),
	)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	return cfg, nil
}

// String names the destination without anything secret.
func (d *S3) String() string { return "s3://" + d.opts.Bucket }

// Put uploads the file at localPath as key: one PutObject below the multipart
// threshold, a multipart upload above it. S3 answers either only once the
// object is stored (and the SDK's CRC32 checksum verified), which is the
// confirmation: the Security Lake provider role may write but not read, so no
// HeadObject is made.
func (d *S3) Put(ctx context.Context, key, localPath string) (int64, error) {
	f, err := os.Open(localPath)
	if err != nil {
		return 0, fmt.Errorf("upload %s: %w", key, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("upload %s: %w", key, err)
	}
	_, err = d.tm.UploadObject(ctx, &transfermanager.UploadObjectInput{
		Bucket:      aws.String(d.opts.Bucket),
		Key:         aws.String(key),
		Body:        f,
		ContentType: aws.String(contentType(key)),
	})
	if err != nil {
		return 0, classify(err, "upload "+key, d.opts.Bucket, d.opts.RoleARN, d.endpoint)
	}
	return fi.Size(), nil
}

func contentType(key string) string {
	if path.Ext(key) == ".parquet" {
		return "application/vnd.apache.parquet"
	}
	return "application/octet-stream"
}

// ConnectReport lists what a connection test established, one line a step.
type ConnectReport struct {
	Steps []string
}

// Connect is Test Connection: assume the role with the External ID, check the
// bucket exists in the region, and with writeProbe put then delete a small
// probe object under keyPrefix. The error is an *Error naming what to fix.
func (d *S3) Connect(ctx context.Context, keyPrefix string, writeProbe bool) (ConnectReport, error) {
	var r ConnectReport
	creds, err := d.creds.Retrieve(ctx)
	if err != nil {
		return r, classify(err, "assume role", d.opts.Bucket, d.opts.RoleARN, d.endpoint)
	}
	if d.opts.RoleARN != "" {
		line := "assumed " + d.opts.RoleARN + " with the External ID"
		if creds.CanExpire {
			line += fmt.Sprintf(" (credentials valid until %s, refreshed %s before)", creds.Expires.UTC().Format(time.RFC3339), credentialsExpiryWindow)
		}
		r.Steps = append(r.Steps, line)
	}
	_, err = d.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(d.opts.Bucket)})
	err = classify(err, "head bucket", d.opts.Bucket, d.opts.RoleARN, d.endpoint)
	switch {
	case err == nil:
		r.Steps = append(r.Steps, fmt.Sprintf("bucket %s exists in %s", d.opts.Bucket, d.opts.Region))
	case KindOf(err) == KindAccessDenied:
		// A 403 proves the bucket exists; Security Lake's provider role may
		// write under the prefix without being allowed to list the bucket.
		r.Steps = append(r.Steps, fmt.Sprintf("bucket %s exists (the role may not list it, which Security Lake's provider role does not need)", d.opts.Bucket))
		if !writeProbe {
			r.Steps = append(r.Steps, "run with --write-probe to check the role can write under the prefix")
		}
	default:
		return r, err
	}
	if !writeProbe {
		return r, nil
	}
	suffix, err := NewExternalID()
	if err != nil {
		return r, err
	}
	key := keyPrefix + ".ocsfmap-probe-" + suffix[:12]
	_, err = d.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:      aws.String(d.opts.Bucket),
		Key:         aws.String(key),
		Body:        bytes.NewReader([]byte("ocsfmap connection probe\n")),
		ContentType: aws.String("text/plain"),
	})
	if err != nil {
		return r, classify(err, "write probe "+key, d.opts.Bucket, d.opts.RoleARN, d.endpoint)
	}
	r.Steps = append(r.Steps, "wrote probe object "+key)
	_, err = d.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(d.opts.Bucket), Key: aws.String(key)})
	if err != nil {
		// Writing is what delivery needs; a role without s3:DeleteObject is
		// normal, but the stray object should be known.
		r.Steps = append(r.Steps, fmt.Sprintf("could not delete the probe object (%v); delete s3://%s/%s by hand", causeText(err), d.opts.Bucket, key))
		return r, nil
	}
	r.Steps = append(r.Steps, "deleted probe object")
	return r, nil
}

// CallerAccount returns the AWS account of the writer's own credentials
// (STS GetCallerIdentity): the account Security Lake's custom source trusts.
func CallerAccount(ctx context.Context, region string) (string, error) {
	cfg, err := loadConfig(ctx, region, 3)
	if err != nil {
		return "", err
	}
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", classify(err, "get caller identity", "", "", "")
	}
	return aws.ToString(out.Account), nil
}

// validKey rejects keys that would escape the prefix or the local folder.
func validKey(key string) error {
	if key == "" || strings.HasPrefix(key, "/") || strings.HasSuffix(key, "/") || strings.Contains(key, "\\") {
		return fmt.Errorf("invalid object key %q", key)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("invalid object key %q", key)
		}
	}
	return nil
}
