package httpapi

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/korobka/korobka/chat"
)

// Business is a client's side of the business: the dialog with it.
type Business interface {
	OpenBusinessDialog(ctx context.Context, p chat.Principal, subject string) (chat.DialogView, bool, error)
}

// handleBusinessDialog opens (or finds) the caller's dialog with the
// business about an optional subject.
func (s *server) handleBusinessDialog(c *gin.Context) error {
	var req struct {
		Subject string `json:"subject"`
	}
	if err := decodeJSON(c, &req, maxJSONBody); err != nil {
		return err
	}
	d, created, err := s.integ.OpenBusinessDialog(c.Request.Context(), principal(c), req.Subject)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	c.JSON(status, d)
	return nil
}
