package main

import (
	"errors"
	"mime"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/korobka/korobka/chat"
)

// handleUpload streams the multipart field "file" into the upload store,
// like the avatar: nothing is buffered on disk by the HTTP layer.
func (s *server) handleUpload(c *gin.Context) error {
	mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return chat.Errorf(chat.KindUnsupported, "unsupported_media_type", "Send the file as multipart/form-data in the field \"file\".")
	}
	tooLarge := chat.Errorf(chat.KindTooLarge, "file_too_large", "The file is over 25 MiB.")
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxUploadBody)
	mr, err := c.Request.MultipartReader()
	if err != nil {
		return chat.Errorf(chat.KindInvalid, "invalid_multipart", "The multipart body cannot be read.")
	}
	for {
		part, err := mr.NextPart()
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return tooLarge
			}
			return chat.Errorf(chat.KindInvalid, "missing_file", "The multipart field \"file\" is missing.")
		}
		if part.FormName() != "file" {
			part.Close()
			continue
		}
		att, err := s.svc.Upload(c.Request.Context(), principal(c), part, part.FileName())
		part.Close()
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge
		}
		if err != nil {
			return err
		}
		c.JSON(http.StatusCreated, att)
		return nil
	}
}
