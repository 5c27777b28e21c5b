package jsonstr

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func TestAppend(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", `""`},
		{"plain ascii", `"plain ascii"`},
		{`quote " backslash \`, `"quote \" backslash \\"`},
		{"\b\f\n\r\t", `"\b\f\n\r\t"`},
		{"\x00\x01\x1f\x7f", `"\u0000\u0001\u001f` + "\x7f" + `"`},
		{"<html>&amp;", `"<html>&amp;"`},     // no HTML escaping
		{"\u2028\u2029", "\"\u2028\u2029\""}, // written as they are, like JSON.stringify
		{"é漢🙂", `"é漢🙂"`},                     // valid UTF-8 copied
		{"a\xffb\xc3", "\"a\uFFFDb\uFFFD\""}, // one U+FFFD per invalid byte
	}
	for _, tc := range cases {
		if got := string(Append(nil, tc.in)); got != tc.want {
			t.Errorf("Append(%q) = %s, want %s", tc.in, got, tc.want)
		}
		if got := string(AppendBytes(nil, []byte(tc.in))); got != tc.want {
			t.Errorf("AppendBytes(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestAllocatesNothing(t *testing.T) {
	dst := make([]byte, 0, 256)
	s := "some \"text\" with é and \n"
	if n := testing.AllocsPerRun(100, func() { dst = Append(dst[:0], s) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

func FuzzAppend(f *testing.F) {
	for _, s := range []string{"", "a\"b", "\x00", "\xff", "é", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Append(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("Append(%q) = %s is not JSON: %v", s, out, err)
		}
		// Valid UTF-8 round-trips exactly.
		if utf8.ValidString(s) && back != s {
			t.Fatalf("round trip of %q gave %q", s, back)
		}
	})
}
