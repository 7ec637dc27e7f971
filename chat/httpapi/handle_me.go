package httpapi

import (
	"mime/multipart"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/korobka/korobka/chat"
)

func (s *server) handleMe(c *gin.Context) error {
	me, err := s.svc.Me(c.Request.Context(), principal(c))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, me)
	return nil
}

func (s *server) handleUpdateMe(c *gin.Context) error {
	var req struct {
		FirstName *string               `json:"first_name"`
		LastName  *string               `json:"last_name"`
		Presence  *chat.PresenceSetting `json:"presence"`
	}
	if err := decodeJSON(c, &req, maxJSONBody); err != nil {
		return err
	}
	me, err := s.svc.UpdateMe(c.Request.Context(), principal(c),
		chat.ProfileUpdate{FirstName: req.FirstName, LastName: req.LastName, Presence: req.Presence})
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, me)
	return nil
}

// handleAvatar replaces the caller's photo with the multipart field "file".
func (s *server) handleAvatar(c *gin.Context) error {
	tooLarge := chat.Errorf(chat.KindTooLarge, "image_too_large", "The image is too large.")
	return withFilePart(c, maxAvatarBody, tooLarge, func(part *multipart.Part) error {
		me, err := s.svc.SetAvatar(c.Request.Context(), principal(c), part)
		if err != nil {
			return err
		}
		c.JSON(http.StatusOK, me)
		return nil
	})
}

func (s *server) handleUser(c *gin.Context) error {
	id, err := chat.ParseID(c.Param("id"))
	if err != nil {
		return err
	}
	u, err := s.svc.User(c.Request.Context(), principal(c), id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, u)
	return nil
}
