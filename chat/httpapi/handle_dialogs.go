package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/korobka/korobka/chat"
)

func (s *server) handleOpenDialog(c *gin.Context) error {
	var req struct {
		Kind           string   `json:"kind"`
		UserID         string   `json:"user_id"`
		Subject        string   `json:"subject"`
		Title          string   `json:"title"`
		MemberIDs      []string `json:"member_ids"`
		AvatarUploadID string   `json:"avatar_upload_id"`
	}
	if err := decodeJSON(c, &req, maxJSONBody); err != nil {
		return err
	}
	switch chat.DialogKind(req.Kind) {
	case chat.DialogGroup:
		return s.createGroup(c, chat.NewGroup{Title: req.Title, MemberIDs: req.MemberIDs, AvatarUploadID: req.AvatarUploadID})
	case "", chat.DialogDirect:
	default:
		return errInvalidKind
	}
	other, err := chat.ParseID(req.UserID)
	if err != nil {
		return chat.Errorf(chat.KindNotFound, "not_found", "No such user.")
	}
	d, created, err := s.svc.OpenDirect(c.Request.Context(), principal(c), other, req.Subject)
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

func (s *server) handleDialogs(c *gin.Context) error {
	limit, err := queryInt(c, "limit", 1, chat.MaxPage)
	if err != nil {
		return err
	}
	page, err := s.svc.Dialogs(c.Request.Context(), principal(c), c.Query("cursor"), int(limit))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, page)
	return nil
}

func (s *server) handleDialog(c *gin.Context) error {
	id, err := chat.ParseID(c.Param("id"))
	if err != nil {
		return err
	}
	d, err := s.svc.Dialog(c.Request.Context(), principal(c), id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, d)
	return nil
}

// handleHistory answers a page of history backwards (?before=) or, with
// ?since=, the messages changed after a change cursor, forwards.
func (s *server) handleHistory(c *gin.Context) error {
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
	var msgs []chat.MessageView
	if _, ok := c.GetQuery("since"); ok {
		since, err := queryInt(c, "since", 0, 1<<62)
		if err != nil {
			return err
		}
		if before != 0 {
			return chat.Errorf(chat.KindInvalid, "invalid_since", "Use since or before, not both.")
		}
		msgs, err = s.svc.Changes(c.Request.Context(), principal(c), id, since, int(limit))
		if err != nil {
			return err
		}
	} else if msgs, err = s.svc.History(c.Request.Context(), principal(c), id, before, int(limit)); err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"messages": msgs})
	return nil
}

func (s *server) handleSend(c *gin.Context) error {
	id, err := chat.ParseID(c.Param("id"))
	if err != nil {
		return err
	}
	var req struct {
		ClientID    string          `json:"client_id"`
		Text        string          `json:"text"`
		Attachments json.RawMessage `json:"attachments"`
		Preview     *bool           `json:"preview"`
		ReplyTo     int64           `json:"reply_to"`
		Entities    json.RawMessage `json:"entities"`
	}
	if err := decodeJSON(c, &req, maxJSONBody); err != nil {
		return err
	}
	m, created, err := s.svc.Send(c.Request.Context(), principal(c), 0, chat.SendRequest{
		DialogID: id, ClientID: req.ClientID, Text: req.Text, Attachments: req.Attachments,
		NoPreview: req.Preview != nil && !*req.Preview,
		ReplyTo:   req.ReplyTo, Entities: req.Entities,
	})
	if err != nil {
		return err
	}
	// 201 only when this request stored the message; a retry answers the
	// stored one with 200.
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	c.JSON(status, m)
	return nil
}

func (s *server) handleEdit(c *gin.Context) error {
	id, seq, err := dialogSeq(c)
	if err != nil {
		return err
	}
	var req struct {
		Text string `json:"text"`
	}
	if err := decodeJSON(c, &req, maxJSONBody); err != nil {
		return err
	}
	m, err := s.svc.EditMessage(c.Request.Context(), principal(c), id, seq, req.Text)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, m)
	return nil
}

func (s *server) handleDelete(c *gin.Context) error {
	id, seq, err := dialogSeq(c)
	if err != nil {
		return err
	}
	m, err := s.svc.DeleteMessage(c.Request.Context(), principal(c), id, seq)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, m)
	return nil
}

func (s *server) handleRead(c *gin.Context) error {
	id, err := chat.ParseID(c.Param("id"))
	if err != nil {
		return err
	}
	var req struct {
		Seq int64 `json:"seq"`
	}
	if err := decodeJSON(c, &req, maxJSONBody); err != nil {
		return err
	}
	r, err := s.svc.Read(c.Request.Context(), principal(c), id, req.Seq)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, r)
	return nil
}

// dialogSeq reads the dialog id and message seq of a message route.
func dialogSeq(c *gin.Context) (int64, int64, error) {
	id, err := chat.ParseID(c.Param("id"))
	if err != nil {
		return 0, 0, err
	}
	seq, err := strconv.ParseInt(c.Param("seq"), 10, 64)
	if err != nil || seq <= 0 {
		return 0, 0, chat.ErrNotFound
	}
	return id, seq, nil
}

// queryInt reads an optional integer query parameter within [lo, hi]; an
// absent one is 0.
func queryInt(c *gin.Context, name string, lo, hi int64) (int64, error) {
	v := c.Query(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, chat.Errorf(chat.KindInvalid, "invalid_"+name, "%s is a number from %d to %d.", name, lo, hi)
	}
	return n, nil
}

// handleDialogMedia is a page of the dialog's media gallery:
// ?kind=photo|video|file (required), ?cursor= from the previous page,
// ?limit= up to chat.MaxGalleryPage.
func (s *server) handleDialogMedia(c *gin.Context) error {
	id, err := chat.ParseID(c.Param("id"))
	if err != nil {
		return err
	}
	limit, err := queryInt(c, "limit", 1, chat.MaxGalleryPage)
	if err != nil {
		return err
	}
	page, err := s.svc.DialogMedia(c.Request.Context(), principal(c), id, c.Query("kind"), c.Query("cursor"), int(limit))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, page)
	return nil
}
