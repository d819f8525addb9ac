// Package s3test starts the servers the store tests run against: versitygw
// (a real S3-compatible server that enforces SigV4) on 127.0.0.1 with its
// posix backend, and a fake STS that answers AssumeRole with versitygw's
// root keys after checking the role ARN and External ID.
package s3test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Binary finds versitygw: $OCSFMAP_TOOLS/bin/versitygw (the Makefile sets
// it), else on PATH. The error says how to install it.
func Binary() (string, error) {
	if dir := os.Getenv("OCSFMAP_TOOLS"); dir != "" {
		p := filepath.Join(dir, "bin", "versitygw")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	return "", errors.New("versitygw not found in $OCSFMAP_TOOLS/bin or on PATH: run 'make tools' " +
		"(or .ci/tools-versitygw.sh .tools and set OCSFMAP_TOOLS=$PWD/.tools), then run the tests through 'make test'")
}

// Server is a versitygw process serving a posix folder.
type Server struct {
	Endpoint  string // http://127.0.0.1:<port>
	Addr      string // 127.0.0.1:<port>
	AccessKey string
	SecretKey string
	Region    string
	Dir       string // the posix root: one folder a bucket

	bin    string
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan error
	out    *syncBuffer
}

// syncBuffer collects the process output, written by exec's copying goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// Start runs versitygw on a free port of 127.0.0.1 with the posix backend in
// dir, and waits until it accepts connections.
func Start(dir, region string) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("versitygw root: %w", err)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	s := &Server{
		Addr:      addr,
		Endpoint:  "http://" + addr,
		AccessKey: "OCSFMAPTESTROOTKEY01",
		SecretKey: "ocsfmap-test-root-secret-key-0123456789ab",
		Region:    region,
		Dir:       dir,
		bin:       bin,
	}
	return s, s.Restart()
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Restart starts the server again on the same address after Stop.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("versitygw already running")
	}
	s.out = &syncBuffer{}
	cmd := exec.Command(s.bin, "--port", s.Addr, "--access", s.AccessKey, "--secret", s.SecretKey,
		"--region", s.Region, "--quiet", "posix", s.Dir)
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start versitygw: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		select {
		case err := <-exited:
			return fmt.Errorf("versitygw exited at start (%v): %s", err, s.out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			return fmt.Errorf("versitygw did not listen on %s within 15s: %s", s.Addr, s.out.String())
		}
	}
	s.cmd, s.exited = cmd, exited
	return nil
}

// Stop kills the server; Restart brings it back on the same address.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
	return nil
}

// Output is what versitygw printed, for failure messages.
func (s *Server) Output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.out == nil {
		return ""
	}
	return s.out.String()
}

// Client is an S3 client signed with the root keys, for test setup and
// for reading objects back.
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       s.Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
	})
}

// CreateBucket makes a bucket.
func (s *Server) CreateBucket(ctx context.Context, name string) error {
	_, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", name, err)
	}
	return nil
}

// Objects returns every key in bucket with its size.
func (s *Server) Objects(ctx context.Context, bucket string) (map[string]int64, error) {
	out := map[string]int64{}
	p := s3.NewListObjectsV2Paginator(s.Client(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", bucket, err)
		}
		for _, o := range page.Contents {
			out[aws.ToString(o.Key)] = aws.ToInt64(o.Size)
		}
	}
	return out, nil
}

// Get reads one object.
func (s *Server) Get(ctx context.Context, bucket, key string) ([]byte, *s3.GetObjectOutput, error) {
	out, err := s.Client().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, nil, fmt.Errorf("get %s: %w", key, err)
	}
	defer out.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(out.Body); err != nil {
		return nil, nil, fmt.Errorf("get %s: %w", key, err)
	}
	return b.Bytes(), out, nil
}
