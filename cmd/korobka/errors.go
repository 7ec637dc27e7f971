package main

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/korobka/korobka/chat"
)

// statusOf is the one table from error kinds to HTTP statuses.
var statusOf = map[chat.Kind]int{
	chat.KindInternal:     http.StatusInternalServerError,
	chat.KindInvalid:      http.StatusBadRequest,
	chat.KindUnauthorized: http.StatusUnauthorized,
	chat.KindForbidden:    http.StatusForbidden,
	chat.KindNotFound:     http.StatusNotFound,
	chat.KindConflict:     http.StatusConflict,
	chat.KindTooLarge:     http.StatusRequestEntityTooLarge,
	chat.KindUnsupported:  http.StatusUnsupportedMediaType,
	chat.KindRateLimited:  http.StatusTooManyRequests,
	chat.KindUnavailable:  http.StatusServiceUnavailable,
}

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
	status, ok := statusOf[e.Kind]
	if !ok {
		status = http.StatusInternalServerError
	}
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
