package server

import "testing"

// TestInlineHandlers runs the end-to-end tests of this package again with Options.InlineHandlers: the handlers
// of events and acks on the event loops. TestHandlersMayBlock is left out: blocking is what inline handlers may
// not do.
func TestInlineHandlers(t *testing.T) {
	tests := []struct {
		name string
		fn   func(*testing.T)
	}{
		{"ConnectEventAndAck", TestConnectEventAndAck},
		{"ServerAckTimeoutAndAnswer", TestServerAckTimeoutAndAnswer},
		{"BinaryBothWays", TestBinaryBothWays},
		{"RoomsAndBroadcast", TestRoomsAndBroadcast},
		{"BroadcastWithAcks", TestBroadcastWithAcks},
		{"MiddlewareAndNamespaces", TestMiddlewareAndNamespaces},
		{"InvalidPacketsCloseTheConnection", TestInvalidPacketsCloseTheConnection},
		{"ServerDisconnect", TestServerDisconnect},
		{"ConnectionStateRecovery", TestConnectionStateRecovery},
		{"ConcurrentClientsWithAcks", TestConcurrentClientsWithAcks},
		{"SeedHelloExample", TestSeedHelloExample},
		{"ReconnectRightAway", TestReconnectRightAway},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.fn)
	}
}
