package sio

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// oracleJS decodes, with the Node.js parser, one JSON-quoted packet per input line, and prints one JSON result
// per line.
const oracleJS = `
const { Decoder } = require("socket.io-parser");
const lines = require("fs").readFileSync(0, "utf8").split("\n").filter((l) => l !== "");
const out = [];
for (const line of lines) {
  const s = JSON.parse(line);
  try {
    const p = new Decoder().decodeString(s);
    let recon = true;
    if (p.attachments) {
      // Feed the attachments, for the placeholder check made when the last one arrives.
      const d = new Decoder();
      try {
        d.add(s);
        for (let k = 0; k < p.attachments; k++) d.add(Buffer.from([k]));
      } catch (e) {
        recon = false;
      }
    }
    out.push(JSON.stringify({ ok: true, type: p.type, nsp: p.nsp, id: p.id === undefined ? null : String(p.id),
      att: p.attachments || 0, data: p.data !== undefined, recon }));
  } catch (e) {
    out.push(JSON.stringify({ ok: false, err: e.message }));
  }
}
process.stdout.write(out.join("\n") + "\n");
`

// TestNodeOracle compares Decode with the Node.js parser on the table cases and on many random mutations of
// them. It runs only when SIO_NODE_PARSER names a directory where socket.io-parser is installed and node is on
// the PATH; `make test` points it at test/e2e, whose packages include it:
//
//	SIO_NODE_PARSER=$PWD/test/e2e go test -run NodeOracle ./codec/sio
func TestNodeOracle(t *testing.T) {
	dir := os.Getenv("SIO_NODE_PARSER")
	if dir == "" {
		t.Skip("SIO_NODE_PARSER is not set")
	}
	inputs := oracleInputs(200000)
	var in bytes.Buffer
	for _, s := range inputs {
		q, _ := json.Marshal(s)
		in.Write(q)
		in.WriteByte('\n')
	}
	script := filepath.Join(t.TempDir(), "oracle.js")
	if err := os.WriteFile(script, []byte(oracleJS), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", script)
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	mismatches, accepted, binary, refusedAtReassembly := 0, 0, 0, 0
	for i := 0; sc.Scan(); i++ {
		var r struct {
			OK    bool
			Type  int
			Nsp   string
			ID    *string
			Att   int
			Data  bool
			Recon bool
			Err   string
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if r.OK {
			accepted++
			if r.Att > 0 {
				binary++
				if !r.Recon {
					refusedAtReassembly++
				}
			}
		}
		s := inputs[i]
		p, err := Decode([]byte(s))
		bad := ""
		switch {
		case err == errID:
			// Known divergence: Node accepts an id that is NaN or beyond int64 (and then maybe fails on the
			// payload, which Decode does not look at).
			if r.OK && r.ID != nil {
				if n, perr := strconv.ParseInt(*r.ID, 10, 64); perr == nil && n >= 0 {
					bad = "errID for an id Node reads as " + *r.ID
				}
			}
		case (err == nil) != r.OK:
			bad = "acceptance differs: node " + r.Err
		case err != nil:
			want := map[error]string{errUnknownType: "unknown packet type", errAttachments: "Illegal attachments",
				errTooMany: "too many attachments", errPayload: "invalid payload", errJSON: "invalid payload",
				errDepth: "invalid payload"}[err]
			if !strings.HasPrefix(r.Err, want) || want == "" {
				bad = "error differs: node " + r.Err
			}
		default:
			id := "<nil>"
			if r.ID != nil {
				id = *r.ID
			}
			gotID := "<nil>"
			if p.ID != NoID {
				gotID = strconv.FormatInt(p.ID, 10)
			}
			if int(p.Type) != r.Type || string(p.Namespace) != r.Nsp || gotID != id || p.Attachments != r.Att || (p.Data != nil) != r.Data {
				bad = "packet differs: node " + sc.Text()
			}
			if p.Attachments > 0 {
				var ra Reassembler
				ra.Start(p)
				var rerr error
				for k := range p.Attachments {
					_, _, _, rerr = ra.Add([]byte{byte(k)})
				}
				if (rerr == nil) != r.Recon {
					bad = "reassembly differs: node " + sc.Text()
				}
			}
		}
		if bad != "" {
			mismatches++
			if mismatches <= 30 {
				t.Errorf("%q: Decode = %+v, %v; %s", s, p, err, bad)
			}
		}
	}
	t.Logf("%d packets: %d accepted by Node, %d binary, %d of which fail at reassembly", len(inputs), accepted,
		binary, refusedAtReassembly)
	if mismatches > 0 {
		t.Errorf("%d mismatches out of %d", mismatches, len(inputs))
	}
}

// oracleInputs returns the table cases and n random mutations of them, all valid UTF-8.
func oracleInputs(n int) []string {
	seeds := []string{``, ` `, `0`, `2["a"]`, `51-["a",{"_placeholder":true,"num":0}]`, `2/admin,12["a",1]`,
		`3/a,1[]`, `4{"message":"x"}`, `4"x"`, `0{}`, `1/a,`, `61-/a,3[{"_placeholder":true,"num":0}]`,
		`2[1,2]`, `2["connect"]`, `2[-1.5e3]`, `510-["a"]`, `2["\u0063onnect",{"a":[1,{"b":null}]}]`,
		`2[1e400,"\ud800"]`, `5 1 -/x,["a"]`, `50x1-["a"]`, `2 3["a"]`, `0/a,{"x":"\"\\"}`, `4/a,{"message":"m","data":[true,false]}`,
		`3/a,9[[[[]]],{}]`, `2["newListener"]`, `2["é😀",0.5,-0]`,
		`52-["a",{"_placeholder":true,"num":1},[{"_placeholder":true,"num":0.5}]]`,
		`61-[{"_placeholder":true,"num":0,"x":{"_placeholder":true,"num":9}},{"_placeholder":false,"num":7}]`,
		`51-["a",{"_placeholder":true,"num":-0,"_placeholder":true},{"num":3,"_placeholder":true}]`,
		`52-["a",{"_placeholder":true,"num":"0"},{"_placeholder":"true","num":5}]`}
	for _, tc := range wirePackets {
		seeds = append(seeds, tc.wire)
	}
	alphabet := []string{"0", "1", "2", "5", "6", "9", "-", "+", ".", "e", "x", "/", ",", "[", "]", "{", "}", `"`,
		":", " ", "\t", "\n", "\u00a0", "\u2028", "\ufeff", "\u0085", "\v", "\f", "\r", "\u2000", "\u3000", "\u180e", "\u200b", "😀", "a", "\\", "null", "true", "connect", "0x", "Infinity", "\\u", "\\ud83d", "_placeholder", "num", "E", "b", "o"}
	rng := rand.New(rand.NewPCG(1, 2))
	out := append([]string(nil), seeds...)
	for len(out) < n {
		s := seeds[rng.IntN(len(seeds))]
		for range 1 + rng.IntN(3) {
			pos := 0
			if len(s) > 0 {
				pos = rng.IntN(len(s) + 1)
			}
			for pos < len(s) && !utf8.RuneStart(s[pos]) {
				pos++
			}
			ins := alphabet[rng.IntN(len(alphabet))]
			switch rng.IntN(3) {
			case 0: // insert
				s = s[:pos] + ins + s[pos:]
			case 1: // delete one rune
				if pos < len(s) {
					_, size := utf8.DecodeRuneInString(s[pos:])
					s = s[:pos] + s[pos+size:]
				}
			default: // replace one rune
				if pos < len(s) {
					_, size := utf8.DecodeRuneInString(s[pos:])
					s = s[:pos] + ins + s[pos+size:]
				}
			}
		}
		out = append(out, s)
	}
	return out
}

// stringifyJS prints JSON.stringify of each input line: "f <16 hex digits>" is a float64 given by its bits,
// "s <JSON string>" a string.
const stringifyJS = `
const lines = require("fs").readFileSync(0, "utf8").split("\n").filter((l) => l !== "");
const out = [];
const view = new DataView(new ArrayBuffer(8));
for (const line of lines) {
  if (line[0] === "f") {
    view.setBigUint64(0, BigInt("0x" + line.slice(2)));
    out.push(JSON.stringify(view.getFloat64(0)));
  } else {
    out.push(JSON.stringify(JSON.stringify(JSON.parse(line.slice(2)))));
  }
}
process.stdout.write(out.join("\n") + "\n");
`

// TestNodeStringify compares the Encoder's numbers and strings with JSON.stringify on random values. Like
// TestNodeOracle, it runs only when SIO_NODE_PARSER is set (it needs node only).
func TestNodeStringify(t *testing.T) {
	if os.Getenv("SIO_NODE_PARSER") == "" {
		t.Skip("SIO_NODE_PARSER is not set")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	var in bytes.Buffer
	var values []any
	for range 100000 {
		var f float64
		switch rng.IntN(4) {
		case 0:
			f = math.Float64frombits(rng.Uint64()) // anything, NaN and Inf included
		case 1:
			f = float64(rng.Int64N(1<<60)) * math.Pow(10, float64(rng.IntN(60)-30))
		case 2:
			f = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(50)-25))
		default:
			f = float64(rng.IntN(2000000)-1000000) / float64(1+rng.IntN(1000))
		}
		values = append(values, f)
		fmt.Fprintf(&in, "f %016x\n", math.Float64bits(f))
	}
	pieces := []string{"a", "\"", "\\", "/", "\x00", "\x01", "\b", "\f", "\n", "\r", "\t", "\x1f", "\x7f", "<", ">", "&",
		"\u2028", "\u2029", "é", "😀", "\ufeff", "\ufffd", "\u0085", " "}
	for range 20000 {
		var sb strings.Builder
		for range rng.IntN(8) {
			sb.WriteString(pieces[rng.IntN(len(pieces))])
		}
		values = append(values, sb.String())
		q, _ := json.Marshal(sb.String())
		fmt.Fprintf(&in, "s %s\n", q)
	}
	script := filepath.Join(t.TempDir(), "stringify.js")
	if err := os.WriteFile(script, []byte(stringifyJS), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", script)
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	bad := 0
	for i, v := range values {
		want := lines[i]
		if _, ok := v.(string); ok {
			_ = json.Unmarshal([]byte(want), &want) // the string output was quoted once more, to fit one line
		}
		got, err := AppendJSON(nil, v)
		if err != nil || string(got) != want {
			if bad++; bad <= 20 {
				t.Errorf("%#v: got %s, want %s (%v)", v, got, want, err)
			}
		}
	}
}
