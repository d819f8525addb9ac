package source

import (
	"errors"
	"strconv"
	"strings"
)

// SyntaxError reports input that is not the JSON we accept: a malformed or
// truncated record (from [Extractor.Extract]) or an input whose record
// boundaries cannot be found (from [Reader.Next], e.g. a broken JSON array).
type SyntaxError struct {
	Input  string // input name; empty when not known (Extract does not know it)
	Line   int    // 1-based line of the record (Extract) or of the problem (Reader); 0 when not known
	Offset int64  // byte offset of the problem: within the record for Extract, within the decompressed input for Reader
	Msg    string
}

func (e *SyntaxError) Error() string {
	var b strings.Builder
	if e.Input != "" {
		b.WriteString(e.Input)
		b.WriteByte(':')
	}
	if e.Line > 0 {
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteByte(':')
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	b.WriteString("invalid JSON at byte ")
	b.WriteString(strconv.FormatInt(e.Offset, 10))
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// ErrRecordTooLarge is returned (wrapped, with the input name and line) by
// [Reader.Next] when one record exceeds the reader's size limit.
var ErrRecordTooLarge = errors.New("record too large")

// quoteChar formats c the way encoding/json's messages do.
func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	s := strconv.Quote(string(rune(c)))
	if c >= 0x80 {
		// A lone byte of a multi-byte sequence: show the byte, not U+FFFD.
		s = `"\x` + strconv.FormatUint(uint64(c), 16) + `"`
	}
	return "'" + s[1:len(s)-1] + "'"
}
