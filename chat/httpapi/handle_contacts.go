package httpapi

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/korobka/korobka/chat"
)

// usersBody is the {"users":[...]} answer of the contact endpoints.
type usersBody struct {
	Users []chat.Profile `json:"users"`
}

func (s *server) handleSyncContacts(c *gin.Context) error {
	var req struct {
		Phones []string `json:"phones"`
		// Phone is one number, as a screen's form submits it (the
		// contacts screen's "add by number"): a form sends strings only.
		Phone *string `json:"phone"`
	}
	if err := decodeJSON(c, &req, maxSyncBody); err != nil {
		return err
	}
	if req.Phone != nil {
		if req.Phones != nil {
			return chat.Errorf(chat.KindInvalid, "invalid_phones", "Send either \"phones\" or \"phone\", not both.")
		}
		users, err := s.svc.AddContact(c.Request.Context(), principal(c), *req.Phone)
		if err != nil {
			return err
		}
		c.JSON(http.StatusOK, usersBody{users})
		return nil
	}
	if req.Phones == nil {
		return chat.Errorf(chat.KindInvalid, "invalid_phones", "Field \"phones\" must be an array of strings.")
	}
	users, err := s.svc.SyncContacts(c.Request.Context(), principal(c), req.Phones)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, usersBody{users})
	return nil
}

func (s *server) handleContacts(c *gin.Context) error {
	limit := 0
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > chat.DefaultContactsMax {
			return chat.Errorf(chat.KindInvalid, "invalid_limit", "limit is a number from 1 to %d.", chat.DefaultContactsMax)
		}
		limit = n
	}
	users, err := s.svc.Contacts(c.Request.Context(), principal(c), c.Query("q"), limit)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, usersBody{users})
	return nil
}
