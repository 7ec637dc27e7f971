package httpapi

import (
	"context"
	"encoding/json"
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

// Forms takes submissions to form collections and lists them.
type Forms interface {
	SubmitForm(ctx context.Context, p chat.Principal, name string, raw json.RawMessage) (chat.FormReceipt, error)
	FormSubmissions(ctx context.Context, p chat.Principal, name string, before int64, limit int) ([]chat.FormSubmissionView, error)
}

// handleSubmitForm takes a form's fields as a JSON object.
func (s *server) handleSubmitForm(c *gin.Context) error {
	var raw json.RawMessage
	if err := decodeJSON(c, &raw, maxJSONBody); err != nil {
		return err
	}
	r, err := s.integ.SubmitForm(c.Request.Context(), principal(c), c.Param("collection"), raw)
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, r)
	return nil
}

// handleFormSubmissions pages a form's submissions, newest first.
func (s *server) handleFormSubmissions(c *gin.Context) error {
	before, err := queryInt(c, "before", 1, 1<<62)
	if err != nil {
		return err
	}
	limit, err := queryInt(c, "limit", 1, chat.MaxPage)
	if err != nil {
		return err
	}
	subs, err := s.integ.FormSubmissions(c.Request.Context(), principal(c), c.Param("collection"), before, int(limit))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"submissions": subs})
	return nil
}
