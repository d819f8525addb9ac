package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestNameChecks(t *testing.T) {
	for _, tc := range []struct {
		check func(string) error
		name  string
		in    string
		ok    bool
	}{
		{CheckBucket, "bucket", "aws-security-data-lake-us-east-2-o-4g8wg3sx9z", true},
		{CheckBucket, "bucket", "a.b-c", true},
		{CheckBucket, "bucket", "ab", false},
		{CheckBucket, "bucket", strings.Repeat("a", 64), false},
		{CheckBucket, "bucket", "-abc", false},
		{CheckBucket, "bucket", "abc-", false},
		{CheckBucket, "bucket", "a..b", false},
		{CheckBucket, "bucket", "a_b", false},
		{CheckBucket, "bucket", "xn--abc", false},
		{CheckBucket, "bucket", "abc-s3alias", false},
		{CheckBucket, "bucket", "10.0.0.1", false},
		{CheckRegion, "region", "us-east-2", true},
		{CheckRegion, "region", "us-gov-west-1", true},
		{CheckRegion, "region", "ap-southeast-4", true},
		{CheckRegion, "region", "useast2", false},
		{CheckRegion, "region", "US-EAST-2", false},
		{CheckRoleARN, "arn", "arn:aws:iam::123456789012:role/AmazonSecurityLake-Provider-x-us-east-2", true},
		{CheckRoleARN, "arn", "arn:aws-cn:iam::123456789012:role/path/to/Role", true},
		{CheckRoleARN, "arn", "arn:aws:iam::123456789012:user/bob", false},
		{CheckRoleARN, "arn", "arn:aws:iam::1234:role/x", false},
		{CheckRoleARN, "arn", "AmazonSecurityLake-Provider-x", false},
		{CheckExternalID, "external id", "ab", true},
		{CheckExternalID, "external id", "a", false},
		{CheckExternalID, "external id", "", false},
		{CheckExternalID, "external id", "a b", false},
		{CheckExternalID, "external id", strings.Repeat("x", 1225), false},
		{CheckSourceName, "source", "dspm-security-alerts", true},
		{CheckSourceName, "source", "dspm-security-alerts1", false},
		{CheckSourceName, "source", "a/b", false},
	} {
		if err := tc.check(tc.in); (err == nil) != tc.ok {
			t.Errorf("%s %q: err %v, want ok=%v", tc.name, tc.in, err, tc.ok)
		}
	}
}

func TestNormalizePrefix(t *testing.T) {
	for in, want := range map[string]string{
		"ext/dspm-security-alerts/": "ext/dspm-security-alerts/",
		"/ext/dspm-security-alerts": "ext/dspm-security-alerts/",
		"ext/a":                     "ext/a/",
		"ext/":                      "",
		"ext/a/b/":                  "",
		"other/a/":                  "",
		"":                          "",
		"/ext/../":                  "", // issue 20, L6
		"ext/.":                     "",
	} {
		got, err := NormalizePrefix(in)
		if got != want || (err == nil) != (want != "") {
			t.Errorf("%q: %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestNewExternalID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id, err := NewExternalID()
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^[a-z2-7]{32}$`).MatchString(id) || CheckExternalID(id) != nil || seen[id] {
			t.Fatalf("external id %q", id)
		}
		seen[id] = true
	}
	if got := ProviderRoleName("dspmalerts", "us-east-2"); got != "AmazonSecurityLake-Provider-dspmalerts-us-east-2" {
		t.Error(got)
	}
}

func TestStatusTransitions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	st, err := ReadStatus(dir)
	if err != nil || st.State != Pending {
		t.Fatalf("fresh status %+v %v", st, err)
	}
	// Good check: still Pending (nothing delivered).
	if err := RecordCheck(dir, nil); err != nil {
		t.Fatal(err)
	}
	if st, _ = ReadStatus(dir); st.State != Pending || !st.LastCheck.OK {
		t.Errorf("after good check %+v", st)
	}
	// Failed check.
	RecordCheck(dir, &Error{Kind: KindNoSuchBucket, Target: "b"})
	if st, _ = ReadStatus(dir); st.State != Failed || st.Kind != "no-such-bucket" || st.LastCheck.OK || st.FailedAt.IsZero() {
		t.Errorf("after failed check %+v", st)
	}
	// A delivery makes it Success and counts.
	staging := t.TempDir()
	stage(t, staging, "a/b.parquet", 10)
	stage(t, staging, "a/c.parquet", 5)
	d := NewDeliverer(NewLocal(t.TempDir()), DeliverOptions{StateDir: dir, Logger: quiet(t)})
	if _, err := d.Deliver(t.Context(), staging); err != nil {
		t.Fatal(err)
	}
	if st, _ = ReadStatus(dir); st.State != Success || st.Reason != "" || st.Total != (Counts{2, 15}) || st.LastDelivery.Counts != (Counts{2, 15}) {
		t.Errorf("after delivery %+v", st)
	}
	// A second run: LastDelivery restarts, Total accumulates.
	stage(t, staging, "a/d.parquet", 7)
	time.Sleep(time.Millisecond)
	d2 := NewDeliverer(NewLocal(t.TempDir()), DeliverOptions{StateDir: dir, Logger: quiet(t)})
	d2.Deliver(t.Context(), staging)
	if st, _ = ReadStatus(dir); st.Total != (Counts{3, 22}) || st.LastDelivery.Counts != (Counts{1, 7}) {
		t.Errorf("after second run %+v", st)
	}
	// A failed check after deliveries, then a good one: back to Success.
	RecordCheck(dir, errors.New("boom"))
	RecordCheck(dir, nil)
	if st, _ = ReadStatus(dir); st.State != Success {
		t.Errorf("after recovery %+v", st)
	}
	// A delivery that fails is not cleared by a passing check (issue 20,
	// M7): the role may be assumed while uploads still fail.
	failing := NewDeliverer(deniedStore{}, DeliverOptions{StateDir: dir, Logger: quiet(t), Attempts: 1})
	stage(t, staging, "a/e.parquet", 3)
	failing.Deliver(t.Context(), staging)
	if st, _ = ReadStatus(dir); st.State != Failed {
		t.Fatalf("after a failed delivery %+v", st)
	}
	RecordCheck(dir, nil)
	if st, _ = ReadStatus(dir); st.State != Failed || !st.LastCheck.OK {
		t.Errorf("a passing check cleared a failed delivery: %+v", st)
	}
	// Only the status file is left: temp files are renamed or removed.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != StatusFile {
		t.Errorf("state dir holds %v", entries)
	}
	// A corrupt file reads as an error, and the next update starts afresh.
	os.WriteFile(filepath.Join(dir, StatusFile), []byte("{"), 0o644)
	if _, err := ReadStatus(dir); err == nil {
		t.Error("corrupt status read without error")
	}
	if err := RecordCheck(dir, nil); err != nil {
		t.Fatal(err)
	}
	if st, err = ReadStatus(dir); err != nil || st.State != Pending {
		t.Errorf("after a corrupt file %+v %v", st, err)
	}
}

func TestLocalPutRejectsEscapingKeys(t *testing.T) {
	src := filepath.Join(t.TempDir(), "f")
	os.WriteFile(src, []byte("x"), 0o644)
	l := NewLocal(t.TempDir())
	for _, k := range []string{"../x", "/abs", "a//b", "a/./b", "a/", ""} {
		if _, err := l.Put(t.Context(), k, src); err == nil {
			t.Errorf("key %q accepted", k)
		}
	}
}

// deniedStore refuses every upload, as a bucket policy would.
type deniedStore struct{}

func (deniedStore) Put(context.Context, string, string) (int64, error) {
	return 0, &Error{Kind: KindAccessDenied, Target: "b"}
}
func (deniedStore) String() string { return "denied" }
