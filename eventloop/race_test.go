//go:build race

package eventloop

// raceEnabled: the race detector makes sync.Pool drop items at random, so allocation gates cannot hold.
const raceEnabled = true
