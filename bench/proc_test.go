package bench

import (
	"encoding/binary"
	"os"
	"testing"
	"time"
)

const sampleStatus = `Name:	fastio
Umask:	0022
State:	S (sleeping)
Tgid:	4242
Pid:	4242
VmPeak:	 1290340 kB
VmSize:	 1290340 kB
VmLck:	       0 kB
VmHWM:	  245120 kB
VmRSS:	  201344 kB
RssAnon:	  190000 kB
Threads:	7
voluntary_ctxt_switches:	12
`

func TestParseProcStatus(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    ProcStatus
		wantErr bool
	}{
		{name: "full", in: sampleStatus,
			want: ProcStatus{RSS: 201344 << 10, HWM: 245120 << 10, Size: 1290340 << 10, Threads: 7}},
		{name: "rss only, no trailing newline", in: "VmRSS:\t12 kB", want: ProcStatus{RSS: 12 << 10}},
		{name: "zero rss", in: "VmRSS:\t0 kB\nThreads:\t1\n", want: ProcStatus{Threads: 1}},
		{name: "kernel thread without Vm lines", in: "Name:\tkthreadd\nThreads:\t1\n", wantErr: true},
		{name: "malformed number", in: "VmRSS:\tlots kB\n", wantErr: true},
		{name: "unknown unit", in: "VmRSS:\t12 TB\n", wantErr: true},
		{name: "negative", in: "VmRSS:\t-12 kB\n", wantErr: true},
		{name: "bad threads", in: "VmRSS:\t12 kB\nThreads:\tx\n", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseProcStatus([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseProcStat(t *testing.T) {
	// Fields 1-52 as in proc(5); utime=1234 stime=567 num_threads=9 rss=50000.
	const normal = "4242 (fastio) S 1 4242 4242 0 -1 4194560 12345 0 0 0 1234 567 0 0 20 0 9 0 987654 " +
		"1321308160 50000 18446744073709551615 1 1 0 0 0 0 0 0 2143420159 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
	tests := []struct {
		name    string
		in      string
		want    ProcStat
		wantErr bool
	}{
		{name: "normal", in: normal,
			want: ProcStat{Comm: "fastio", State: 'S', UTime: 1234, STime: 567, Threads: 9, RSSPages: 50000}},
		{name: "comm with spaces and parens", in: "77 (a (b) c) R 1 2 3 4 5 6 7 8 9 10 11 22 0 0 20 0 3 0 5 6 7",
			want: ProcStat{Comm: "a (b) c", State: 'R', UTime: 11, STime: 22, Threads: 3, RSSPages: 7}},
		{name: "no comm", in: "4242 fastio S 1", wantErr: true},
		{name: "truncated", in: "4242 (fastio) S 1 4242 4242 0 -1 4194560 12345 0 0 0 1234", wantErr: true},
		{name: "bad utime", in: "1 (x) S 1 2 3 4 5 6 7 8 9 10 u 22 0 0 20 0 3 0 5 6 7", wantErr: true},
		{name: "bad state", in: "1 (x) SS 1 2 3 4 5 6 7 8 9 10 11 22 0 0 20 0 3 0 5 6 7", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseProcStat([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	st, _ := ParseProcStat([]byte(normal))
	if got, want := st.CPU(100), 18010*time.Millisecond; got != want {
		t.Errorf("CPU(100) = %v, want %v", got, want)
	}
}

func TestParseAuxv(t *testing.T) {
	var b []byte
	put := func(k, v uint64) {
		b = binary.NativeEndian.AppendUint64(b, k)
		b = binary.NativeEndian.AppendUint64(b, v)
	}
	put(6, 4096) // AT_PAGESZ
	put(atClkTck, 100)
	put(0, 0)
	put(atClkTck, 999) // after AT_NULL: ignored
	if v, ok := parseAuxv(b, atClkTck); !ok || v != 100 {
		t.Errorf("AT_CLKTCK = %d, %v; want 100, true", v, ok)
	}
	if _, ok := parseAuxv(b, 33); ok {
		t.Error("found a key that is not there")
	}
	if _, ok := parseAuxv(b[:7], 6); ok {
		t.Error("found a key in a truncated vector")
	}
	if ClockTicks() <= 0 {
		t.Error("ClockTicks not positive")
	}
}

func TestParseProcNetTCP(t *testing.T) {
	const tcp = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 123456 1 0000000000000000 100 0 0 10 0
   1: 0100007F:0DEB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 777 1 0000000000000000 100 0 0 10 0
   2: 0100007F:0BB8 0200007F:A1B2 01 00000000:00000000 00:00000000 00000000     0        0 888 1 0000000000000000 20 4 30 10 -1
`
	got, err := ParseProcNetTCP([]byte(tcp))
	if err != nil {
		t.Fatal(err)
	}
	want := []ListenSocket{{Port: 3000, Inode: 123456}, {Port: 3563, Inode: 777}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if _, err := ParseProcNetTCP([]byte("hdr\n 0: 0100007F 00000000:0000 0A 0 0 0 0 0 0 5\n")); err == nil {
		t.Error("no error for an address without a port")
	}
}

func TestSampleSelfAndFindListener(t *testing.T) {
	s, err := SampleProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.RSS <= 0 || s.Threads <= 0 {
		t.Errorf("self sample %+v", s)
	}
	fs := startFakeServer(t, fakeOptions{})
	pid, err := FindListenerPID(fs.port())
	if err != nil {
		t.Fatal(err)
	}
	if pid != os.Getpid() {
		t.Errorf("listener pid %d, want %d", pid, os.Getpid())
	}
}
