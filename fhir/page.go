package fhir

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"

	"github.com/go-json-experiment/json/jsontext"

	"valuerx/internal/rawjson"
)

// A fetched body is checked and split under its request's context (issue 11 build item 5: the
// hook's one deadline bounds every loop over fetched data). Reading it is bounded by the context
// already (the transport stops), but validating and splitting a page of megabytes is CPU work that
// took longer than a hook's whole budget (a 7 MB searchset: about 40 ms to validate and 90 ms to
// split on an idle core of the development machine, several times that under load or with four at
// once), and ran on after the deadline. Bodies up to largeBody are handled in one call, as before
// (a few milliseconds at most); larger ones in steps that look at the context in between, so a
// page that arrives as the deadline nears costs its hook at most a step past it.
const (
	largeBody = 256 << 10
	doneEvery = 256 // Bundle entries split, or JSON values validated, between looks at the context
	// validDepth is how deep the stepwise validation descends before validating a value whole:
	// Bundle, entry array, entry, resource; a resource's members are checked one by one.
	validDepth = 4
)

// errNotJSON: a body that is not one JSON value.
var errNotJSON = errors.New("not JSON")

// validBody reports whether raw is one JSON value, as rawjson.Valid does: nil, errNotJSON, or
// ctx's error when its context ended first (a large body only: a small one is checked whatever
// the context says, as before).
func validBody(ctx context.Context, raw []byte) error {
	if len(raw) <= largeBody {
		if !rawjson.Valid(raw) {
			return errNotJSON
		}
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// jsontext's decoder with rawjson.Valid's options: the same acceptance (TestValidBodySteps).
	dec := jsontext.NewDecoder(bytes.NewReader(raw), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	done := ctx.Done()
	for n := 1; ; n++ {
		if n%doneEvery == 0 {
			select {
			case <-done:
				return ctx.Err()
			default:
			}
		}
		var err error
		switch k := dec.PeekKind(); {
		case k == 0:
			return errNotJSON
		case (k == '{' || k == '[') && dec.StackDepth() < validDepth, k == '}', k == ']':
			_, err = dec.ReadToken()
		default:
			err = dec.SkipValue()
		}
		if err != nil {
			return errNotJSON
		}
		if dec.StackDepth() == 0 { // the value is complete: nothing but whitespace may follow
			if _, err := dec.ReadToken(); err != io.EOF {
				return errNotJSON
			}
			return nil
		}
	}
}

// pageResources is ValidBundleResources for a fetched page: a large one is split in steps that
// look at ctx, and gives ctx's error once it ended.
func pageResources(ctx context.Context, raw json.RawMessage) ([]json.RawMessage, string, error) {
	if len(raw) <= largeBody {
		return ValidBundleResources(raw)
	}
	if res, next, _, ok := bundleFastUntil(raw, ctx.Done()); ok {
		return res, next, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	return irregularPage(ctx, raw)
}

// decodeIrregular splits an irregular Bundle by encoding/json's rules, as ValidBundleResources
// does (a variable: tests hold it to see pageResources return at the deadline).
var decodeIrregular = BundleResources

// irregularPage splits a large page that the stepwise split refused (a case-folded or
// duplicate member name, which encoding/json resolves) with encoding/json, whose one call does
// not look at a context: up to the client's 8 MiB body it ran about a hundred milliseconds past
// the hook's deadline. It runs aside, and the page's hook answers at the deadline; the decode's
// goroutine finishes on its own and is dropped.
func irregularPage(ctx context.Context, raw json.RawMessage) ([]json.RawMessage, string, error) {
	type split struct {
		res  []json.RawMessage
		next string
		err  error
	}
	done := make(chan split, 1)
	go func() {
		res, next, err := decodeIrregular(raw)
		done <- split{res, next, err}
	}()
	select {
	case s := <-done:
		return s.res, s.next, s.err
	case <-ctx.Done():
		return nil, "", ctx.Err()
	}
}
