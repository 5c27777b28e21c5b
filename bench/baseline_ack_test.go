package bench

import "testing"

func TestAckEcho(t *testing.T) {
	cases := map[string]string{
		`7["message-with-ack",{"a":1},"x"]`: `437[{"a":1},"x"]`,
		`12["message-with-ack"]`:            `4312[]`,
		`3["a\"b",1]`:                       `433[1]`,
		`3["unterminated`:                   "",
		`3{}`:                               "",
	}
	for in, want := range cases {
		got := ackEcho([]byte(in))
		if string(got) != want || (want == "" && got != nil) {
			t.Errorf("ackEcho(%s) = %q, want %q", in, got, want)
		}
	}
}
