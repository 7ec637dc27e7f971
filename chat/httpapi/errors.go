package httpapi

import (
	"github.com/gin-gonic/gin"

	"github.com/korobka/korobka/chat/wire"
)

// writeError answers err in the contract's shape through the one writer the
// WebSocket handshake uses too (chat/wire). Internal causes are logged
// here, once, and never sent.
func (s *server) writeError(c *gin.Context, err error) {
	if wire.ServerFault(err) {
		s.log.ErrorContext(c.Request.Context(), "request failed",
			"method", c.Request.Method, "route", c.FullPath(), "err", err)
	}
	wire.WriteError(c.Writer, err)
	c.Abort()
}
