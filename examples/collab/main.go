// Command collab is a room-per-document collaboration server: a client opens a document (joining its room and
// getting its current text in the acknowledgement), and each edit is stored and sent to the document's other
// editors.
package main

import (
	"context"
	"flag"
	"log"
	"os/signal"
	"sync"
	"syscall"

	"github.com/fastio/fastio/server"
)

func main() {
	addr := flag.String("addr", ":3000", "listen address")
	flag.Parse()
	io, err := newServer(*addr)
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log.Fatal(io.Serve(ctx))
}

// documents holds the text of each document, with a version per document.
type documents struct {
	mu   sync.Mutex
	text map[string]string
	rev  map[string]int
}

func (d *documents) get(id string) (string, int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.text[id], d.rev[id]
}

func (d *documents) set(id, text string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.text[id] = text
	d.rev[id]++
	return d.rev[id]
}

func room(doc string) string { return "doc:" + doc }

func newServer(addr string) (*server.Server, error) {
	io, err := server.New(server.Options{Addr: addr})
	if err != nil {
		return nil, err
	}
	docs := &documents{text: map[string]string{}, rev: map[string]int{}}
	ns := io.Of("/")
	// "open" (docID, ack): join the document's room; the ack carries its text and revision.
	ns.On("open", func(e *server.Event) {
		id, err := e.Args.String(0)
		if err != nil || id == "" {
			_ = e.Ack(map[string]any{"error": "document id required"})
			return
		}
		e.Socket().Join(room(id))
		text, rev := docs.get(id)
		_ = e.Ack(map[string]any{"text": text, "rev": rev})
	})
	// "close" (docID): leave the document's room.
	ns.On("close", func(e *server.Event) {
		if id, err := e.Args.String(0); err == nil {
			e.Socket().Leave(room(id))
		}
	})
	// "edit" (docID, text): store it and send it to the document's other editors.
	ns.On("edit", func(e *server.Event) {
		id, err1 := e.Args.String(0)
		text, err2 := e.Args.String(1)
		if err1 != nil || err2 != nil {
			return
		}
		rev := docs.set(id, text)
		_ = e.Socket().To(room(id)).Emit("edited", id, text, rev)
		_ = e.Ack(rev)
	})
	return io, nil
}
