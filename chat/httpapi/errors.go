package httpapi

import (
	"github.com/gin-gonic/gin"

	"github.com/korobka/korobka/chat/wire"
)

// writeError answers err in the contract's shape through the one writer the
// WebSocket handshake uses too (chat/wire), its message in the language of
// the request's Accept-Language. Internal causes are logged here, once,
// and never sent.
func (s *server) writeError(c *gin.Context, err error) {
	if wire.ServerFault(err) {
		s.log.ErrorContext(c.Request.Context(), "request failed",
			"method", c.Request.Method, "route", c.FullPath(), "err", err)
	}
	wire.WriteErrorFor(c.Writer, c.Request, err)
	c.Abort()
}
