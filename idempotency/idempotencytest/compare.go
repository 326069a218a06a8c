package idempotencytest

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/paved-go/paved/idempotency"
)

// diff says how got differs from want, or returns "" when they are the
// same record. A nil and an empty Header, or Body, are the same: a store
// need not tell them apart. Header keys are compared as given, without
// canonicalization, and values in order.
func diff(got, want *idempotency.Record) string {
	switch {
	case got == nil && want == nil:
		return ""
	case got == nil:
		return "no record"
	case want == nil:
		return "a record, want none"
	case got.Token != want.Token:
		return fmt.Sprintf("Token %q, want %q", got.Token, want.Token)
	case got.Fingerprint != want.Fingerprint:
		return fmt.Sprintf("Fingerprint %q, want %q", got.Fingerprint, want.Fingerprint)
	case got.Done != want.Done:
		return fmt.Sprintf("Done %v, want %v", got.Done, want.Done)
	case !want.Done:
		// An in-progress record has no response.
		return ""
	case got.Response.Status != want.Response.Status:
		return fmt.Sprintf("Status %d, want %d", got.Response.Status, want.Response.Status)
	case len(got.Response.Header) != len(want.Response.Header):
		return fmt.Sprintf("%d header keys, want %d", len(got.Response.Header), len(want.Response.Header))
	case string(got.Response.Body) != string(want.Response.Body):
		return fmt.Sprintf("Body of %d bytes differs from the %d bytes stored", len(got.Response.Body), len(want.Response.Body))
	}
	for k, v := range want.Response.Header {
		g, ok := got.Response.Header[k]
		if !ok {
			return fmt.Sprintf("header %q missing", k)
		}
		if !slices.Equal(g, v) {
			return fmt.Sprintf("header %q is %q, want %q", k, g, v)
		}
	}
	return ""
}

// show describes a record for a failure message, with long bodies cut.
func show(rec *idempotency.Record) string {
	if rec == nil {
		return "<nil>"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "{Token %q, Fingerprint %q, Done %v", rec.Token, rec.Fingerprint, rec.Done)
	if rec.Done || rec.Response.Status != 0 || rec.Response.Header != nil || rec.Response.Body != nil {
		fmt.Fprintf(&b, ", Status %d, Header {", rec.Response.Status)
		for i, k := range slices.Sorted(maps.Keys(rec.Response.Header)) {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%q: %q", k, rec.Response.Header[k])
		}
		body := rec.Response.Body
		if len(body) > 64 {
			fmt.Fprintf(&b, "}, Body %q... (%d bytes)}", body[:64], len(body))
		} else {
			fmt.Fprintf(&b, "}, Body %q}", body)
		}
	} else {
		b.WriteString("}")
	}
	return b.String()
}
