package httpapi

import (
	"context"
	"net/http"
	"sort"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/korobka/korobka/chat/wire"
)

// handleHealthz answers while the process serves at all.
func (s *server) handleHealthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// handleReadyz answers 200 only when every dependency answers, so a load
// balancer sends no traffic to a node that cannot serve it.
func (s *server) handleReadyz(c *gin.Context) error {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	names := make([]string, 0, len(s.ready))
	for name := range s.ready {
		names = append(names, name)
	}
	sort.Strings(names)
	checks := make(map[string]string, len(names))
	ok := true
	for _, name := range names {
		if err := s.ready[name](ctx); err != nil {
			s.log.WarnContext(ctx, "readiness check failed", "check", name, "err", err)
			checks[name] = "unavailable"
			ok = false
			continue
		}
		checks[name] = "ok"
	}
	if !ok {
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "checks": checks,
			"error": wire.ErrorDetail{Code: "not_ready", Message: "A dependency does not answer."}})
		return nil
	}
	c.JSON(http.StatusOK, gin.H{"status": "ok", "checks": checks})
	return nil
}
