package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/korobka/korobka/chat"
)

// Group routes (docs/api.md, "Groups"). Creation is POST /v1/dialogs with
// "kind": "group" (handleOpenDialog).

var errInvalidKind = chat.Errorf(chat.KindInvalid, "invalid_kind", "kind is direct or group.")

func (s *server) createGroup(c *gin.Context, req chat.NewGroup) error {
	d, err := s.svc.CreateGroup(c.Request.Context(), principal(c), req)
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, d)
	return nil
}

// handleUpdateGroup renames a group, changes its photo or its history
// setting.
func (s *server) handleUpdateGroup(c *gin.Context) error {
	id, err := chat.ParseID(c.Param("id"))
	if err != nil {
		return err
	}
	var req struct {
		Title          *string `json:"title"`
		AvatarUploadID *string `json:"avatar_upload_id"`
		HistoryVisible *bool   `json:"history_visible"`
	}
	if err := decodeJSON(c, &req, maxJSONBody); err != nil {
		return err
	}
	d, err := s.svc.UpdateGroup(c.Request.Context(), principal(c), id, chat.GroupUpdate{
		Title: req.Title, AvatarUploadID: req.AvatarUploadID, HistoryVisible: req.HistoryVisible,
	})
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, d)
	return nil
}

func (s *server) handleMembers(c *gin.Context) error {
	id, err := chat.ParseID(c.Param("id"))
	if err != nil {
		return err
	}
	limit, err := queryInt(c, "limit", 1, chat.MaxPage)
	if err != nil {
		return err
	}
	page, err := s.svc.GroupMembers(c.Request.Context(), principal(c), id, c.Query("cursor"), int(limit))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, page)
	return nil
}

func (s *server) handleAddMembers(c *gin.Context) error {
	id, err := chat.ParseID(c.Param("id"))
	if err != nil {
		return err
	}
	var req struct {
		UserIDs []string `json:"user_ids"`
		UserID  string   `json:"user_id"` // one, as a screen's submit sends it
	}
	if err := decodeJSON(c, &req, maxJSONBody); err != nil {
		return err
	}
	if req.UserID != "" {
		req.UserIDs = append(req.UserIDs, req.UserID)
	}
	d, err := s.svc.AddMembers(c.Request.Context(), principal(c), id, req.UserIDs)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, d)
	return nil
}

// handleRemoveMember removes a member; removing oneself is leaving.
func (s *server) handleRemoveMember(c *gin.Context) error {
	id, user, err := dialogUser(c)
	if err != nil {
		return err
	}
	if err := s.svc.RemoveMember(c.Request.Context(), principal(c), id, user); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

func (s *server) handleLeave(c *gin.Context) error {
	id, err := chat.ParseID(c.Param("id"))
	if err != nil {
		return err
	}
	if err := s.svc.LeaveGroup(c.Request.Context(), principal(c), id); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

func (s *server) handleSetRole(c *gin.Context) error {
	id, user, err := dialogUser(c)
	if err != nil {
		return err
	}
	var req struct {
		Role string `json:"role"`
	}
	if err := decodeJSON(c, &req, maxJSONBody); err != nil {
		return err
	}
	if err := s.svc.SetMemberRole(c.Request.Context(), principal(c), id, user, chat.GroupRole(req.Role)); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

func (s *server) handleReaders(c *gin.Context) error {
	id, seq, err := dialogSeq(c)
	if err != nil {
		return err
	}
	limit, err := queryInt(c, "limit", 1, chat.MaxPage)
	if err != nil {
		return err
	}
	page, err := s.svc.Readers(c.Request.Context(), principal(c), id, seq, c.Query("cursor"), int(limit))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, page)
	return nil
}

// dialogUser reads the dialog id and user id of a member route.
func dialogUser(c *gin.Context) (int64, int64, error) {
	id, err := chat.ParseID(c.Param("id"))
	if err != nil {
		return 0, 0, err
	}
	user, err := chat.ParseID(c.Param("user"))
	if err != nil {
		return 0, 0, chat.ErrNotMember
	}
	return id, user, nil
}

// handlePin pins a message of a dialog (docs/api.md, "Pinned message").
func (s *server) handlePin(c *gin.Context) error {
	id, err := chat.ParseID(c.Param("id"))
	if err != nil {
		return err
	}
	var req struct {
		Seq *int64 `json:"seq"`
	}
	if err := decodeJSON(c, &req, maxJSONBody); err != nil {
		return err
	}
	if req.Seq == nil || *req.Seq <= 0 {
		return chat.ErrInvalidSeq
	}
	d, err := s.svc.PinMessage(c.Request.Context(), principal(c), id, *req.Seq)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, d)
	return nil
}

// handleUnpin removes a dialog's pin.
func (s *server) handleUnpin(c *gin.Context) error {
	id, err := chat.ParseID(c.Param("id"))
	if err != nil {
		return err
	}
	d, err := s.svc.UnpinMessage(c.Request.Context(), principal(c), id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, d)
	return nil
}
