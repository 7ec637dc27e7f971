package httpapi

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/korobka/korobka/chat"
)

// Body deadlines. A client that sends its body slowly holds a connection
// and a descriptor for as long as the server keeps reading, so every body
// has a deadline: a fixed one for the small bodies (JSON, at most 1 MiB),
// and for uploads one that moves on while the client keeps a minimum
// average rate, so a large file on a slow but honest link still arrives.
const (
	DefaultBodyTimeout   = 10 * time.Second
	DefaultUploadMinRate = 16 << 10 // bytes per second, on average since the request began
	DefaultUploadGrace   = 10 * time.Second
)

// errBodyTimeout answers a body that did not arrive in time. The server
// closes the connection after it: what is left of the body is not read.
var errBodyTimeout = chat.Errorf(chat.KindTimeout, "request_timeout", "The request body arrived too slowly.")

const bodyKey = "korobka.body"

// deadlineBody is a request body with a read deadline on the connection
// (http.ResponseController). At the end of the body it lifts the deadline:
// the server goes on reading the connection in the background while the
// handler works, and a deadline passing then would cancel the request.
type deadlineBody struct {
	rc    *http.ResponseController
	body  io.ReadCloser
	start time.Time
	// minRate > 0 makes the deadline start+grace+read/minRate.
	minRate int64
	grace   time.Duration
	read    int64
	set     time.Time // the deadline last set
	done    bool
}

// limitBody puts every request body under the fixed deadline; streamed
// switches a route to the minimum rate. The WebSocket handshake has no
// body and keeps no deadline into the hijacked connection.
func (s *server) limitBody(c *gin.Context) {
	r := c.Request
	if r.Body == nil || r.Body == http.NoBody {
		c.Next()
		return
	}
	now := time.Now()
	b := &deadlineBody{rc: http.NewResponseController(c.Writer), body: r.Body, start: now}
	b.setDeadline(now.Add(s.bodyTimeout))
	r.Body = b
	c.Set(bodyKey, b)
	c.Next()
}

// streamed lets a route's body (an upload) take as long as it needs while
// it keeps the minimum rate.
func (s *server) streamed(c *gin.Context) {
	if v, ok := c.Get(bodyKey); ok {
		b := v.(*deadlineBody)
		b.minRate, b.grace = s.uploadMinRate, s.uploadGrace
		b.extend()
	}
	c.Next()
}

func (b *deadlineBody) setDeadline(t time.Time) {
	// ErrNotSupported (a recorder in tests, HTTP/2 without it) leaves
	// the body without a deadline, as before.
	_ = b.rc.SetReadDeadline(t)
	b.set = t
}

// extend moves the deadline of a streamed body to what its rate earns.
// It is set again only when it moved by a second or more: SetReadDeadline
// is cheap, but not free, and uploads are read in small pieces.
func (b *deadlineBody) extend() {
	if b.minRate <= 0 || b.done {
		return
	}
	earned := time.Duration(b.read * int64(time.Second) / b.minRate)
	if t := b.start.Add(b.grace + earned); t.Sub(b.set) >= time.Second || t.Before(b.set) {
		b.setDeadline(t)
	}
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	b.read += int64(n)
	switch {
	case err == io.EOF:
		b.done = true
		b.setDeadline(time.Time{})
	case err != nil && errors.Is(err, os.ErrDeadlineExceeded):
		return n, errBodyTimeout
	default:
		b.extend()
	}
	return n, err
}

func (b *deadlineBody) Close() error { return b.body.Close() }
