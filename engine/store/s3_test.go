package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocsfmap/ocsfmap/engine/store/s3test"
)

// stage writes a file of n pseudo-random bytes at staging/key.
func stage(t testing.TB, staging, key string, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(uint64(n), uint64(len(key))))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	p := filepath.Join(staging, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

func partKey(day string, name string) string {
	return testPrefix + "region=us-east-2/accountId=123456789012/eventDay=" + day + "/" + name + ".parquet"
}

// quiet is a logger for tests: warnings and errors only, into the test log.
func quiet(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// checkBucket asserts the bucket holds exactly want, byte for byte.
func checkBucket(t *testing.T, srv *s3test.Server, bucket string, want map[string][]byte) {
	t.Helper()
	ctx := context.Background()
	got, err := srv.Objects(ctx, bucket)
	if err != nil {
		t.Fatal(err)
	}
	var gotKeys, wantKeys []string
	for k := range got {
		gotKeys = append(gotKeys, k)
	}
	for k := range want {
		wantKeys = append(wantKeys, k)
	}
	slices.Sort(gotKeys)
	slices.Sort(wantKeys)
	if !slices.Equal(gotKeys, wantKeys) {
		t.Fatalf("bucket keys:\n got %q\nwant %q", gotKeys, wantKeys)
	}
	for k, b := range want {
		body, out, err := srv.Get(ctx, bucket, k)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(body, b) {
			t.Errorf("%s: %d bytes stored differ from the %d staged", k, len(body), len(b))
		}
		if ct := *out.ContentType; strings.HasSuffix(k, ".parquet") && ct != "application/vnd.apache.parquet" {
			t.Errorf("%s: content type %q", k, ct)
		}
	}
}

func TestS3DeliverHappyPath(t *testing.T) {
	sts := newSTS(t)
	bucket := newBucket(t)
	staging := t.TempDir()
	state := t.TempDir()
	want := map[string][]byte{
		partKey("20240105", "0190a1b2-small"): stage(t, staging, partKey("20240105", "0190a1b2-small"), 1234),
		partKey("20240106", "0190a1b3-empty"): stage(t, staging, partKey("20240106", "0190a1b3-empty"), 0),
		partKey("20240106", "0190a1b4-large"): stage(t, staging, partKey("20240106", "0190a1b4-large"), 11<<20+17), // 3 parts of 5 MiB
		testPrefix + "region=eu-west-1/accountId=external/eventDay=20240106/0190a1b5.parquet": stage(t, staging,
			testPrefix+"region=eu-west-1/accountId=external/eventDay=20240106/0190a1b5.parquet", 4096),
	}
	// Still being written: must stay.
	tmp := filepath.Join(staging, filepath.FromSlash(partKey("20240106", ".0190a1b6.parquet.tmp")))
	os.WriteFile(tmp, []byte("partial"), 0o644)
	// A spill folder of the lake writer (a crashed run leaves one): never uploaded.
	spill := filepath.Join(staging, ".ocsfmap-spill-123", "run-000001.arrow")
	os.MkdirAll(filepath.Dir(spill), 0o755)
	os.WriteFile(spill, []byte("spill"), 0o644)

	var wantBytes int64
	for _, b := range want {
		wantBytes += int64(len(b))
	}
	if c, err := Staged(staging); err != nil || c != (Counts{4, wantBytes}) {
		t.Errorf("Staged = %+v, %v; want 4 files, %d bytes (the temp file not counted)", c, err, wantBytes)
	}

	dst := s3Dest(t, bucket, func(o *S3Options) { o.MultipartThreshold = 5 << 20; o.PartSize = 5 << 20 })
	d := NewDeliverer(dst, DeliverOptions{KeyPrefix: testPrefix, StateDir: state, Logger: quiet(t)})
	rep, err := d.Deliver(context.Background(), staging)
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	if rep != (Report{Objects: 4, Bytes: wantBytes}) {
		t.Errorf("report %+v, want 4 objects, %d bytes", rep, wantBytes)
	}
	checkBucket(t, vgw, bucket, want)

	// Staging holds only the temp file now; emptied partitions are gone.
	left, _ := scanStaging(staging)
	if len(left) != 0 {
		t.Errorf("staged files left: %v", left)
	}
	if _, err := os.Stat(tmp); err != nil {
		t.Errorf("temp file removed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(staging, "ext", "dspmalerts", "region=eu-west-1")); !os.IsNotExist(err) {
		t.Errorf("empty partition folder kept: %v", err)
	}

	st, err := ReadStatus(state)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != Success || st.Total != (Counts{4, wantBytes}) || st.LastDelivery == nil || st.LastDelivery.Counts != (Counts{4, wantBytes}) {
		t.Errorf("status %+v", st)
	}
	calls := sts.Calls()
	if len(calls) != 1 || calls[0].Action != "AssumeRole" || calls[0].RoleARN != testRoleARN ||
		calls[0].ExternalID != testExternal || calls[0].SessionName != testSessionNm || calls[0].Duration != "3600" {
		t.Errorf("STS calls %+v, want one AssumeRole with the role, External ID and session", calls)
	}
}

func TestS3WrongExternalID(t *testing.T) {
	sts := newSTS(t, func(c *s3test.STSConfig) { c.ExternalID = "the-one-security-lake-expects" })
	bucket := newBucket(t)
	staging, state := t.TempDir(), t.TempDir()
	key := partKey("20240105", "a")
	stage(t, staging, key, 100)

	d := NewDeliverer(s3Dest(t, bucket), DeliverOptions{StateDir: state, Logger: quiet(t)})
	rep, err := d.Deliver(context.Background(), staging)
	if KindOf(err) != KindRoleRefused {
		t.Fatalf("err = %v (kind %v), want role-refused", err, KindOf(err))
	}
	if !strings.Contains(err.Error(), "external_id matches the External ID") || !strings.Contains(err.Error(), testRoleARN) {
		t.Errorf("message does not say what to check: %v", err)
	}
	if rep.Failed != 1 || rep.Objects != 0 {
		t.Errorf("report %+v", rep)
	}
	if _, err := os.Stat(filepath.Join(staging, filepath.FromSlash(key))); err != nil {
		t.Errorf("the staged file must stay for the next run: %v", err)
	}
	if n := sts.AssumeRoleCalls(); n != 1 {
		t.Errorf("AssumeRole called %d times; a refused role is not retried", n)
	}
	st, _ := ReadStatus(state)
	if st.State != Failed || st.Kind != "role-refused" || st.Reason == "" || st.FailedAt.IsZero() {
		t.Errorf("status %+v", st)
	}
	raw, _ := os.ReadFile(filepath.Join(state, StatusFile))
	for _, secret := range []string{writerSecret, vgw.SecretKey, testExternal} {
		if strings.Contains(string(raw), secret) || strings.Contains(err.Error(), secret) {
			t.Errorf("a secret leaked into the status or error: %q", secret)
		}
	}
	objs, _ := vgw.Objects(context.Background(), bucket)
	if len(objs) != 0 {
		t.Errorf("objects uploaded: %v", objs)
	}
}

func TestS3MissingBucket(t *testing.T) {
	newSTS(t)
	staging, state := t.TempDir(), t.TempDir()
	stage(t, staging, partKey("20240105", "a"), 100)
	dst := &countingDest{Destination: s3Dest(t, "no-such-bucket-here")}

	_, err := dst.Destination.(*S3).Connect(context.Background(), testPrefix, false)
	if KindOf(err) != KindNoSuchBucket || !strings.Contains(err.Error(), `bucket "no-such-bucket-here" does not exist`) {
		t.Errorf("Connect: %v (kind %v), want no-such-bucket", err, KindOf(err))
	}
	d := NewDeliverer(dst, DeliverOptions{StateDir: state, Logger: quiet(t), MinBackoff: time.Millisecond})
	_, err = d.Deliver(context.Background(), staging)
	if KindOf(err) != KindNoSuchBucket {
		t.Errorf("Deliver: %v (kind %v), want no-such-bucket", err, KindOf(err))
	}
	if n := dst.puts.Load(); n != 1 {
		t.Errorf("%d attempts; a missing bucket is not retried", n)
	}
	if st, _ := ReadStatus(state); st.State != Failed || st.Kind != "no-such-bucket" {
		t.Errorf("status %+v", st)
	}
}

// countingDest counts Put calls and records successful keys in order.
type countingDest struct {
	Destination
	puts  atomic.Int64
	fails atomic.Int64
	mu    sync.Mutex
	order []string
}

func (c *countingDest) Put(ctx context.Context, key, p string) (int64, error) {
	c.puts.Add(1)
	n, err := c.Destination.Put(ctx, key, p)
	if err != nil {
		c.fails.Add(1)
		return n, err
	}
	c.mu.Lock()
	c.order = append(c.order, key)
	c.mu.Unlock()
	return n, err
}

func TestS3ServerRestartMidRun(t *testing.T) {
	// A server of its own: this test stops it.
	srv, err := s3test.Start(t.TempDir(), testRegion)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	t.Setenv("AWS_ENDPOINT_URL_S3", srv.Endpoint)
	newSTS(t)
	const bucket = "restart-lake"
	if err := srv.CreateBucket(context.Background(), bucket); err != nil {
		t.Fatal(err)
	}
	staging := t.TempDir()
	want := map[string][]byte{}
	for i := range 6 {
		k := partKey("20240105", "f"+string(rune('a'+i)))
		want[k] = stage(t, staging, k, 2000+i)
	}
	// Few SDK attempts, so the whole-file retry loop has to carry the outage.
	dst := &countingDest{Destination: s3Dest(t, bucket, func(o *S3Options) { o.MaxAttempts = 2 })}
	d := NewDeliverer(dst, DeliverOptions{Workers: 1, MinBackoff: 100 * time.Millisecond, MaxBackoff: 400 * time.Millisecond, Attempts: 30, Logger: quiet(t)})
	var restarted sync.WaitGroup
	var once sync.Once
	d.afterPut = func(key string) {
		if dst.puts.Load() == 2 {
			once.Do(func() {
				if err := srv.Stop(); err != nil {
					t.Error(err)
				}
				restarted.Go(func() {
					time.Sleep(1500 * time.Millisecond)
					if err := srv.Restart(); err != nil {
						t.Error(err)
					}
				})
			})
		}
	}
	rep, err := d.Deliver(context.Background(), staging)
	restarted.Wait()
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	if rep.Objects != 6 || rep.Failed != 0 {
		t.Errorf("report %+v", rep)
	}
	if dst.fails.Load() == 0 {
		t.Errorf("no failed attempt seen: the outage did not happen during the run")
	}
	checkBucket(t, srv, bucket, want)
	if len(dst.order) != 6 {
		t.Errorf("confirmed puts %v: each file exactly once", dst.order)
	}
}

func TestS3CredentialsRefreshedBeforeExpiry(t *testing.T) {
	// Valid one second past the refresh window: the cache must renew them
	// before the next request, not after a failed one.
	sts := newSTS(t, func(c *s3test.STSConfig) { c.Lifetime = credentialsExpiryWindow + time.Second })
	bucket := newBucket(t)
	staging := t.TempDir()
	d := NewDeliverer(s3Dest(t, bucket), DeliverOptions{Logger: quiet(t)})
	ctx := context.Background()
	for i, name := range []string{"one", "two"} {
		k := partKey("20240105", name)
		stage(t, staging, k, 10)
		if err := d.Upload(ctx, k, filepath.Join(staging, filepath.FromSlash(k))); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			time.Sleep(1100 * time.Millisecond)
		}
	}
	if n := sts.AssumeRoleCalls(); n != 2 {
		t.Errorf("AssumeRole called %d times, want 2 (initial, then refresh before expiry)", n)
	}
}

func TestS3Connect(t *testing.T) {
	newSTS(t)
	bucket := newBucket(t)
	state := t.TempDir()
	dst := s3Dest(t, bucket)
	rep, err := dst.Connect(context.Background(), testPrefix, true)
	if RecordCheck(state, err) != nil || err != nil {
		t.Fatalf("Connect: %v", err)
	}
	joined := strings.Join(rep.Steps, "\n")
	for _, want := range []string{"assumed " + testRoleARN, "bucket " + bucket + " exists in us-east-2", "wrote probe object " + testPrefix + ".ocsfmap-probe-", "deleted probe object"} {
		if !strings.Contains(joined, want) {
			t.Errorf("steps lack %q:\n%s", want, joined)
		}
	}
	if objs, _ := vgw.Objects(context.Background(), bucket); len(objs) != 0 {
		t.Errorf("probe left behind: %v", objs)
	}
	st, _ := ReadStatus(state)
	if st.State != Pending || st.LastCheck == nil || !st.LastCheck.OK {
		t.Errorf("status after a good check: %+v", st)
	}
}

func TestS3WrongRegion(t *testing.T) {
	newSTS(t)
	bucket := newBucket(t)
	dst := s3Dest(t, bucket, func(o *S3Options) { o.Region = "eu-west-1" })
	_, err := dst.Connect(context.Background(), testPrefix, false)
	if KindOf(err) != KindWrongRegion {
		t.Fatalf("Connect: %v (kind %v), want wrong-region", err, KindOf(err))
	}
	// An upload's answer names the bucket's region, and the message says so.
	staging := t.TempDir()
	k := partKey("20240101", "a")
	stage(t, staging, k, 10)
	err = NewDeliverer(dst, DeliverOptions{Logger: quiet(t)}).Upload(context.Background(), k, filepath.Join(staging, filepath.FromSlash(k)))
	if KindOf(err) != KindWrongRegion || !strings.Contains(err.Error(), "(it is in us-east-2): set region: us-east-2") {
		t.Errorf("Upload: %v (kind %v)", err, KindOf(err))
	}
}

// Many goroutines uploading at once, the same file from two of them (a
// delivery's upload workers); run with -race.
func TestUploadConcurrent(t *testing.T) {
	newSTS(t)
	bucket := newBucket(t)
	for _, tc := range []struct {
		name string
		dst  Destination
	}{
		{"local", NewLocal(t.TempDir())},
		{"s3", s3Dest(t, bucket)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			staging, state := t.TempDir(), t.TempDir()
			d := NewDeliverer(tc.dst, DeliverOptions{StateDir: state, Logger: quiet(t)})
			ctx := context.Background()
			var wg sync.WaitGroup
			var total atomic.Int64
			for g := range 3 {
				wg.Go(func() {
					for i := range 8 {
						k := partKey("2024010"+string(rune('1'+g)), "f"+string(rune('a'+i)))
						total.Add(int64(100 + i))
						stage(t, staging, k, 100+i)
						p := filepath.Join(staging, filepath.FromSlash(k))
						n := 1
						if i%3 == 0 { // every third file twice at once: it goes up once
							n = 2
						}
						var twice sync.WaitGroup
						for range n {
							twice.Go(func() {
								if err := d.Upload(ctx, k, p); err != nil {
									t.Error(err)
								}
							})
						}
						twice.Wait()
					}
				})
			}
			wg.Wait()
			st, _ := ReadStatus(state)
			if st.Total.Objects != 24 || st.Total.Bytes != total.Load() {
				t.Errorf("status totals %+v, want 24 objects, %d bytes", st.Total, total.Load())
			}
		})
	}
}

func TestDeliverRefusesKeysOutsidePrefix(t *testing.T) {
	staging := t.TempDir()
	stage(t, staging, "ext/other/region=x/a.parquet", 10)
	d := NewDeliverer(NewLocal(t.TempDir()), DeliverOptions{KeyPrefix: testPrefix, Logger: quiet(t)})
	rep, err := d.Deliver(context.Background(), staging)
	if err == nil || !strings.Contains(err.Error(), "outside the integration's prefix") || rep.Failed != 1 {
		t.Errorf("rep %+v err %v", rep, err)
	}
}

func TestDeliverCancelled(t *testing.T) {
	staging := t.TempDir()
	stage(t, staging, partKey("20240101", "a"), 10)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d := NewDeliverer(NewLocal(t.TempDir()), DeliverOptions{Logger: quiet(t)})
	_, err := d.Deliver(ctx, staging)
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("err %v", err)
	}
	if left, _ := scanStaging(staging); len(left) != 1 {
		t.Errorf("a cancelled run must leave the file staged: %v", left)
	}
}

var _ io.Writer = testWriter{}
