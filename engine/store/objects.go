package store

import (
	"context"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Objects reads and writes objects with the writer's own credentials (the
// standard AWS chain, no AssumeRole): alert files dropped in a staging
// bucket, which the Lambda function reads when S3 notifies it, and dead
// letters kept outside the lake. It is safe for concurrent use.
type Objects struct {
	client *s3.Client
	region string
}

// NewObjects prepares the client; no request is made until Get or Put.
// region is the default; a Get may name the bucket's own.
func NewObjects(ctx context.Context, region string, pathStyle bool) (*Objects, error) {
	cfg, err := loadConfig(ctx, region, 4)
	if err != nil {
		return nil, err
	}
	c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = pathStyle })
	return &Objects{client: c, region: region}, nil
}

// ObjectInfo is what a Get learned of the object besides its bytes.
type ObjectInfo struct {
	ETag      string
	VersionID string
	Size      int64
}

// Get opens one object for reading; the caller closes it. versionID may be
// empty (the latest version); region empty uses the client's. The error is
// an *Error sorted by what to fix (KindOf).
func (o *Objects) Get(ctx context.Context, region, bucket, key, versionID string) (io.ReadCloser, ObjectInfo, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if versionID != "" {
		in.VersionId = aws.String(versionID)
	}
	var opts []func(*s3.Options)
	if region != "" && region != o.region {
		opts = append(opts, func(so *s3.Options) { so.Region = region })
	}
	out, err := o.client.GetObject(ctx, in, opts...)
	if err != nil {
		return nil, ObjectInfo{}, classify(err, fmt.Sprintf("get s3://%s/%s", bucket, key), bucket, "", "")
	}
	return out.Body, ObjectInfo{ETag: aws.ToString(out.ETag), VersionID: aws.ToString(out.VersionId), Size: aws.ToInt64(out.ContentLength)}, nil
}

// Put stores body as one object (PutObject: meant for small objects, such
// as a batch's dead letters).
func (o *Objects) Put(ctx context.Context, bucket, key, contentType string, body io.ReadSeeker) error {
	_, err := o.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: body, ContentType: aws.String(contentType),
	})
	if err != nil {
		return classify(err, fmt.Sprintf("put s3://%s/%s", bucket, key), bucket, "", "")
	}
	return nil
}
