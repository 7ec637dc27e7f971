package httpapi

import (
	"github.com/gin-gonic/gin"

	"github.com/korobka/korobka/chat"
)

// tzHeader carries the shell's IANA time zone on every request
// (docs/api.md, "Time zones"); rendered screens show times in it.
const tzHeader = "X-Korobka-TZ"

// tzKey is where timeZone leaves the request's checked zone name.
const tzKey = "korobka.tz"

// timeZone checks X-Korobka-TZ on every /v1 request: absent is fine (the
// server's default zone applies), anything but an IANA zone name is 400
// invalid_time_zone before any other work.
func (s *server) timeZone(c *gin.Context) {
	tz := c.GetHeader(tzHeader)
	if tz == "" {
		c.Next()
		return
	}
	if _, err := chat.ParseTimeZone(tz); err != nil {
		s.writeError(c, err)
		return
	}
	c.Set(tzKey, tz)
	c.Next()
}

// requestTZ is the request's checked X-Korobka-TZ, "" when it sent none.
func requestTZ(c *gin.Context) string { return c.GetString(tzKey) }

// noteTimeZone keeps the caller's zone in their profile; the Service
// writes only when it changed, so this costs no write per request.
func (s *server) noteTimeZone(c *gin.Context, p chat.Principal) {
	if tz := requestTZ(c); tz != "" {
		s.svc.NoteTimeZone(c.Request.Context(), p, tz)
	}
}
