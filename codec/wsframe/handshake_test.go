package wsframe

import (
	"crypto/sha1"
	"encoding/base64"
	"testing"
)

func TestAcceptKey(t *testing.T) {
	cases := []struct {
		key  string
		want string
	}{
		{
			// The sample handshake of RFC 6455 §1.3. (Cross-checked with
			// coreutils: printf KEY+GUID | sha1sum | xxd -r -p | base64.)
			key:  "dGhlIHNhbXBsZSBub25jZQ==",
			want: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
		},
		{
			key:  "x3JJHMbDL1EzLkh9GBhXDw==",
			want: "HSmrc0sMlYUkAGmm5OPpG2HaGWk=",
		},
	}
	for _, tc := range cases {
		got := AcceptKey([]byte("prefix:"), []byte(tc.key))
		if string(got) != "prefix:"+tc.want {
			t.Errorf(
				"AcceptKey(%q) = %q, want prefix:%q",
				tc.key, got, tc.want,
			)
		}
	}

	// A key too long for the stack buffer still gives the right answer.
	long := make([]byte, 100)
	for i := range long {
		long[i] = 'A'
	}
	sum := sha1.Sum(append(long, acceptGUID...))
	if got, want := string(AcceptKey(nil, long)), base64.StdEncoding.EncodeToString(sum[:]); got != want {
		t.Fatalf(
			"AcceptKey(long) = %q, want %q",
			got, want,
		)
	}
}

func TestAllocsAcceptKey(t *testing.T) {
	key := []byte("dGhlIHNhbXBsZSBub25jZQ==")
	dst := make([]byte, 0, 28)
	allocs := testing.AllocsPerRun(1000, func() {
		dst = AcceptKey(dst[:0], key)
	})
	if allocs != 0 {
		t.Fatalf(
			"AcceptKey allocates %v times",
			allocs,
		)
	}
}

func TestValidKey(t *testing.T) {
	cases := []struct {
		key  string
		want bool
	}{
		{
			key:  "dGhlIHNhbXBsZSBub25jZQ==",
			want: true,
		},
		{
			key:  "AAAAAAAAAAAAAAAAAAAAAA==",
			want: true,
		},
		{
			key:  "",
			want: false,
		},
		{
			key:  "dGhlIHNhbXBsZSBub25jZQ", // unpadded
			want: false,
		},
		{
			key:  "dGhlIHNhbXBsZSBub25jZR==", // non-zero padding bits
			want: false,
		},
		{
			key:  "dGhlIHNhbXBsZSBub25jZQ=\n=", // line break the decoder would skip
			want: false,
		},
		{
			key:  "dGhlIHNhbXBsZSBub25j\nZQ=", // 24 bytes with a line break
			want: false,
		},
		{
			key:  "dGhlIHNhbXBsZSBub25jZQ=A", // bad padding
			want: false,
		},
		{
			key:  "dGhlIHNhbXBsZSBub25jZSBt", // 18 bytes
			want: false,
		},
		{
			key:  "dGhlIHNhbXBsZSBub25jZQ!=",
			want: false,
		},
		{
			key:  "dGhlIHNhbXBsZSBub25jZQ==dGhlIHNhbXBsZSBub25jZQ==", // 32 bytes
			want: false,
		},
	}
	for _, tc := range cases {
		if got := ValidKey([]byte(tc.key)); got != tc.want {
			t.Errorf(
				"ValidKey(%q) = %v, want %v",
				tc.key, got, tc.want,
			)
		}
	}
}
