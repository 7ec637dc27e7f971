package main

import (
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/korobka/korobka/chat"
)

// errorBody is the contract's error shape.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeError answers err in the contract's shape. Internal causes are
// logged here, once, and never sent.
func (s *server) writeError(c *gin.Context, err error) {
	e := chat.ErrorOf(err)
	status := chat.HTTPStatus(e.Kind)
	if status >= 500 {
		s.log.ErrorContext(c.Request.Context(), "request failed",
			"method", c.Request.Method, "route", c.FullPath(), "code", e.Code, "err", err)
	}
	if e.Kind == chat.KindRateLimited {
		secs := int((e.RetryAfter + time.Second - 1) / time.Second)
		if secs < 1 {
			secs = 1
		}
		c.Header("Retry-After", strconv.Itoa(secs))
	}
	if e.Kind == chat.KindUnauthorized {
		c.Header("WWW-Authenticate", `Bearer realm="korobka"`)
	}
	c.AbortWithStatusJSON(status, errorBody{errorDetail{e.Code, e.Message}})
}
