package ws

import (
	"bufio"
	"net"
	"net/http"
	"syscall"

	"github.com/gorilla/websocket"
)

// hijacker hands gorilla a read buffer of the gateway's own when it
// hijacks the connection, so that the reader can tell whether a frame is
// already buffered before it waits for the socket (awaitFrame). gorilla
// reads through the hijacked reader when Upgrader.ReadBufferSize is 0 and
// the reader holds more than 256 bytes.
type hijacker struct {
	http.ResponseWriter
	br *bufio.Reader // set by Hijack
}

// Hijack hijacks the connection under w and puts a readBufferSize reader
// in front of it. Bytes the client sent ahead of the handshake's answer
// stay in the server's reader, which goes to gorilla as it is: gorilla
// refuses such a handshake.
func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil || brw.Reader.Buffered() > 0 {
		return conn, brw, err
	}
	h.br = bufio.NewReaderSize(conn, readBufferSize)
	return conn, bufio.NewReadWriter(h.br, brw.Writer), nil
}

// Unwrap lets http.ResponseController reach the server's writer.
func (h *hijacker) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// awaitFrame parks the reader until the client sends something, while
// nothing is buffered: a wait for the socket to become readable, which
// needs a fraction of the stack of gorilla's read (see readLoop). It
// returns at once when it cannot wait that way (no socket of the kernel,
// a platform without a peek); a deadline or a close ends the wait, and the
// read that follows reports it.
func (c *conn) awaitFrame() {
	if c.br == nil || c.br.Buffered() > 0 || peekReadable == nil {
		return
	}
	sc, ok := c.ws.NetConn().(syscall.Conn)
	if !ok {
		return
	}
	if rc, err := sc.SyscallConn(); err == nil {
		rc.Read(peekReadable)
	}
}

// takePong reads a client's pong at the head of the read buffer itself
// and reports whether there was one. gorilla reads the control frames
// that come before a message inside its read of that message, so after a
// pong, which every idle client sends a PingInterval after it connects,
// the reader would stay parked in gorilla's read instead of awaitFrame.
// Only a whole, well-formed pong is taken (RFC 6455 section 5.5: FIN,
// no RSV bits, masked, at most 125 bytes); anything else is left to
// gorilla, which also refuses what is malformed. The reader calls it
// between messages, where gorilla expects a frame header.
func (c *conn) takePong() bool {
	if c.br == nil {
		return false
	}
	h, err := c.br.Peek(2)
	if err != nil || h[0] != 0x80|websocket.PongMessage || h[1]&0x80 == 0 || h[1]&0x7f > 125 {
		return false
	}
	n := 2 + 4 + int(h[1]&0x7f) // header, mask key, payload
	if _, err := c.br.Peek(n); err != nil {
		return false
	}
	c.br.Discard(n)
	c.ponged("")
	return true
}
