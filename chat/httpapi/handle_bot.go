package httpapi

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/korobka/korobka/chat"
)

// Bots is the bot API's keys (created and revoked by admins) and its
// authentication: a key acts as the business account.
type Bots interface {
	CreateAPIKey(ctx context.Context, p chat.Principal, name string) (chat.APIKeyView, error)
	APIKeys(ctx context.Context, p chat.Principal) ([]chat.APIKeyView, error)
	RevokeAPIKey(ctx context.Context, p chat.Principal, id int64) error
	AuthenticateBot(ctx context.Context, key string) (chat.Principal, error)
	OpenDirect(ctx context.Context, p chat.Principal, userID int64, subject string) (chat.DialogView, bool, error)
}

// botAuth authenticates a bot API request by its key (Authorization:
// Bearer kbk_...). Session tokens are not keys: they answer 401 here, as
// keys do on every other route.
func (s *server) botAuth(c *gin.Context) {
	key, ok := bearer(c.GetHeader("Authorization"))
	if !ok {
		s.writeError(c, errMissingToken)
		return
	}
	p, err := s.integ.AuthenticateBot(c.Request.Context(), key)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Set(principalKey, p)
	c.Next()
}

func (s *server) handleAPIKeys(c *gin.Context) error {
	keys, err := s.integ.APIKeys(c.Request.Context(), principal(c))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"keys": keys})
	return nil
}

// handleCreateAPIKey answers the new key, shown this once.
func (s *server) handleCreateAPIKey(c *gin.Context) error {
	var req struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(c, &req, maxJSONBody); err != nil {
		return err
	}
	k, err := s.integ.CreateAPIKey(c.Request.Context(), principal(c), req.Name)
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, k)
	return nil
}

func (s *server) handleRevokeAPIKey(c *gin.Context) error {
	id, err := chat.ParseID(c.Param("id"))
	if err != nil {
		return err
	}
	if err := s.integ.RevokeAPIKey(c.Request.Context(), principal(c), id); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

// handleBotOpenDialog opens (or finds) the business's dialog with a user,
// so a bot can write first.
func (s *server) handleBotOpenDialog(c *gin.Context) error {
	id, err := chat.ParseID(c.Param("id"))
	if err != nil {
		return chat.Errorf(chat.KindNotFound, "not_found", "No such user.")
	}
	var req struct {
		Subject string `json:"subject"`
	}
	if err := decodeJSON(c, &req, maxJSONBody); err != nil {
		return err
	}
	d, created, err := s.integ.OpenDirect(c.Request.Context(), principal(c), id, req.Subject)
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
