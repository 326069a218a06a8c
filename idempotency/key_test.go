package idempotency_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/paved-go/paved/idempotency"
)

// TestParseKey follows section 2.1 of draft-ietf-httpapi-idempotency-key-
// header (the field is an sf-string Item) and the RFC 8941 sections it
// refers to.
func TestParseKey(t *testing.T) {
	long := strings.Repeat("a", idempotency.MaxKeyLength)
	for _, tc := range []struct {
		name, in, want string
		bad            bool
	}{
		{name: "2.1 example", in: `"8e03978e-40d5-43e8-bc93-6894a57f9324"`, want: "8e03978e-40d5-43e8-bc93-6894a57f9324"},
		{name: "RFC8941 4.2.5 escaped quote", in: `"a\"b"`, want: `a"b`},
		{name: "RFC8941 4.2.5 escaped backslash", in: `"a\\b"`, want: `a\b`},
		{name: "RFC8941 4.2.5 other escape", in: `"a\nb"`, bad: true},
		{name: "RFC8941 4.2.5 no closing quote", in: `"abc`, bad: true},
		{name: "RFC8941 4.2.5 control character", in: "\"a\tb\"", bad: true},
		{name: "RFC8941 4.2.5 non-ASCII", in: "\"é\"", bad: true},
		{name: "RFC8941 4.2.5 spaces inside kept", in: `"a b"`, want: "a b"},
		{name: "RFC8941 4.2 surrounding spaces", in: `  "abc"  `, want: "abc"},
		{name: "RFC8941 4.2.3.2 parameters ignored", in: `"abc";a=1;b="x";c;d=?1;e=tok/x;f=:aGk=:;g=1.5;h=@12;i=%"%c3%a9"`, want: "abc"},
		{name: "RFC8941 4.2.3.2 parameter with space after semicolon", in: `"abc"; a=1`, want: "abc"},
		{name: "RFC8941 4.2.3.2 uppercase parameter key", in: `"abc";A=1`, bad: true},
		{name: "RFC8941 4.2.3.2 bad parameter value", in: `"abc";a=`, bad: true},
		{name: "RFC8941 4.2.4 decimal with four fraction digits", in: `"abc";a=1.2345`, bad: true},
		{name: "RFC8941 4.2.4 integer of 16 digits", in: `"abc";a=1234567890123456`, bad: true},
		{name: "RFC9651 date is an integer", in: `"abc";a=@1.5`, bad: true},
		{name: "RFC8941 4.2 trailing garbage", in: `"abc"x`, bad: true},
		{name: "RFC8941 4.2 a list is not an item", in: `"abc", "def"`, bad: true},
		{name: "RFC8941 4.2 inner list", in: `("abc")`, bad: true},
		{name: "empty string", in: `""`, bad: true},
		{name: "empty field", in: ``, bad: true},
		{name: "bare key accepted", in: `8e03978e-40d5`, want: "8e03978e-40d5"},
		{name: "bare key with space", in: `a b`, bad: true},
		{name: "bare key with semicolon", in: `a;b`, bad: true},
		{name: "bare key with quote", in: `a"b`, bad: true},
		{name: "longest key", in: `"` + long + `"`, want: long},
		{name: "key too long", in: `"` + long + `a"`, bad: true},
		{name: "bare key too long", in: long + "a", bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := idempotency.ParseKey(tc.in)
			if tc.bad {
				if !errors.Is(err, idempotency.ErrKeyInvalid) {
					t.Fatalf("ParseKey(%q) = %q, %v; want ErrKeyInvalid", tc.in, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseKey(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestNewKeyParses(t *testing.T) {
	k := idempotency.NewKey()
	got, err := idempotency.ParseKey(k)
	if err != nil || len(got) != 36 || k != `"`+got+`"` {
		t.Fatalf("ParseKey(NewKey() = %s) = %q, %v", k, got, err)
	}
	if idempotency.NewKey() == k {
		t.Fatal("NewKey repeated a key")
	}
}

func FuzzKeyHeader(f *testing.F) {
	for _, s := range []string{`"abc"`, `abc`, `"a\"b"`, `"a";b=1`, `"x";a=%"%c3"`, `"x";d=@-12`, `""`, `"`, `"a\`, `"a";b=:aGk=:`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		k, err := idempotency.ParseKey(v)
		if err != nil {
			if !errors.Is(err, idempotency.ErrKeyInvalid) {
				t.Fatalf("ParseKey(%q): error %v is not ErrKeyInvalid", v, err)
			}
			return
		}
		if k == "" || len(k) > idempotency.MaxKeyLength {
			t.Fatalf("ParseKey(%q) = %q: empty or too long", v, k)
		}
		for i := 0; i < len(k); i++ {
			if k[i] < 0x20 || k[i] > 0x7e {
				t.Fatalf("ParseKey(%q) = %q: not printable ASCII", v, k)
			}
		}
		// A key read from a header round-trips through FormatKey.
		if k2, err := idempotency.ParseKey(idempotency.FormatKey(k)); err != nil || k2 != k {
			t.Fatalf("ParseKey(FormatKey(%q)) = %q, %v", k, k2, err)
		}
	})
}
