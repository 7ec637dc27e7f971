package httpapi

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/korobka/korobka/chat"
)

// handleRegisterDevice stores the caller's push token for this session.
func (s *server) handleRegisterDevice(c *gin.Context) error {
	var req struct {
		Platform string `json:"platform"`
		Token    string `json:"token"`
		AppID    string `json:"app_id"`
		Locale   string `json:"locale"`
		TimeZone string `json:"time_zone"`
	}
	if err := decodeJSON(c, &req, maxJSONBody); err != nil {
		return err
	}
	d, err := s.svc.RegisterDevice(c.Request.Context(), principal(c), chat.DeviceRequest{
		Platform: chat.Platform(req.Platform), Token: req.Token, AppID: req.AppID, Locale: req.Locale, TimeZone: req.TimeZone,
	})
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, d)
	return nil
}

// handleUnregisterDevice removes one of the caller's push tokens.
func (s *server) handleUnregisterDevice(c *gin.Context) error {
	if err := s.svc.UnregisterDevice(c.Request.Context(), principal(c), c.Param("token")); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

var errInvalidMute = chat.Errorf(chat.KindInvalid, "invalid_mute", `Send {"muted": true} or {"muted": false}, with "until" (RFC 3339) to mute for a while.`)

// handleMute mutes or unmutes one of the caller's dialogs.
func (s *server) handleMute(c *gin.Context) error {
	id, err := chat.ParseID(c.Param("id"))
	if err != nil {
		return err
	}
	var req struct {
		Muted *bool   `json:"muted"`
		Until *string `json:"until"`
	}
	if err := decodeJSON(c, &req, maxJSONBody); err != nil {
		return err
	}
	if req.Muted == nil {
		return errInvalidMute
	}
	var until *time.Time
	if req.Until != nil {
		t, err := time.Parse(time.RFC3339Nano, *req.Until)
		if err != nil {
			return chat.ErrInvalidUntil
		}
		until = &t
	}
	st, err := s.svc.MuteDialog(c.Request.Context(), principal(c), id, *req.Muted, until)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, st)
	return nil
}
