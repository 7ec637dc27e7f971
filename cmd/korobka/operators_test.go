package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/korobka/korobka/chat"
)

func TestOperators(t *testing.T) {
	backendsWith(t, map[string]string{"KOROBKA_BUSINESS_NAME": "Acme support"}, func(t *testing.T, e *env) {
		client := e.loginTest("+79990000002", "222222")
		op1 := e.loginTest("+79991234001", "333333")
		op2 := e.loginTest("+79991234002", "333333")
		for _, op := range []tokens{op1, op2} {
			if _, err := e.app.store.SetRole(context.Background(), op.User.Phone, chat.RoleOperator); err != nil {
				t.Fatal(err)
			}
		}
		d := e.want(e.do("POST", "/v1/business/dialog", client.AccessToken, map[string]any{}), 201).field(t, "id").(string)
		e.want(e.do("POST", "/v1/dialogs/"+d+"/messages", client.AccessToken, map[string]any{"client_id": "c1", "text": "Здравствуйте, вопрос по заказу"}), 201)

		// Operators read the client's words.
		if h := e.want(e.do("GET", "/v1/operator/dialogs/"+d+"/messages", op1.AccessToken, nil), 200); !bytes.Contains(h.body, []byte("вопрос по заказу")) {
			t.Fatalf("operator history: %s", h.body)
		}
		// Users are not operators.
		e.wantErr(e.do("GET", "/v1/operator/dialogs", client.AccessToken, nil), 403, "forbidden")
		e.wantErr(e.do("POST", "/v1/operator/dialogs/"+d+"/messages", client.AccessToken, map[string]any{"client_id": "x", "text": "x"}), 403, "forbidden")

		// Operators see the business's dialogs and assign them.
		var page struct {
			Dialogs []struct {
				ID         string
				AssigneeID string `json:"assignee_id"`
			}
		}
		e.want(e.do("GET", "/v1/operator/dialogs", op1.AccessToken, nil), 200).json(t, &page)
		if len(page.Dialogs) != 1 || page.Dialogs[0].ID != d || page.Dialogs[0].AssigneeID != "" {
			t.Fatalf("operator dialogs: %+v", page.Dialogs)
		}
		e.wantErr(e.do("PUT", "/v1/operator/dialogs/"+d+"/assignee", op1.AccessToken, map[string]any{"operator_id": client.User.ID}), 400, "not_operator")
		e.want(e.do("PUT", "/v1/operator/dialogs/"+d+"/assignee", op1.AccessToken, map[string]any{"operator_id": op1.User.ID}), 200)
		r := e.want(e.do("PUT", "/v1/operator/dialogs/"+d+"/assignee", op1.AccessToken, map[string]any{"operator_id": op2.User.ID}), 200)
		if r.field(t, "assignee_id") != op2.User.ID {
			t.Fatalf("reassign: %s", r.body)
		}
		e.want(e.do("GET", "/v1/operator/dialogs", op2.AccessToken, nil), 200).json(t, &page)
		if page.Dialogs[0].AssigneeID != op2.User.ID {
			t.Fatalf("assignee: %+v", page.Dialogs)
		}

		// Two operators answer as the business; the client sees the
		// business, the operators see who answered.
		m1 := e.want(e.do("POST", "/v1/operator/dialogs/"+d+"/messages", op2.AccessToken, map[string]any{"client_id": "o1", "text": "Добрый день! Смотрю ваш заказ."}), 201)
		m2 := e.want(e.do("POST", "/v1/operator/dialogs/"+d+"/canned", op1.AccessToken, map[string]any{"answer_id": "order-received", "client_id": "o2"}), 201)
		e.want(e.do("POST", "/v1/operator/dialogs/"+d+"/canned", op1.AccessToken, map[string]any{"answer_id": "order-received", "client_id": "o2"}), 200)
		e.wantErr(e.do("POST", "/v1/operator/dialogs/"+d+"/canned", op1.AccessToken, map[string]any{"answer_id": "nope", "client_id": "o3"}), 404, "no_document")
		dv := e.want(e.do("GET", "/v1/dialogs/"+d, client.AccessToken, nil), 200)
		if dv.field(t, "title") != "Acme support" {
			t.Fatalf("client's view: %s", dv.body)
		}
		if m1.field(t, "sender_id") == op2.User.ID || m1.field(t, "sender_id") != m2.field(t, "sender_id") {
			t.Fatalf("operators' messages are not the business's: %s %s", m1.body, m2.body)
		}
		var replies struct {
			Replies []struct {
				MessageID  string `json:"message_id"`
				OperatorID string `json:"operator_id"`
			}
		}
		e.want(e.do("GET", "/v1/operator/dialogs/"+d+"/replies", op1.AccessToken, nil), 200).json(t, &replies)
		if len(replies.Replies) != 2 || replies.Replies[0].OperatorID != op1.User.ID || replies.Replies[1].OperatorID != op2.User.ID ||
			replies.Replies[1].MessageID != m1.field(t, "id") {
			t.Fatalf("replies: %+v", replies.Replies)
		}
		e.wantErr(e.do("GET", "/v1/operator/dialogs/"+d+"/replies", client.AccessToken, nil), 403, "forbidden")
		e.wantErr(e.do("GET", "/v1/operator/canned", client.AccessToken, nil), 403, "forbidden")
		var canned struct {
			Answers []struct{ ID, Title, Text string }
		}
		e.want(e.do("GET", "/v1/operator/canned", op1.AccessToken, nil), 200).json(t, &canned)
		if len(canned.Answers) != 3 || canned.Answers[1].ID != "order-received" || canned.Answers[1].Title != "Заказ принят" ||
			canned.Answers[1].Text != m2.field(t, "text") {
			t.Fatalf("canned answers: %+v", canned.Answers)
		}

		// Who answered is on each message, for operators only.
		var hist struct {
			Messages []struct {
				ID             string
				Text           string
				AnsweredBy     string `json:"answered_by"`
				AnsweredByName string `json:"answered_by_name"`
			}
		}
		e.want(e.do("GET", "/v1/operator/dialogs/"+d+"/messages", op1.AccessToken, nil), 200).json(t, &hist)
		answered := map[string]string{}
		for _, m := range hist.Messages {
			answered[m.ID] = m.AnsweredBy
		}
		if len(hist.Messages) != 3 || answered[m1.field(t, "id").(string)] != op2.User.ID ||
			answered[m2.field(t, "id").(string)] != op1.User.ID || hist.Messages[0].AnsweredBy != "" {
			t.Fatalf("operator history, who answered: %+v", hist.Messages)
		}
		if c := e.want(e.do("GET", "/v1/dialogs/"+d+"/messages", client.AccessToken, nil), 200); bytes.Contains(c.body, []byte("answered_by")) ||
			bytes.Contains(c.body, []byte(op2.User.ID)) {
			t.Fatalf("the client sees who answered: %s", c.body)
		}

		// The assignment is stored (not read back from the audit log) and
		// each change is audited with the one it replaced.
		as, err := e.app.store.Assignments(context.Background(), []int64{mustID(t, d)})
		if err != nil || len(as) != 1 || chat.FormatID(as[0].OperatorID) != op2.User.ID || chat.FormatID(as[0].AssignedBy) != op1.User.ID {
			t.Fatalf("stored assignment: %+v %v", as, err)
		}
		var named struct {
			Dialogs []struct {
				AssigneeID   string  `json:"assignee_id"`
				AssigneeName string  `json:"assignee_name"`
				AssignedAt   *string `json:"assigned_at"`
			}
		}
		e.want(e.do("GET", "/v1/operator/dialogs", op1.AccessToken, nil), 200).json(t, &named)
		if len(named.Dialogs) != 1 || named.Dialogs[0].AssigneeID != op2.User.ID || named.Dialogs[0].AssignedAt == nil {
			t.Fatalf("assignee in the list: %+v", named.Dialogs)
		}
		es, err := e.app.store.Audit(context.Background(), chat.AuditFilter{Action: "dialog.assign", TargetType: "dialog", TargetID: d}, 10)
		if err != nil || len(es) != 2 || !bytes.Contains(es[0].Details, []byte(`"previous_operator_id":"`+op1.User.ID+`"`)) ||
			chat.FormatID(es[0].ActorID) != op1.User.ID {
			t.Fatalf("audit of the reassignment: %+v %v", es, err)
		}
		// A client's dialog with someone else is not the business's.
		other := e.loginTest("+79990000001", "111111")
		od := e.want(e.do("POST", "/v1/dialogs", client.AccessToken, map[string]any{"user_id": other.User.ID}), 201).field(t, "id").(string)
		e.wantErr(e.do("PUT", "/v1/operator/dialogs/"+od+"/assignee", op1.AccessToken, map[string]any{"operator_id": op1.User.ID}), 404, "not_found")
	})
}
