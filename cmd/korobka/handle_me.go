package main

import (
	"errors"
	"mime"
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
		FirstName *string `json:"first_name"`
		LastName  *string `json:"last_name"`
	}
	if err := decodeJSON(c, &req, maxJSONBody); err != nil {
		return err
	}
	me, err := s.svc.UpdateMe(c.Request.Context(), principal(c),
		chat.ProfileUpdate{FirstName: req.FirstName, LastName: req.LastName})
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, me)
	return nil
}

// handleAvatar streams the multipart field "file" into the image store
// without buffering the upload on disk.
func (s *server) handleAvatar(c *gin.Context) error {
	mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return chat.Errorf(chat.KindUnsupported, "unsupported_media_type", "Send the image as multipart/form-data in the field \"file\".")
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxAvatarBody)
	mr, err := c.Request.MultipartReader()
	if err != nil {
		return chat.Errorf(chat.KindInvalid, "invalid_multipart", "The multipart body cannot be read.")
	}
	for {
		part, err := mr.NextPart()
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return chat.Errorf(chat.KindTooLarge, "image_too_large", "The image is too large.")
			}
			return chat.Errorf(chat.KindInvalid, "missing_file", "The multipart field \"file\" is missing.")
		}
		if part.FormName() != "file" {
			part.Close()
			continue
		}
		me, err := s.svc.SetAvatar(c.Request.Context(), principal(c), part)
		part.Close()
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return chat.Errorf(chat.KindTooLarge, "image_too_large", "The image is too large.")
		}
		if err != nil {
			return err
		}
		c.JSON(http.StatusOK, me)
		return nil
	}
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
