package fhir

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// NDJSON reading for FHIR Bulk Data exports (https://hl7.org/fhir/uv/bulkdata/export.html#file-format):
// newline-delimited JSON, one resource per line, each file holding one resource type.

// Errors of NDJSONReader.Next. Both are per line: the reader can go on with the next line.
var (
	ErrNDJSONLineTooLong = errors.New("fhir: ndjson line longer than the limit")
	ErrNDJSONNotObject   = errors.New("fhir: ndjson line is not a JSON object")
)

// NDJSONError says which line of the stream failed. It never carries the line's content
// (resources hold PHI).
type NDJSONError struct {
	Line int
	Err  error
}

func (e *NDJSONError) Error() string { return fmt.Sprintf("ndjson line %d: %v", e.Line, e.Err) }
func (e *NDJSONError) Unwrap() error { return e.Err }

// DefaultNDJSONMaxLine bounds one resource: large enough for an ExplanationOfBenefit with many
// items or a Patient with a photo, small enough that a file without newlines cannot take the
// memory.
const DefaultNDJSONMaxLine = 16 << 20

// NDJSONReader streams the lines of an NDJSON file with bounded memory: one buffer of at most the
// line limit, reused. It checks the framing (a line is one JSON object: '{' ... '}' after trimming
// whitespace; blank lines and a UTF-8 byte-order mark are skipped) and leaves validation of the JSON
// to the decoder the caller runs anyway, so that each byte is scanned once there.
type NDJSONReader struct {
	r       *bufio.Reader
	max     int
	line    int
	long    []byte
	started bool
}

// NewNDJSONReader reads from r; maxLine <= 0 means DefaultNDJSONMaxLine.
func NewNDJSONReader(r io.Reader, maxLine int) *NDJSONReader {
	if maxLine <= 0 {
		maxLine = DefaultNDJSONMaxLine
	}
	return &NDJSONReader{r: bufio.NewReaderSize(r, 1<<16), max: maxLine}
}

// Line is the number of the line Next returned last (1-based).
func (n *NDJSONReader) Line() int { return n.line }

// Next returns the next resource's bytes, valid until the next call. At the end of the stream it
// returns io.EOF. A line that is too long or not an object gives an *NDJSONError and the reader
// moves past it; other errors come from the underlying reader.
func (n *NDJSONReader) Next() ([]byte, error) {
	for {
		line, err := n.readLine()
		if line == nil && err != nil {
			return nil, err
		}
		n.line++
		if err != nil { // too long
			return nil, &NDJSONError{Line: n.line, Err: err}
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if len(line) < 2 || line[0] != '{' || line[len(line)-1] != '}' {
			return nil, &NDJSONError{Line: n.line, Err: ErrNDJSONNotObject}
		}
		return line, nil
	}
}

// readLine returns one line without its newline. (nil, err) is the end of the stream or a read
// error; (non-nil, ErrNDJSONLineTooLong) a line over the limit, skipped to its end.
func (n *NDJSONReader) readLine() ([]byte, error) {
	if !n.started {
		// A UTF-8 byte order mark opens some exports; it is no part of the first line, so it
		// counts neither as content nor towards the line limit.
		n.started = true
		if p, err := n.r.Peek(3); err == nil && bytes.Equal(p, []byte("\xef\xbb\xbf")) {
			_, _ = n.r.Discard(3)
		}
	}
	b, err := n.r.ReadSlice('\n')
	if err == nil {
		b = b[:len(b)-1]
	}
	if err == nil || (err == io.EOF && len(b) > 0) {
		if len(b) > n.max {
			return []byte{}, ErrNDJSONLineTooLong
		}
		return b, nil
	}
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != bufio.ErrBufferFull {
		return nil, err
	}
	n.long = append(n.long[:0], b...)
	for {
		b, err = n.r.ReadSlice('\n')
		tooLong := len(n.long)+len(b) > n.max+1
		if !tooLong {
			n.long = append(n.long, b...)
		}
		switch {
		case err == bufio.ErrBufferFull && !tooLong:
			continue
		case err == bufio.ErrBufferFull || (err == nil && tooLong):
			if err == nil {
				return []byte{}, ErrNDJSONLineTooLong
			}
			// Skip the rest of the line without keeping it.
			for err == bufio.ErrBufferFull {
				_, err = n.r.ReadSlice('\n')
			}
			if err != nil && err != io.EOF {
				return nil, err
			}
			n.long = n.long[:0]
			return []byte{}, ErrNDJSONLineTooLong
		case err == nil:
			return n.long[:len(n.long)-1], nil
		case err == io.EOF:
			if tooLong || len(n.long) > n.max {
				return []byte{}, ErrNDJSONLineTooLong
			}
			return n.long, nil
		default:
			return nil, err
		}
	}
}
