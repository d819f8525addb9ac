package store

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
)

// MaxSourceName is the longest custom source name Security Lake accepts.
const MaxSourceName = 20

var (
	// partition: aws, aws-cn, aws-us-gov, aws-iso…; the role name may carry a path.
	roleARNRE    = regexp.MustCompile(`^arn:aws(-[a-z]+)*:iam::(\d{12}):role/([\w+=,.@/-]{1,512})$`)
	regionRE     = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d{1,2}$`)
	bucketRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	externalIDRE = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
	sourceRE     = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
)

// CheckRoleARN reports whether s is an IAM role ARN
// (arn:aws:iam::<12-digit account>:role/<name>).
func CheckRoleARN(s string) error {
	if !roleARNRE.MatchString(s) {
		return errors.New("not an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>); copy it from the custom source in the Security Lake console")
	}
	return nil
}

// CheckExternalID reports whether STS would accept s as an External ID
// (2 to 1224 characters of letters, digits and +=,.@:/-_).
func CheckExternalID(s string) error {
	switch {
	case s == "":
		return errors.New("empty")
	case len(s) < 2 || len(s) > 1224:
		return fmt.Errorf("%d characters; STS accepts 2 to 1224", len(s))
	case !externalIDRE.MatchString(s):
		return errors.New("only letters, digits and the characters +=,.@:/-_ are allowed")
	}
	return nil
}

// CheckBucket applies the S3 general purpose bucket naming rules.
func CheckBucket(s string) error {
	switch {
	case len(s) < 3 || len(s) > 63:
		return fmt.Errorf("%d characters; a bucket name has 3 to 63", len(s))
	case !bucketRE.MatchString(s):
		return errors.New("only lowercase letters, digits, '.' and '-', starting and ending with a letter or digit")
	case strings.Contains(s, ".."):
		return errors.New("two periods in a row")
	case strings.HasPrefix(s, "xn--") || strings.HasPrefix(s, "sthree-"):
		return errors.New("the prefixes xn-- and sthree- are reserved")
	case strings.HasSuffix(s, "-s3alias") || strings.HasSuffix(s, "--ol-s3") || strings.HasSuffix(s, ".mrap") || strings.HasSuffix(s, "--x-s3"):
		return errors.New("the suffixes -s3alias, --ol-s3, .mrap and --x-s3 are reserved")
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return errors.New("formatted as an IP address")
	}
	return nil
}

// CheckRegion reports whether s looks like an AWS region name (us-east-2,
// eu-central-1, us-gov-west-1).
func CheckRegion(s string) error {
	if !regionRE.MatchString(s) {
		return errors.New("not an AWS region name like us-east-2")
	}
	return nil
}

// CheckSourceName applies Security Lake's custom source name rules.
func CheckSourceName(s string) error {
	switch {
	case s == "":
		return errors.New("empty source name")
	case s == "." || s == "..": // a folder of its own, or its parent, in a key
		return fmt.Errorf("source name %q names no folder", s)
	case len(s) > MaxSourceName:
		return fmt.Errorf("source name %q has %d characters; Security Lake allows at most %d", s, len(s), MaxSourceName)
	case !sourceRE.MatchString(s):
		return fmt.Errorf("source name %q: only letters, digits, '_', '.' and '-'", s)
	}
	return nil
}

// NormalizePrefix checks a custom source folder and returns it as
// "ext/<source>/". A leading "/" (as the console shows it) and a missing
// trailing "/" are accepted and normalized away.
func NormalizePrefix(p string) (string, error) {
	n := strings.TrimPrefix(p, "/")
	if !strings.HasSuffix(n, "/") {
		n += "/"
	}
	src, ok := strings.CutPrefix(n, "ext/")
	if !ok {
		return "", errors.New("must start with ext/ (the folder Security Lake made for the custom source)")
	}
	src = strings.TrimSuffix(src, "/")
	if strings.Contains(src, "/") {
		return "", errors.New("one folder after ext/ (the source name); put a version in source_version")
	}
	if err := CheckSourceName(src); err != nil {
		return "", err
	}
	return n, nil
}

// ProviderRoleName is the name of the role Security Lake creates for a custom
// source, which the writer assumes.
func ProviderRoleName(source, region string) string {
	return "AmazonSecurityLake-Provider-" + source + "-" + region
}

// NewExternalID returns a fresh External ID: 160 random bits from
// crypto/rand, base32 without padding, lowercase (32 characters).
func NewExternalID() (string, error) {
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("external id: %w", err)
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])), nil
}
