package store

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeS3 answers every request with one canned response, for the failures
// versitygw cannot be made to produce (a role denied by bucket policy).
func fakeS3(t *testing.T, status int, header map[string]string, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		if r.Method != http.MethodHead {
			w.Write([]byte(body))
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func TestFailureKinds(t *testing.T) {
	accessDenied := `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`
	for _, tc := range []struct {
		name     string
		s3       func(t *testing.T) string // endpoint
		sts      func(t *testing.T) string // "" = the granting fake STS
		noCreds  bool
		connect  Kind // Connect's kind (KindOther = no error)
		upload   Kind
		attempts int64 // Put calls by the Deliverer (Attempts: 3)
		message  string
	}{
		{
			name:     "bucket access denied",
			s3:       func(t *testing.T) string { return fakeS3(t, 403, nil, accessDenied) },
			connect:  KindOther, // HeadBucket's 403 proves the bucket exists; writing is what fails
			upload:   KindAccessDenied,
			attempts: 1,
			message:  `access denied on bucket "lake": the assumed role may not write there`,
		},
		{
			name: "redirect to the bucket's region",
			s3: func(t *testing.T) string {
				return fakeS3(t, 301, map[string]string{"X-Amz-Bucket-Region": "eu-central-1"}, "")
			},
			connect:  KindWrongRegion,
			upload:   KindWrongRegion,
			attempts: 1,
			message:  "(it is in eu-central-1): set region: eu-central-1",
		},
		{
			name:     "S3 endpoint unreachable",
			s3:       closedAddr,
			connect:  KindUnreachable,
			upload:   KindUnreachable,
			attempts: 3,
			message:  "cannot reach http://127.0.0.1:",
		},
		{
			name:     "STS endpoint unreachable",
			s3:       func(t *testing.T) string { return vgw.Endpoint },
			sts:      closedAddr,
			connect:  KindUnreachable,
			upload:   KindUnreachable,
			attempts: 3,
			message:  "cannot reach the STS endpoint",
		},
		{
			name:     "no credentials for the writer",
			s3:       func(t *testing.T) string { return vgw.Endpoint },
			noCreds:  true,
			connect:  KindCredentials,
			upload:   KindCredentials,
			attempts: 1,
			message:  "no usable AWS credentials for the writer",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			newSTS(t)
			if tc.sts != nil {
				t.Setenv("AWS_ENDPOINT_URL_STS", tc.sts(t))
			}
			if tc.noCreds {
				t.Setenv("AWS_ACCESS_KEY_ID", "")
				t.Setenv("AWS_SECRET_ACCESS_KEY", "")
			}
			t.Setenv("AWS_ENDPOINT_URL_S3", tc.s3(t))
			bucket := "lake"
			if tc.s3(t) == vgw.Endpoint {
				bucket = newBucket(t)
			}
			dst := s3Dest(t, bucket, func(o *S3Options) { o.MaxAttempts = 1 })
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()

			_, err := dst.Connect(ctx, testPrefix, false)
			if tc.connect == KindOther && err != nil || tc.connect != KindOther && KindOf(err) != tc.connect {
				t.Errorf("Connect: %v (kind %v), want kind %v", err, KindOf(err), tc.connect)
			}

			staging := t.TempDir()
			k := partKey("20240101", "a")
			stage(t, staging, k, 10)
			cd := &countingDest{Destination: dst}
			d := NewDeliverer(cd, DeliverOptions{Attempts: 3, MinBackoff: time.Millisecond, Logger: quiet(t)})
			err = d.Upload(ctx, k, filepath.Join(staging, filepath.FromSlash(k)))
			if KindOf(err) != tc.upload {
				t.Errorf("Upload: %v (kind %v), want kind %v", err, KindOf(err), tc.upload)
			}
			if err != nil && !strings.Contains(err.Error(), tc.message) {
				t.Errorf("Upload message %q lacks %q", err, tc.message)
			}
			if n := cd.puts.Load(); n != tc.attempts {
				t.Errorf("%d attempts, want %d", n, tc.attempts)
			}
		})
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{KindOther: "other", KindRoleRefused: "role-refused", KindUnreachable: "unreachable", Kind(99): "kind(99)"} {
		if k.String() != want {
			t.Errorf("%d: %q, want %q", k, k.String(), want)
		}
	}
}
