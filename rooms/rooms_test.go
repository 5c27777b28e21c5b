package rooms

import (
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
)

func members(ix *Index[string, int], room string) []string {
	var out []string
	ix.Each(room, func(k string, _ int) bool { out = append(out, k); return true })
	sort.Strings(out)
	return out
}

func TestJoinLeave(t *testing.T) {
	ix := New[string, int]()
	ix.Join("a", 1, "red", "blue")
	ix.Join("b", 2, "red")
	if got := members(ix, "red"); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("red = %v", got)
	}
	if !ix.In("a", "blue") || ix.In("b", "blue") || ix.Len("red") != 2 {
		t.Fatal("membership wrong")
	}
	rooms := ix.RoomsOf("a")
	sort.Strings(rooms)
	if !slices.Equal(rooms, []string{"blue", "red"}) {
		t.Fatalf("rooms of a = %v", rooms)
	}
	ix.Leave("a", "red")
	if got := members(ix, "red"); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("red after leave = %v", got)
	}
	left := ix.LeaveAll("a")
	if !slices.Equal(left, []string{"blue"}) || ix.Len("blue") != 0 {
		t.Fatalf("LeaveAll = %v, blue has %d", left, ix.Len("blue"))
	}
	if got := ix.AllRooms(); !slices.Equal(got, []string{"red"}) {
		t.Fatalf("empty rooms not deleted: %v", got)
	}
	// Each stops when told to.
	ix.Join("c", 3, "red")
	n := 0
	ix.Each("red", func(string, int) bool { n++; return false })
	if n != 1 {
		t.Fatalf("Each visited %d after stop", n)
	}
}

func TestConcurrentJoinLeaveAndWalk(t *testing.T) {
	ix := New[string, int]()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				id := fmt.Sprintf("m%d-%d", g, i)
				ix.Join(id, i, "all", fmt.Sprintf("r%d", i%10))
				ix.Each("all", func(string, int) bool { return true })
				if i%2 == 0 {
					ix.LeaveAll(id)
				}
			}
		}()
	}
	wg.Wait()
	if got := ix.Len("all"); got != 8*250 {
		t.Fatalf("all has %d members, want %d", got, 8*250)
	}
	total := 0
	for r := 0; r < 10; r++ {
		total += ix.Len(fmt.Sprintf("r%d", r))
	}
	if total != 8*250 {
		t.Fatalf("rooms hold %d members, want %d", total, 8*250)
	}
}

func BenchmarkJoinLeave(b *testing.B) {
	ix := New[int, int]()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			ix.Join(i, i, "room")
			ix.Leave(i, "room")
			i++
		}
	})
}

func BenchmarkWalk100k(b *testing.B) {
	ix := New[int, int]()
	for i := 0; i < 100_000; i++ {
		ix.Join(i, i, "big")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		n := 0
		ix.Each("big", func(int, int) bool { n++; return true })
	}
}
