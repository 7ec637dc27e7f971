package httpapi

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/korobka/korobka/chat"
)

// Webhooks is the admin API of webhooks and their delivery log.
type Webhooks interface {
	CreateWebhook(ctx context.Context, p chat.Principal, url string, events []string) (chat.WebhookView, error)
	Webhooks(ctx context.Context, p chat.Principal) ([]chat.WebhookView, error)
	DeleteWebhook(ctx context.Context, p chat.Principal, id int64) error
	WebhookDeliveries(ctx context.Context, p chat.Principal, id, before int64, limit int) ([]chat.WebhookDelivery, error)
}

func (s *server) handleWebhooks(c *gin.Context) error {
	hooks, err := s.integ.Webhooks(c.Request.Context(), principal(c))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"webhooks": hooks})
	return nil
}

// handleCreateWebhook answers the new webhook with its secret, shown once.
func (s *server) handleCreateWebhook(c *gin.Context) error {
	var req struct {
		URL    string   `json:"url"`
		Events []string `json:"events"`
	}
	if err := decodeJSON(c, &req, maxJSONBody); err != nil {
		return err
	}
	w, err := s.integ.CreateWebhook(c.Request.Context(), principal(c), req.URL, req.Events)
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, w)
	return nil
}

func (s *server) handleDeleteWebhook(c *gin.Context) error {
	id, err := chat.ParseID(c.Param("id"))
	if err != nil {
		return err
	}
	if err := s.integ.DeleteWebhook(c.Request.Context(), principal(c), id); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

// handleWebhookDeliveries pages a webhook's delivery log, newest first.
func (s *server) handleWebhookDeliveries(c *gin.Context) error {
	id, err := chat.ParseID(c.Param("id"))
	if err != nil {
		return err
	}
	before, err := queryInt(c, "before", 1, 1<<62)
	if err != nil {
		return err
	}
	limit, err := queryInt(c, "limit", 1, chat.MaxPage)
	if err != nil {
		return err
	}
	ds, err := s.integ.WebhookDeliveries(c.Request.Context(), principal(c), id, before, int(limit))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"deliveries": ds})
	return nil
}
