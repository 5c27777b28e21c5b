// Package rooms keeps room membership: which members are in a room, and which rooms a member is in.
//
// Both directions are sharded maps, each shard with its own lock, so that joins, leaves and broadcasts on
// different rooms do not contend, and no lock is global. A broadcast walks a room under that room's shard read
// lock only.
package rooms

import (
	"hash/maphash"
	"slices"
	"sync"
)

const shardCount = 64

// Index maps rooms to their members and members to their rooms. K identifies a member; V is what a walk over a
// room yields for it (for the server, the socket itself). The zero value is not usable: call New.
type Index[K comparable, V any] struct {
	seed    maphash.Seed
	rooms   [shardCount]roomShard[K, V]
	members [shardCount]memberShard[K]
}

type roomShard[K comparable, V any] struct {
	mu    sync.RWMutex
	rooms map[string]map[K]V
}

// memberShard maps members to their rooms. A member is in few rooms, so a slice costs less memory than a set.
type memberShard[K comparable] struct {
	mu      sync.Mutex
	members map[K][]string
}

// New returns an empty index.
func New[K comparable, V any]() *Index[K, V] {
	ix := &Index[K, V]{seed: maphash.MakeSeed()}
	for i := range ix.rooms {
		ix.rooms[i].rooms = make(map[string]map[K]V)
		ix.members[i].members = make(map[K][]string)
	}
	return ix
}

func (ix *Index[K, V]) roomShard(room string) *roomShard[K, V] {
	return &ix.rooms[maphash.String(ix.seed, room)%shardCount]
}

func (ix *Index[K, V]) memberShard(k K) *memberShard[K] {
	return &ix.members[maphash.Comparable(ix.seed, k)%shardCount]
}

// Join adds member k, yielding v, to each room.
func (ix *Index[K, V]) Join(k K, v V, rooms ...string) {
	ms := ix.memberShard(k)
	ms.mu.Lock()
	list := ms.members[k]
	for _, r := range rooms {
		if !slices.Contains(list, r) {
			list = append(list, r)
		}
	}
	ms.members[k] = list
	ms.mu.Unlock()
	for _, r := range rooms {
		rs := ix.roomShard(r)
		rs.mu.Lock()
		m := rs.rooms[r]
		if m == nil {
			m = make(map[K]V)
			rs.rooms[r] = m
		}
		m[k] = v
		rs.mu.Unlock()
	}
}

// Leave removes member k from room. An empty room is deleted.
func (ix *Index[K, V]) Leave(k K, room string) {
	ms := ix.memberShard(k)
	ms.mu.Lock()
	if list, ok := ms.members[k]; ok {
		list = slices.DeleteFunc(list, func(r string) bool { return r == room })
		if len(list) == 0 {
			delete(ms.members, k)
		} else {
			ms.members[k] = list
		}
	}
	ms.mu.Unlock()
	ix.removeFromRoom(k, room)
}

// LeaveAll removes member k from every room, and returns the rooms it was in.
func (ix *Index[K, V]) LeaveAll(k K) []string {
	ms := ix.memberShard(k)
	ms.mu.Lock()
	left := ms.members[k]
	delete(ms.members, k)
	ms.mu.Unlock()
	for _, r := range left {
		ix.removeFromRoom(k, r)
	}
	return left
}

func (ix *Index[K, V]) removeFromRoom(k K, room string) {
	rs := ix.roomShard(room)
	rs.mu.Lock()
	if m := rs.rooms[room]; m != nil {
		delete(m, k)
		if len(m) == 0 {
			delete(rs.rooms, room)
		}
	}
	rs.mu.Unlock()
}

// RoomsOf returns the rooms member k is in.
func (ix *Index[K, V]) RoomsOf(k K) []string {
	ms := ix.memberShard(k)
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return slices.Clone(ms.members[k])
}

// In reports whether member k is in room.
func (ix *Index[K, V]) In(k K, room string) bool {
	rs := ix.roomShard(room)
	rs.mu.RLock()
	_, ok := rs.rooms[room][k]
	rs.mu.RUnlock()
	return ok
}

// Len returns the number of members of room.
func (ix *Index[K, V]) Len(room string) int {
	rs := ix.roomShard(room)
	rs.mu.RLock()
	n := len(rs.rooms[room])
	rs.mu.RUnlock()
	return n
}

// Each calls fn for each member of room, under the room's read lock: fn must not join or leave rooms of the same
// shard (collect first, then act). It stops when fn returns false.
func (ix *Index[K, V]) Each(room string, fn func(k K, v V) bool) {
	rs := ix.roomShard(room)
	rs.mu.RLock()
	defer rs.mu.RUnlock()
	for k, v := range rs.rooms[room] {
		if !fn(k, v) {
			return
		}
	}
}

// AllRooms returns every non-empty room.
func (ix *Index[K, V]) AllRooms() []string {
	var out []string
	for i := range ix.rooms {
		rs := &ix.rooms[i]
		rs.mu.RLock()
		for r := range rs.rooms {
			out = append(out, r)
		}
		rs.mu.RUnlock()
	}
	return out
}
