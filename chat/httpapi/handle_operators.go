package httpapi

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/korobka/korobka/chat"
)

// Operators is the operators' side of the business's dialogs: answering
// as the business, assignments, canned answers, who answered.
type Operators interface {
	OperatorDialogs(ctx context.Context, p chat.Principal, cursor string, limit int) (chat.OperatorPage, error)
	AssignDialog(ctx context.Context, p chat.Principal, dialogID, operatorID int64) (chat.OperatorDialog, error)
	OperatorSend(ctx context.Context, p chat.Principal, req chat.SendRequest) (chat.MessageView, bool, error)
	SendCanned(ctx context.Context, p chat.Principal, dialogID int64, answerID, clientID string) (chat.MessageView, bool, error)
	CannedAnswers(ctx context.Context, p chat.Principal) ([]chat.CannedAnswer, error)
	OperatorReplies(ctx context.Context, p chat.Principal, dialogID int64, limit int) ([]chat.OperatorReply, error)
	OperatorHistory(ctx context.Context, p chat.Principal, dialogID, before int64, limit int) ([]chat.OperatorMessage, error)
}

// handleOperatorHistory pages a business dialog's messages backwards.
func (s *server) handleOperatorHistory(c *gin.Context) error {
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
	msgs, err := s.integ.OperatorHistory(c.Request.Context(), principal(c), id, before, int(limit))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"messages": msgs})
	return nil
}

func (s *server) handleOperatorDialogs(c *gin.Context) error {
	limit, err := queryInt(c, "limit", 1, chat.MaxPage)
	if err != nil {
		return err
	}
	page, err := s.integ.OperatorDialogs(c.Request.Context(), principal(c), c.Query("cursor"), int(limit))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, page)
	return nil
}

func (s *server) handleAssignDialog(c *gin.Context) error {
	id, err := chat.ParseID(c.Param("id"))
	if err != nil {
		return err
	}
	var req struct {
		OperatorID string `json:"operator_id"`
	}
	if err := decodeJSON(c, &req, maxJSONBody); err != nil {
		return err
	}
	op, err := chat.ParseID(req.OperatorID)
	if err != nil {
		return chat.ErrNotOperator
	}
	d, err := s.integ.AssignDialog(c.Request.Context(), principal(c), id, op)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, d)
	return nil
}

// sent answers a send: 201 stored, 200 a retry's stored message.
func sent(c *gin.Context, m chat.MessageView, created bool) {
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	c.JSON(status, m)
}

func (s *server) handleOperatorSend(c *gin.Context) error {
	id, err := chat.ParseID(c.Param("id"))
	if err != nil {
		return err
	}
	var req struct {
		ClientID string `json:"client_id"`
		Text     string `json:"text"`
	}
	if err := decodeJSON(c, &req, maxJSONBody); err != nil {
		return err
	}
	m, created, err := s.integ.OperatorSend(c.Request.Context(), principal(c), chat.SendRequest{DialogID: id, ClientID: req.ClientID, Text: req.Text})
	if err != nil {
		return err
	}
	sent(c, m, created)
	return nil
}

func (s *server) handleSendCanned(c *gin.Context) error {
	id, err := chat.ParseID(c.Param("id"))
	if err != nil {
		return err
	}
	var req struct {
		AnswerID string `json:"answer_id"`
		ClientID string `json:"client_id"`
	}
	if err := decodeJSON(c, &req, maxJSONBody); err != nil {
		return err
	}
	m, created, err := s.integ.SendCanned(c.Request.Context(), principal(c), id, req.AnswerID, req.ClientID)
	if err != nil {
		return err
	}
	sent(c, m, created)
	return nil
}

// handleCannedAnswers lists the canned answers an operator may send.
func (s *server) handleCannedAnswers(c *gin.Context) error {
	as, err := s.integ.CannedAnswers(c.Request.Context(), principal(c))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"answers": as})
	return nil
}

func (s *server) handleOperatorReplies(c *gin.Context) error {
	id, err := chat.ParseID(c.Param("id"))
	if err != nil {
		return err
	}
	limit, err := queryInt(c, "limit", 1, chat.MaxPage)
	if err != nil {
		return err
	}
	rs, err := s.integ.OperatorReplies(c.Request.Context(), principal(c), id, int(limit))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"replies": rs})
	return nil
}
