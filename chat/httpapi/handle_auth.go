package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/wire"
)

const principalKey = "korobka.principal"

// errMissingToken answers a route that needs a session and got none.
var errMissingToken = chat.Errorf(chat.KindUnauthorized, "missing_token", "Send Authorization: Bearer <access_token>.")

// authenticate resolves the bearer token and stores the caller in the
// context; without a live token the request ends with 401.
func (s *server) authenticate(c *gin.Context) {
	token, ok := bearer(c.GetHeader("Authorization"))
	if !ok {
		s.writeError(c, errMissingToken)
		return
	}
	p, err := s.svc.Authenticate(c.Request.Context(), token)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Set(principalKey, p)
	s.noteTimeZone(c, p)
	c.Next()
}

func bearer(h string) (string, bool) { return wire.BearerToken(h) }

// principal is the caller of an authenticated route.
func principal(c *gin.Context) chat.Principal {
	return c.MustGet(principalKey).(chat.Principal)
}

func (s *server) handleRequestCode(c *gin.Context) error {
	var req struct {
		Phone string `json:"phone"`
	}
	if err := decodeJSON(c, &req, maxJSONBody); err != nil {
		return err
	}
	sent, err := s.svc.RequestCode(c.Request.Context(), req.Phone, s.clientKey(c))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, sent)
	return nil
}

func (s *server) handleVerify(c *gin.Context) error {
	var req struct {
		Phone  string `json:"phone"`
		Code   string `json:"code"`
		Device string `json:"device"`
	}
	if err := decodeJSON(c, &req, maxJSONBody); err != nil {
		return err
	}
	if req.Device == "" {
		req.Device = c.GetHeader("User-Agent")
	}
	auth, err := s.svc.Verify(c.Request.Context(), req.Phone, req.Code, s.clientKey(c), req.Device)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, auth)
	return nil
}

func (s *server) handleRefresh(c *gin.Context) error {
	var req struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := decodeJSON(c, &req, maxJSONBody); err != nil {
		return err
	}
	auth, err := s.svc.Refresh(c.Request.Context(), req.RefreshToken)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, auth)
	return nil
}

func (s *server) handleLogout(c *gin.Context) error {
	if err := s.svc.Logout(c.Request.Context(), principal(c)); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}
