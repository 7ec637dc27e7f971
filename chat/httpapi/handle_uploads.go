package httpapi

import (
	"errors"
	"mime"
	"mime/multipart"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/korobka/korobka/chat"
)

// handleUpload stores a chat attachment: the multipart field "file". The
// body may hold the largest cap (a video's); the store then applies each
// type's own (file_too_large, video_too_large).
func (s *server) handleUpload(c *gin.Context) error {
	tooLarge := chat.Errorf(chat.KindTooLarge, "file_too_large", "The upload is over %d MiB.", s.maxUpload>>20)
	return withFilePart(c, s.maxUpload+multipartSlack, tooLarge, func(part *multipart.Part) error {
		att, err := s.svc.Upload(c.Request.Context(), principal(c), part, part.FileName())
		if err != nil {
			return err
		}
		c.JSON(http.StatusCreated, att)
		return nil
	})
}

// withFilePart streams the multipart field "file" of a body of at most max
// bytes into use, so nothing is buffered on disk by the HTTP layer. A body
// over the cap, wherever the reader notices it, answers tooLarge.
func withFilePart(c *gin.Context, max int64, tooLarge error, use func(*multipart.Part) error) error {
	mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return chat.Errorf(chat.KindUnsupported, "unsupported_media_type", "Send the file as multipart/form-data in the field \"file\".")
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, max)
	mr, err := c.Request.MultipartReader()
	if err != nil {
		return chat.Errorf(chat.KindInvalid, "invalid_multipart", "The multipart body cannot be read.")
	}
	var mbe *http.MaxBytesError
	for {
		part, err := mr.NextPart()
		if errors.As(err, &mbe) {
			return tooLarge
		}
		if errors.Is(err, errBodyTimeout) {
			return errBodyTimeout
		}
		if err != nil {
			return chat.Errorf(chat.KindInvalid, "missing_file", "The multipart field \"file\" is missing.")
		}
		if part.FormName() != "file" {
			part.Close()
			continue
		}
		err = use(part)
		part.Close()
		if errors.As(err, &mbe) {
			return tooLarge
		}
		return err
	}
}
