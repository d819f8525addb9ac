package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Kind sorts delivery and connection failures by what the user has to fix.
type Kind uint8

const (
	KindOther        Kind = iota
	KindCredentials       // the writer has no usable AWS credentials of its own
	KindRoleRefused       // STS refused AssumeRole: External ID or trust policy
	KindNoSuchBucket      // the bucket does not exist
	KindWrongRegion       // the bucket lives in another region
	KindAccessDenied      // the role may not write to (or read) the bucket
	KindUnreachable       // the S3 or STS endpoint could not be reached
)

var kindNames = [...]string{"other", "credentials", "role-refused", "no-such-bucket", "wrong-region", "access-denied", "unreachable"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Error is a classified delivery or connection failure. Its message says
// what to check; the cause (the SDK's error) is kept for errors.Is/As. It
// never holds credentials.
type Error struct {
	Kind   Kind
	Op     string // what was attempted: "assume role", "head bucket", "upload <key>"
	Target string // the role ARN, bucket or endpoint concerned
	Hint   string // e.g. the bucket's real region
	Err    error
}

func (e *Error) Error() string {
	var msg string
	switch e.Kind {
	case KindCredentials:
		msg = "no usable AWS credentials for the writer (set AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run where a role is attached)"
	case KindRoleRefused:
		msg = fmt.Sprintf("the role %s refused to be assumed: check that external_id matches the External ID of the Security Lake custom source, and that the role's trust policy names this writer's account", e.Target)
	case KindNoSuchBucket:
		msg = fmt.Sprintf("bucket %q does not exist: check bucket in the integration file against the Security Lake console", e.Target)
	case KindWrongRegion:
		msg = fmt.Sprintf("bucket %q is not in the configured region", e.Target)
		if e.Hint != "" {
			msg += fmt.Sprintf(" (it is in %s): set region: %s", e.Hint, e.Hint)
		}
	case KindAccessDenied:
		msg = fmt.Sprintf("access denied on bucket %q: the assumed role may not write there; check the role's policy allows s3:PutObject under the prefix", e.Target)
	case KindUnreachable:
		msg = fmt.Sprintf("cannot reach %s", e.Target)
	default:
		msg = e.Op + " failed"
	}
	if c := causeText(e.Err); c != "" {
		msg += ": " + c
	}
	if e.Op != "" && e.Kind != KindOther {
		msg = e.Op + ": " + msg
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of a failure (KindOther when it is not classified).
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindOther
}

// causeText is the short form of an SDK error: the API error code and
// message, or the transport error, without request IDs and stack of wrappers.
func causeText(err error) string {
	if err == nil {
		return ""
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		if m := api.ErrorMessage(); m != "" && m != api.ErrorCode() {
			return api.ErrorCode() + ": " + m
		}
		if resp := httpStatus(err); resp != 0 {
			return fmt.Sprintf("%s (HTTP %d)", api.ErrorCode(), resp)
		}
		return api.ErrorCode()
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Error()
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return err.Error()
	}
	s := err.Error()
	// A credential chain failure: what follows says which sources were tried.
	if i := strings.LastIndex(s, "get credentials: "); i >= 0 {
		s = s[i+len("get credentials: "):]
	}
	return s
}

func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		return re.HTTPStatusCode()
	}
	return 0
}

// classify turns an SDK error into an *Error. op names the call; bucket and
// role are used in messages; head is true for HeadBucket, whose 404 and 403
// have no body.
func classify(err error, op, bucket, role string, endpoint string) error {
	if err == nil {
		return nil
	}
	var done *Error
	if errors.As(err, &done) {
		return err
	}
	e := &Error{Kind: KindOther, Op: op, Target: bucket, Err: err}

	// An STS failure reached through S3's credential provider: the
	// operation error for STS sits deeper in the chain than S3's.
	if sts := findOperation(err, "STS"); sts != nil {
		e.Target = role
		var api smithy.APIError
		switch {
		case errors.As(sts, &api) && api.ErrorCode() == "AccessDenied":
			e.Kind = KindRoleRefused
		case errors.As(sts, &api) && isCredentialCode(api.ErrorCode()):
			e.Kind = KindCredentials
		case strings.Contains(sts.Error(), "get identity") || strings.Contains(sts.Error(), "credentials"):
			// No base credentials: the STS call could not even be signed.
			e.Kind = KindCredentials
		case isTransport(sts):
			e.Kind, e.Target = KindUnreachable, "the STS endpoint"
		}
		return e
	}

	var api smithy.APIError
	status := httpStatus(err)
	code := ""
	if errors.As(err, &api) {
		code = api.ErrorCode()
	}
	switch {
	case code == "NoSuchBucket" || (op == "head bucket" && (status == 404 || code == "NotFound")):
		e.Kind = KindNoSuchBucket
	case code == "PermanentRedirect" || code == "IllegalLocationConstraintException" || status == 301 ||
		(code == "AuthorizationHeaderMalformed" && strings.Contains(api.ErrorMessage(), "region")) ||
		// HeadBucket has no body to say why; S3 answers 400 to a request
		// signed for another region than the bucket's.
		(op == "head bucket" && status == 400):
		e.Kind = KindWrongRegion
		e.Hint = bucketRegion(err)
	case code == "AccessDenied" || code == "AllAccessDisabled" || (status == 403 && !isCredentialCode(code)):
		e.Kind = KindAccessDenied
	case isCredentialCode(code):
		e.Kind = KindCredentials
	case isTransport(err):
		e.Kind = KindUnreachable
		e.Target = endpoint
		if e.Target == "" {
			e.Target = "the S3 endpoint"
		}
	}
	return e
}

func isCredentialCode(code string) bool {
	switch code {
	case "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException",
		"MissingAuthenticationToken", "InvalidToken", "UnrecognizedClientException":
		return true
	}
	return false
}

// isTransport reports a failure to send the request or read the response.
func isTransport(err error) bool {
	var send *smithyhttp.RequestSendError
	var ne net.Error
	return errors.As(err, &send) || errors.As(err, &ne)
}

var expectingRegion = regexp.MustCompile(`expecting '([a-z0-9-]+)'|expecting "([a-z0-9-]+)"`)

// bucketRegion reads the bucket's region from the answer, when S3 names it:
// the x-amz-bucket-region header, or "expecting '<region>'" in the message.
func bucketRegion(err error) string {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		if r := re.Response.Header.Get("X-Amz-Bucket-Region"); r != "" {
			return r
		}
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		if m := expectingRegion.FindStringSubmatch(api.ErrorMessage()); m != nil {
			return m[1] + m[2]
		}
	}
	return ""
}

// findOperation finds the operation error of one service in err's chain,
// following joined errors too.
func findOperation(err error, service string) error {
	for err != nil {
		var op *smithy.OperationError
		if errors.As(err, &op) {
			if op.ServiceID == service {
				return op
			}
			err = op.Err
			continue
		}
		return nil
	}
	return nil
}

// retryable reports whether trying the whole file again may help: the
// endpoint was down or the server failed, not a configuration problem.
func retryable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, errSizeMismatch) {
		return true
	}
	switch KindOf(err) {
	case KindUnreachable:
		return true
	case KindOther:
		s := httpStatus(err)
		var api smithy.APIError
		return s >= 500 || s == 429 || (errors.As(err, &api) && api.ErrorFault() == smithy.FaultServer) || isTransport(err)
	}
	return false
}

var errSizeMismatch = errors.New("stored object size differs from the local file")
